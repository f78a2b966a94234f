"""Whole runs side by side, interleaved, each on a fresh copy, measured from outside.

    python benchmarks/side_by_side.py --db ~/.cache/persona-bench/prod-seed1-scale1.0-v3.db \\
        --work /some/scratch/folder --rounds 3 --tasks 0,2,4 \\
        [--other "production=/path/to/persona-job --db {db} --now {now} --config {config} \\
                  --parallel false"]

Every round runs each configuration once, in the same order, on its own fresh (flushed) copy of
``--db``: ``persona-bench classify`` for each ``--tasks`` count (0 = serial), then each
``--other`` command template (``{db}``, ``{now}``, ``{config}`` are filled in; a build of
another implementation, for instance). It prints one line per run and, per configuration, the
median wall and CPU time (user + system, children included) and the largest peak PSS of the
process tree, with the ratio of each median wall to the first configuration's. Ratios taken
within one such run are the figures to quote: the machine's load moves every absolute figure.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fixtures import DEFAULT_CONFIG  # noqa: E402
from harness.measure import run_measured  # noqa: E402
from persona_bench.kernel.sqlitefile import connect_ro  # noqa: E402


def _fresh_copy(src: Path, dst: Path) -> None:
    for old in dst.parent.glob(f"{dst.name}*"):
        old.unlink()
    shutil.copyfile(src, dst)
    fd = os.open(dst, os.O_RDONLY)  # no writeback of the copy during the timed run
    os.fsync(fd)
    os.close(fd)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, type=Path, help="the source database (copied)")
    parser.add_argument("--work", required=True, type=Path, help="folder for the copies")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tasks", default="0,2", help="our task counts (0 = serial)")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--now", type=int, help="default: the fixture's persona_bench_meta now")
    parser.add_argument("--other", action="append", default=[], help="LABEL=COMMAND TEMPLATE")
    args = parser.parse_args()
    now = args.now
    if now is None:
        conn = connect_ro(args.db)
        (now,) = conn.execute("SELECT value FROM persona_bench_meta WHERE key = 'now'").fetchone()
        conn.close()
    args.work.mkdir(parents=True, exist_ok=True)
    copy = args.work / "side-by-side.db"
    configs: list[tuple[str, list[str]]] = []
    for tasks in (int(t) for t in args.tasks.split(",")):
        label = "ours serial" if tasks == 0 else f"ours tasks={tasks}"
        cmd = [sys.executable, "-m", "persona_bench", "classify", "--db", str(copy)]
        cmd += ["--now", str(now), "--config", str(args.config), "--tasks", str(tasks)]
        configs.append((label, cmd))
    for spec in args.other:
        label, _, template = spec.partition("=")
        filled = template.format(db=copy, now=now, config=args.config)
        configs.append((label, shlex.split(filled)))
    runs: dict[str, list[tuple[float, float, int]]] = {label: [] for label, _ in configs}
    for r in range(args.rounds):
        for label, cmd in configs:
            _fresh_copy(args.db, copy)
            m = run_measured(cmd, timeout_s=3600, cwd=ROOT)
            if m.exit_code != 0:
                print(f"{label}: exit {m.exit_code}\n{m.stderr_tail}", file=sys.stderr)
                return 1
            cpu = m.cpu_user_s + m.cpu_system_s
            runs[label].append((m.wall_s, cpu, m.peak_pss_bytes))
            print(f"round {r + 1} {label:24s} wall {m.wall_s:7.2f} s  cpu {cpu:7.2f} s", flush=True)
    for old in args.work.glob(f"{copy.name}*"):
        old.unlink()
    first = statistics.median(w for w, _, _ in runs[configs[0][0]])
    print(
        f"\nmedians of {args.rounds} interleaved rounds (ratio: {configs[0][0]} wall / this wall)"
    )
    for label, values in runs.items():
        wall = statistics.median(w for w, _, _ in values)
        cpu = statistics.median(c for _, c, _ in values)
        pss = max(p for _, _, p in values) / 2**20
        print(
            f"{label:24s} wall {wall:7.2f} s  cpu {cpu:7.2f} s  peak PSS {pss:6.0f} MiB  "
            f"{first / wall:5.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
