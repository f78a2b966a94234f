"""The cost of validate's input-table check (``harness.inputs``) on the prod fixture.

    python3 -m pytest benchmarks/test_bench_inputs.py --benchmark-only

``reference`` is paid once per validation (the snapshot's page map from ``dbstat``); ``check``
after every run: a checkpoint of the run's copy and a comparison of its file with the snapshot's.
The copy checked here has been classified (serial) first, as in a validation.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from classifier import RunOptions, run
from harness import inputs


def test_bench_input_reference(benchmark: Any, prod_db: tuple[Path, int]) -> None:
    """The snapshot's schema, sequence entries and page owners (236,868 pages)."""
    path, _ = prod_db
    ref = benchmark.pedantic(inputs.reference, args=(path,), rounds=3, iterations=1)
    assert ref.method == "pages" and "trades_raw" in ref.tables


def test_bench_input_check_after_a_run(
    benchmark: Any, prod_db: tuple[Path, int], tmp_path: Path
) -> None:
    """One run's check: its copy (outputs written by a serial run) against the snapshot."""
    src, now = prod_db
    ref = inputs.reference(src)
    copy = tmp_path / "run.db"
    shutil.copyfile(src, copy)
    run(RunOptions(db_path=copy, now=now, tasks=0))
    check = benchmark.pedantic(inputs.check, args=(ref, copy), rounds=5, iterations=1)
    assert check.changed == {} and check.rows_compared == ()
