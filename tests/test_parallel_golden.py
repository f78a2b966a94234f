"""The golden cases through every task count and both backends: rows identical to serial."""

from __future__ import annotations

import contextlib
import shutil
from concurrent.futures import Executor
from pathlib import Path

import pytest

from classifier import RunOptions, load_config, run
from classifier.executor import JobParams, close_pool, make_executor
from classifier.store import RowError
from tests import golden
from tests.helpers import dump_outputs


def _run(opts: RunOptions, executor: Executor | None = None) -> None:
    """One run; a run that stops at an unreadable wallet (as production's does) is expected."""
    with contextlib.suppress(RowError):
        run(opts, executor=executor)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["process", "thread"])
def test_golden_cases_identical_for_every_task_count(tmp_path: Path, backend: str) -> None:
    """Each golden case, tasks 1 to 16: the parallel path writes the serial path's rows."""
    cases = []
    for path in golden.case_paths():
        case = golden.load_case(path)
        src, ref, cfg = (tmp_path / f"{path.stem}{s}" for s in (".db", "-ref.db", ".toml"))
        golden.build_db(case, src)
        golden.write_config(case, cfg)
        shutil.copyfile(src, ref)
        config = load_config(cfg)
        _run(RunOptions(db_path=ref, now=case.now, config=config, tasks=0))
        cases.append((path.stem, src, case.now, config, dump_outputs(ref)))
    for tasks in range(1, 17):
        # one pool per task count, shared by the cases (a pool start per run would cost minutes)
        params = JobParams(str(cases[0][1]), cases[0][2], cases[0][3], 30.0)
        pool = make_executor(backend, tasks, params)
        try:
            for name, src, now, config, expected in cases:
                db = tmp_path / f"{name}-{tasks}.db"  # a new path: workers cache readers by path
                shutil.copyfile(src, db)
                _run(RunOptions(db_path=db, now=now, config=config), pool)
                assert dump_outputs(db) == expected, f"{name}: {backend} tasks={tasks}"
        finally:
            close_pool(pool, 10.0)
