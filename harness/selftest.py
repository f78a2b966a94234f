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


def run(args: argparse.Namespace) -> int:
    from harness.baseline import compare_results, render_comparison
    from harness.fixture import generate

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
        code, slowed = _validate(db, root / "slow", _canary("slow"), repeat=3)
        comparison = compare_results(honest, slowed)
        regressed = comparison.regressed
        outcomes.append(
            ("a run slowed well beyond noise", "regression flagged" if regressed else None)
        )
        if not regressed:
            print(render_comparison(comparison), file=sys.stderr)

    for label, caught in outcomes:
        print(f"{'ok  ' if caught else 'FAIL'}  {label}: {caught or 'NOT caught'}")
    failed = sum(caught is None for _, caught in outcomes)
    print(f"selftest: {len(outcomes) - failed} of {len(outcomes)} checks hold")
    return 0 if failed == 0 else 1
