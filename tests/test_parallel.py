"""The parallel path writes exactly what the serial path writes, whatever happens to workers."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from classifier import RunOptions, run
from persona_bench.kernel.sqlitefile import connect_ro
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
        summary = run(RunOptions(db_path=db, now=NOW, tasks=tasks, backend=backend, pool_only=True))
        assert summary["mode"] == "parallel" and summary["tasks"] == tasks
        assert summary["workers"]["busy_s"] > 0  # the pool computed the chunks
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
        run(RunOptions(db_path=db, now=NOW, tasks=tasks, backend=backend, pool_only=True))
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


def _wait_for_a_commit(db: Path, child: subprocess.Popen) -> None:
    """Block until the job's progress row shows a committed chunk (progress, not time)."""
    import sqlite3

    while child.poll() is None:
        conn = connect_ro(db)
        try:
            row = conn.execute(
                "SELECT metadata FROM job_status WHERE job_name = 'persona_classification'"
            ).fetchone()
        except sqlite3.Error:
            row = None
        finally:
            conn.close()
        if row and json.loads(row[0]).get("phase") == "classifying":
            return
        time.sleep(0.01)
    raise AssertionError(f"the job exited ({child.returncode}) before committing a chunk")


@pytest.mark.slow
def test_sigkill_of_the_job_leaves_no_process_and_ends_its_pipe(bulk, tmp_path):
    """SIGKILL of the parallel job's main process after a chunk committed: the fork server,
    the resource tracker and every worker exit, and a reader of its stdout reaches EOF."""
    src, _, _ = bulk
    db = tmp_path / "x.db"
    shutil.copyfile(src, db)
    cmd = [sys.executable, "-m", "persona_bench", "classify", "--db", str(db), "--now", str(NOW)]
    env = {**os.environ, "PERSONA_BENCH_FAULT": "hang@after-commit:1"}  # hold it mid-run
    child = subprocess.Popen(
        [*cmd, "--tasks", "3", "--backend", "process"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,  # for the clean-up below only: the kill hits the main process
    )
    try:
        _wait_for_a_commit(db, child)
        tree = psutil.Process(child.pid).children(recursive=True)
        names = " ".join(" ".join(p.cmdline()) for p in tree)
        assert "forkserver" in names and "resource_tracker" in names, names
        assert len(tree) >= 5, names  # tracker, fork server, 3 workers
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        assert child.stdout is not None
        eof = []
        reader = threading.Thread(target=lambda: eof.append(child.stdout.read()), daemon=True)
        reader.start()
        reader.join(60)
        assert eof == [b""], "the job's stdout never reached EOF: a descendant holds it"
        _, alive = psutil.wait_procs(tree, timeout=60)
        assert not alive, [p.pid for p in alive]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        if child.stdout is not None:
            child.stdout.close()


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_stopped_workers_without_task_timeout_are_caught_by_the_derived_timeout(bulk, tmp_path):
    """Every worker SIGSTOPped once the first chunk committed, no --task-timeout: the default
    hang timeout (derived from the run; its floor lowered here) recomputes and finishes."""

    from classifier import PersonaConfig

    src, expected, _ = bulk
    db = tmp_path / "x.db"
    shutil.copyfile(src, db)
    me = psutil.Process()
    stopped: list[int] = []

    def stop_workers_after_first_commit() -> None:
        conn = connect_ro(db)
        try:
            while True:  # progress, not time: the first chunk's row
                row = conn.execute("SELECT metadata FROM job_status").fetchone()
                if row and json.loads(row[0]).get("phase") == "classifying":
                    break
                time.sleep(0.005)
        finally:
            conn.close()
        for proc in me.children(recursive=True):
            if proc.ppid() != me.pid:  # children of the fork server: the workers
                proc.send_signal(signal.SIGSTOP)
                stopped.append(proc.pid)

    # 40 chunks of 15 wallets: more than the pool is fed ahead, so some job must hang
    opts = RunOptions(
        db_path=db,
        now=NOW,
        tasks=2,
        backend="process",
        hang_floor_s=1.0,
        config=PersonaConfig(chunk_size=15),
        pool_only=True,
    )
    assert opts.task_timeout is None
    watcher = threading.Thread(target=stop_workers_after_first_commit)
    watcher.start()
    summary = run(opts)
    watcher.join()
    assert len(stopped) == 2, stopped
    assert any("hung worker" in e for e in summary["workers"]["events"]), summary["workers"]
    assert summary["workers"]["recomputed"] > 0
    assert dump_outputs(db) == expected


@pytest.mark.slow
def test_a_hung_worker_thread_is_abandoned_and_the_job_still_exits(bulk, tmp_path):
    """Threads cannot be killed: a hung one is abandoned, its chunk recomputed by the writer,
    the rows are serial's, and classify exits (it does not wait for the thread)."""
    src, expected, _ = bulk
    db = tmp_path / "x.db"
    shutil.copyfile(src, db)
    cmd = [sys.executable, "-m", "persona_bench", "classify", "--db", str(db), "--now", str(NOW)]
    cmd += ["--tasks", "2", "--backend", "thread", "--task-timeout", "1", "--json"]
    env = {**os.environ, "PERSONA_BENCH_FAULT": "hang@job:2"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    workers = json.loads(proc.stdout)["workers"]
    assert workers["abandoned_threads"] == 1, workers
    assert any("cannot be killed: abandoned" in e for e in workers["events"]), workers
    assert dump_outputs(db) == expected
