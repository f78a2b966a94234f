"""Scaling: whole runs on the ``stress`` fixture at several scales (opt-in: big and slow).

    PERSONA_BENCH_SCALES=1,2,5,10 nox -s bench -- -k stress

Off unless ``PERSONA_BENCH_SCALES`` lists scales (then ``nox -s bench`` stays ~5 minutes).
Options, all environment variables:

- ``PERSONA_BENCH_SCALES``: the stress scales, e.g. ``1,2,5,10`` (stress x10 is about 10 GB and
  took ~5 minutes to generate; every round classifies a fresh copy, so the folder needs room
  for the fixture and one copy of it: ~20 GB at x10).
- ``PERSONA_BENCH_SCALING_TASKS``: task counts, default ``0,2`` (serial and the best count on
  2 cores, as the prod benchmarks show).
- ``PERSONA_BENCH_SCALING_DIR``: where the fixtures are generated and copied (default: the
  fixture cache, ``fixtures.generator.default_cache_dir()``).
- ``PERSONA_BENCH_SCALING_ROUNDS``: rounds per benchmark (default 1).

Each round runs ``persona-bench classify`` as a child process measured from outside
(``harness.measure``): the benchmark's time is its wall time, and ``extra_info`` holds its CPU
time (user + system, workers included) and the peak summed PSS of its process tree, per round.
docs/scaling.md has the table this produced.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from fixtures.generator import default_cache_dir, ensure_fixture
from harness.measure import run_measured
from persona_bench.kernel.sqlitefile import connect_ro


def _numbers(name: str, default: str, kind: type = int) -> list[Any]:
    raw = os.environ.get(name, default)
    return [kind(v) for v in raw.split(",") if v.strip()]


SCALES = _numbers("PERSONA_BENCH_SCALES", "", float)
TASKS = _numbers("PERSONA_BENCH_SCALING_TASKS", "0,2")
ROUNDS = int(os.environ.get("PERSONA_BENCH_SCALING_ROUNDS", "1"))
FOLDER = Path(os.environ.get("PERSONA_BENCH_SCALING_DIR", str(default_cache_dir())))

pytestmark = pytest.mark.skipif(
    not SCALES, reason="opt-in: set PERSONA_BENCH_SCALES (e.g. 1,2,5,10)"
)


@pytest.fixture(scope="module")
def stress_dbs() -> dict[float, tuple[Path, int]]:
    """The stress fixtures (generated on first use) and their reference now, by scale."""
    out = {}
    for scale in SCALES:
        path = ensure_fixture("stress", scale=scale, cache_dir=FOLDER)
        conn = connect_ro(path)
        (now,) = conn.execute("SELECT value FROM persona_bench_meta WHERE key = 'now'").fetchone()
        conn.close()
        out[scale] = (path, int(now))
    return out


@pytest.mark.parametrize("tasks", TASKS)
@pytest.mark.parametrize("scale", SCALES)
def test_bench_stress_whole_run(
    benchmark: Any, stress_dbs: dict[float, tuple[Path, int]], scale: float, tasks: int
) -> None:
    """A whole classification of a fresh copy of stress x``scale``, measured from outside."""
    src, now = stress_dbs[scale]
    copy = FOLDER / f"bench-copy-{os.getpid()}.db"
    rounds: list[dict[str, Any]] = []

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        for old in FOLDER.glob(f"{copy.name}*"):
            old.unlink()
        shutil.copyfile(src, copy)
        fd = os.open(copy, os.O_RDONLY)  # no writeback of the copy during the timed run
        os.fsync(fd)
        os.close(fd)
        return (), {}

    def classify() -> dict[str, Any]:
        cmd = [sys.executable, "-m", "persona_bench", "classify", "--db", str(copy)]
        cmd += ["--now", str(now), "--tasks", str(tasks), "--json"]
        m = run_measured(cmd, timeout_s=3600)
        assert m.exit_code == 0, m.stderr_tail
        summary = json.loads(m.stdout)
        rounds.append(
            {
                "wall_s": round(m.wall_s, 3),
                "cpu_s": round(m.cpu_user_s + m.cpu_system_s, 3),
                "peak_pss_mib": round(m.peak_pss_bytes / 2**20, 1),
                "phases": summary["phases"],
            }
        )
        return summary

    benchmark.group = "stress scaling"
    benchmark.extra_info.update(
        fixture=f"stress x{scale:g}",
        scale=scale,
        tasks=tasks,
        backend="serial" if tasks == 0 else "process",
    )
    try:
        summary = benchmark.pedantic(classify, setup=setup, rounds=ROUNDS, iterations=1)
    finally:
        for old in FOLDER.glob(f"{copy.name}*"):
            old.unlink()
    benchmark.extra_info.update(wallets=summary["total"], rounds=rounds)
    assert summary["counters"]["processed"] > 0
