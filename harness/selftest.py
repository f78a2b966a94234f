"""``persona-bench selftest``: prove that this installation's harness catches what it must.

It validates a tiny fixture against an honest build (which must come out green) and against
deliberately broken candidates (``harness.canary``): a missing row, one float changed in its last
bit, rows written in another order so their ids differ (each must be a mismatch naming the
table), one row of an input table deleted (a failed run naming ``trades_raw``), and a run
slowed well beyond the noise (the baseline gate must call it a regression).
Exit 0 only when every check holds; each check prints one line.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shlex
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

HELP = "prove that the harness catches broken candidates (a canary for this installation)"

_JOB = f"{shlex.quote(sys.executable)} -m persona_bench classify"
HONEST = f"{_JOB} --db {{db}} --tasks {{tasks}} --backend process --now {{now}} --json"
HONEST_SERIAL = f"{_JOB} --db {{db}} --serial --now {{now}} --json"


def _canary(mode: str) -> str:
    return f"{shlex.quote(sys.executable)} -m harness.canary {mode} -- {HONEST}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--keep", type=Path, help="keep the validations' folders here")


def _validate(db: Path, out: Path, parallel_cmd: str, repeat: int) -> tuple[int, dict[str, Any]]:
    """One ``persona-bench validate`` of ``db``, its console output swallowed."""
    from persona_bench.cli import main

    args = [
        "validate",
        "--db",
        str(db),
        "--tasks",
        "2",
        "--repeat",
        str(repeat),
        "--out",
        str(out),
        # both halves: a lone --parallel-cmd is refused (the serial side would be left implicit)
        "--serial-cmd",
        HONEST_SERIAL,
        "--parallel-cmd",
        parallel_cmd,
        "--ignore-column",
        "job_status.duration_ms",
    ]
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        code = main(args)
    return code, json.loads((out / "results.json").read_text())


def _mismatch(table: str, key: str) -> Callable[[int, dict[str, Any]], str | None]:
    """A check that the verdict is red and names ``table`` with a ``key`` difference."""

    def check(code: int, results: dict[str, Any]) -> str | None:
        found = [m["tables"].get(table) for m in results["verdict"]["mismatches"]]
        diff = next((d for d in found if d and d.get(key)), None)
        if code != 1 or diff is None:
            return None
        text = f"{table}: {diff['differ']} differ, {diff['missing']} missing, {diff['extra']} extra"
        return text + (f", {diff['id_shifted']} under another id" if diff.get("id_shifted") else "")

    return check


def _input_changed(table: str) -> Callable[[int, dict[str, Any]], str | None]:
    """A check that the verdict is red with a run failed for changing the input ``table``."""

    def check(code: int, results: dict[str, Any]) -> str | None:
        runs = [r for r in results["runs"] if table in (r.get("inputs_changed") or {})]
        return f"{table}: {runs[0]['inputs_changed'][table]}" if code == 1 and runs else None

    return check


SLOW_FACTOR = 2.0  # the slow canary sleeps this many times the slowest honest wall, plus noise
SLOW_ATTEMPTS = 3


def _parallel_walls(analysis: Any) -> list[float]:
    return [r.wall_s for c in analysis.parallel for r in c.ok_runs if r.wall_s]


def _slowed(db: Path, root: Path, honest: dict[str, Any]) -> tuple[Any, bool]:
    """Validate the slow canary until its slowdown is well beyond the noise; the comparison.

    Robust on a loaded machine without proving less: the canary's extra time is a sleep (CPU
    free, so a loaded machine cannot shrink it: every slowed wall is at least the sleep), sized
    from what was measured rather than fixed, SLOW_FACTOR x (1 + threshold + noise) x the slowest
    honest parallel wall. A fixed 3 s was not "well beyond noise" when load made the honest runs
    slow and noisy. The check's precondition is then verified on the measurements themselves:
    the fastest slowed run is beyond (1 + threshold + noise) x the slowest honest run, noise
    being the gate's own (the larger A/A noise of the two results). Only then does "not
    flagged" mean the gate is broken; when the slowed validation's own noise outgrew the
    slowdown, it is repeated with a larger sleep (at most SLOW_ATTEMPTS times).
    """
    from harness.canary import SLOW_ENV
    from harness.reporting.analysis import analyse
    from harness.reporting.baseline import compare_results

    threshold = 0.10  # compare_results' default, the one used below
    old = analyse(honest)
    worst_honest = max(_parallel_walls(old))
    noise = old.noise.band
    saved = os.environ.get(SLOW_ENV)
    try:
        for attempt in range(SLOW_ATTEMPTS):
            sleep_s = SLOW_FACTOR * (1 + threshold + noise) * worst_honest * 2**attempt
            os.environ[SLOW_ENV] = f"{sleep_s:.3f}"
            _, slowed = _validate(db, root / f"slow-{attempt + 1}", _canary("slow"), repeat=3)
            comparison = compare_results(honest, slowed, threshold=threshold)
            noise = comparison.noise
            walls = _parallel_walls(comparison.new)
            if walls and min(walls) > (1 + threshold + noise) * worst_honest:
                return comparison, True
        return comparison, False
    finally:
        if saved is None:
            os.environ.pop(SLOW_ENV, None)
        else:
            os.environ[SLOW_ENV] = saved


def run(args: argparse.Namespace) -> int:
    from fixtures.generator import generate
    from harness.reporting.baseline import render_comparison

    with tempfile.TemporaryDirectory(prefix="persona-selftest-") as tmp:
        root = args.keep or Path(tmp)
        db = root / "tiny.db"
        generate(db, "tiny", force=True)
        outcomes: list[tuple[str, str | None]] = []

        # 3 rounds: the fewest runs a side with which the baseline gate can claim a regression
        code, honest = _validate(db, root / "honest", HONEST, repeat=3)
        ok = code == 0 and honest["verdict"]["identical"]
        outcomes.append(("an honest build is green", "identical rows" if ok else None))
        for mode, label, key in (
            ("drop-row", "a missing row", "missing"),
            ("float-bit", "one float changed in its last bit", "differ"),
            ("reorder", "rows written in another order (other ids)", "id_shifted"),
        ):
            code, results = _validate(db, root / mode, _canary(mode), repeat=1)
            outcomes.append((label, _mismatch("wallet_exclusions", key)(code, results)))
        code, results = _validate(db, root / "delete-input", _canary("delete-input"), repeat=1)
        outcomes.append(("an input row deleted", _input_changed("trades_raw")(code, results)))
        comparison, beyond = _slowed(db, root, honest)
        # the parallel configuration is the slowed one: a serial row flagged by chance (load)
        # must not make the check pass
        regressed = any(c.regressed for c in comparison.configs if c.label != "serial")
        caught = "regression flagged" if beyond and regressed else None
        outcomes.append(("a run slowed well beyond noise", caught))
        if not beyond:
            print("selftest: the slow canary never got beyond the noise", file=sys.stderr)
        if caught is None:
            print(render_comparison(comparison), file=sys.stderr)

    for label, caught in outcomes:
        print(f"{'ok  ' if caught else 'FAIL'}  {label}: {caught or 'NOT caught'}")
    failed = sum(caught is None for _, caught in outcomes)
    print(f"selftest: {len(outcomes) - failed} of {len(outcomes)} checks hold")
    return 0 if failed == 0 else 1
