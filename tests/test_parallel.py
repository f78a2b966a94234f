"""The parallel path writes exactly what the serial path writes, whatever happens to workers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from classifier import RunOptions, run
from tests.helpers import NOW, bulk_db, dump_outputs
from tests.oracle.random_db import make_random_db


@pytest.fixture(scope="module")
def bulk(tmp_path_factory) -> tuple[Path, dict, dict]:
    """A 600-wallet source, its serial outputs and its serial summary."""
    src = bulk_db(tmp_path_factory.mktemp("par") / "src.db")
    ref = tmp_path_factory.mktemp("ref") / "ref.db"
    shutil.copyfile(src, ref)
    summary = run(RunOptions(db_path=ref, now=NOW, tasks=0))
    return src, dump_outputs(ref), summary


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["process", "thread"])
def test_every_task_count_matches_serial(bulk, tmp_path, backend):
    """Tasks 1 to 16, both backends: output rows identical to serial, ids included."""
    src, expected, ref_summary = bulk
    for tasks in range(1, 17):
        db = tmp_path / f"{backend}-{tasks}.db"
        shutil.copyfile(src, db)
        summary = run(RunOptions(db_path=db, now=NOW, tasks=tasks, backend=backend))
        assert summary["mode"] == "parallel" and summary["tasks"] == tasks
        assert dump_outputs(db) == expected, f"{backend} tasks={tasks}"
        assert summary["counters"] == ref_summary["counters"]
        assert summary["failures"] == ref_summary["failures"]
        db.unlink()


@pytest.mark.parametrize("seed", [3, 11, 29])
def test_edge_case_databases_match_serial(tmp_path, seed):
    """Random edge-case databases: serial, processes and threads write identical rows."""
    src = tmp_path / "src.db"
    make_random_db(src, seed=seed, now=NOW, n_wallets=80)
    outputs = []
    for name, tasks, backend in (("s", 0, None), ("p", 3, "process"), ("t", 5, "thread")):
        db = tmp_path / f"{name}.db"
        shutil.copyfile(src, db)
        run(RunOptions(db_path=db, now=NOW, tasks=tasks, backend=backend))
        outputs.append(dump_outputs(db))
    assert outputs[0] == outputs[1] == outputs[2]


def test_any_executor_can_be_plugged_in(bulk, tmp_path):
    """A caller's own concurrent.futures.Executor computes the features; rows are identical."""
    src, expected, _ = bulk
    db = tmp_path / "x.db"
    shutil.copyfile(src, db)
    with ThreadPoolExecutor(max_workers=3) as pool:
        summary = run(RunOptions(db_path=db, now=NOW), executor=pool)
    assert summary["backend"] == "custom"
    assert dump_outputs(db) == expected


def test_config_decides_the_path_when_tasks_not_given(bulk, tmp_path):
    """parallel_enabled=false in the config gives the serial path."""
    from classifier import PersonaConfig

    src, expected, _ = bulk
    db = tmp_path / "x.db"
    shutil.copyfile(src, db)
    cfg = PersonaConfig(parallel_enabled=False)
    assert run(RunOptions(db_path=db, now=NOW, config=cfg))["mode"] == "serial"
    assert dump_outputs(db) == expected


def _classify_with_fault(db: Path, fault: str, *extra: str) -> dict:
    """Run classify in a child process with ``PERSONA_BENCH_FAULT=fault``, return its summary.

    The fault is placed by progress (``classifier.faults``), never by time: ``kill@job:2`` makes
    a worker SIGKILL itself as it starts its 2nd chunk job, ``hang@job:2`` makes it block there
    for good. Either way the worker holds a job when it fails, whatever the machine's speed
    (killing the first worker to appear raced with the pool's warm-up: an idle worker could be
    killed and nothing recomputed). 6 chunks on 2 workers: some worker starts a 2nd job.
    """
    cmd = [
        sys.executable,
        "-m",
        "persona_bench",
        "classify",
        "--db",
        str(db),
        "--now",
        str(NOW),
        "--tasks",
        "2",
        "--backend",
        "process",
        "--json",
        *extra,
    ]
    env = {**os.environ, "PERSONA_BENCH_FAULT": fault}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout))


@pytest.mark.slow
def test_killed_worker_is_recomputed_and_reported(bulk, tmp_path):
    """A worker SIGKILLed while it holds a chunk job: its wallets are recomputed, rows identical."""
    src, expected, _ = bulk
    db = tmp_path / "x.db"
    shutil.copyfile(src, db)
    summary = _classify_with_fault(db, "kill@job:2")
    workers = summary["workers"]
    assert workers["recomputed"] > 0, workers
    assert any("broken" in e for e in workers["events"]), workers
    assert dump_outputs(db) == expected


@pytest.mark.slow
def test_hung_worker_is_detected_by_timeout(bulk, tmp_path):
    """A worker hung in a chunk job: after --task-timeout its work is recomputed; rows identical."""
    src, expected, _ = bulk
    db = tmp_path / "x.db"
    shutil.copyfile(src, db)
    summary = _classify_with_fault(db, "hang@job:2", "--task-timeout", "2")
    workers = summary["workers"]
    assert any("hung worker" in e for e in workers["events"]), workers
    assert workers["recomputed"] > 0, workers
    assert dump_outputs(db) == expected


def test_a_pool_broken_before_a_submit_is_survived(bulk, tmp_path):
    """Workers killed between jobs: the next submit fails, the run goes on inline, identical."""
    from classifier import PersonaConfig
    from classifier.executor import JobParams, close_pool, make_executor

    src, expected, _ = bulk
    db = tmp_path / "x.db"
    shutil.copyfile(src, db)
    pool = make_executor("process", 2, JobParams(str(db), NOW, PersonaConfig(), 30.0))
    try:
        assert pool.submit(os.getpid).result() > 0  # the workers are up
        for pid in list(pool._processes):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while not pool._broken and time.monotonic() < deadline:
            time.sleep(0.01)
        summary = run(RunOptions(db_path=db, now=NOW), executor=pool)
    finally:
        close_pool(pool, 5.0)
    assert any("broken" in e for e in summary["workers"]["events"]), summary["workers"]
    assert dump_outputs(db) == expected
