"""The Dask backend on a real LocalCluster (worker processes), and the verified worker snapshot.

One cluster serves the module (2 worker processes, 1 thread each; ~3 s to start). Faults are
injected by progress (``tests/dask_faults.py``): a worker stops itself as it starts chunk job N,
and the test kills it once the first chunk is committed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from classifier import RunOptions, run, worker_snapshot
from classifier.worker_snapshot import SnapshotMismatch
from fixtures.generator import ensure_fixture, read_meta
from harness.snapshot import manifest_path, take_snapshot
from tests.dask_faults import StopAtChunk, TamperBeforeFirstChunk
from tests.helpers import NOW, bulk_db, classify_cli, cli, dump_outputs
from tests.oracle.random_db import make_random_db


@pytest.fixture(scope="module")
def dask_client() -> Iterator[object]:
    """A client of a LocalCluster with two worker processes (nannies restart a killed one)."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            # a random port: None still serves /metrics on 8787 and warns when it is taken
            dashboard_address=":0",
            scheduler_port=0,
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        yield client


def _address(client: object) -> str:
    return str(client.scheduler.address)  # type: ignore[attr-defined]


def _snapshot(src: Path, folder: Path, manifest: bool = False) -> Path:
    """A closed, verified copy of ``src`` (and its manifest, as ``persona-bench snapshot``)."""
    snap = folder / "snap.db"
    m = take_snapshot(src, snap)
    if manifest:
        manifest_path(snap).write_text(json.dumps(m.to_dict()), encoding="utf-8")
    return snap


def _serial_rows(snap: Path, folder: Path, now: int) -> dict:
    db = folder / "serial.db"
    shutil.copyfile(snap, db)
    run(RunOptions(db_path=db, now=now, tasks=0))
    return dump_outputs(db)


def _dask_opts(db: Path, snap: Path, client: object, now: int = NOW) -> RunOptions:
    return RunOptions(
        db_path=db, now=now, tasks=2, backend="dask", scheduler=_address(client), snapshot=snap
    )


@pytest.fixture(scope="module")
def bulk_snap(tmp_path_factory) -> tuple[Path, dict]:
    """A 600-wallet snapshot (6 chunks of 100) with a manifest, and its serial rows."""
    folder = tmp_path_factory.mktemp("dask-bulk")
    snap = _snapshot(bulk_db(folder / "src.db", trades_per_active=40), folder, manifest=True)
    return snap, _serial_rows(snap, folder, NOW)


def test_tiny_fixture_on_dask_matches_serial(dask_client, tmp_path):
    """The tiny fixture (every branch of SPEC) on the cluster: serial's rows, ids included."""
    tiny = ensure_fixture("tiny")
    now = int(read_meta(tiny)["now"])
    snap = _snapshot(tiny, tmp_path)
    db = tmp_path / "dask.db"
    shutil.copyfile(snap, db)
    summary = run(_dask_opts(db, snap, dask_client, now))
    assert (summary["mode"], summary["backend"], summary["tasks"]) == ("parallel", "dask", 2)
    assert summary["workers"]["events"] == []
    assert dump_outputs(db) == _serial_rows(snap, tmp_path, now)


@pytest.mark.parametrize("seed", [3, 11])
def test_edge_case_databases_on_dask_match_serial(dask_client, tmp_path, seed):
    """Random edge-case databases: the Dask backend writes the serial path's rows."""
    src = tmp_path / "src.db"
    make_random_db(src, seed=seed, now=NOW, n_wallets=80)
    snap = _snapshot(src, tmp_path)
    db = tmp_path / "dask.db"
    shutil.copyfile(snap, db)
    run(_dask_opts(db, snap, dask_client))
    assert dump_outputs(db) == _serial_rows(snap, tmp_path, NOW)


def _wait_for(condition, what: str, timeout: float = 60.0) -> None:
    """Poll for progress (a file, a committed row); the timeout only bounds a broken run."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"no progress: {what}")
        time.sleep(0.01)


@pytest.mark.slow
def test_killed_dask_worker_is_recomputed_and_reported(dask_client, bulk_snap, tmp_path):
    """classify --backend dask: a worker SIGKILLed mid-run; rows unchanged, event in summary."""
    snap, expected = bulk_snap
    db = tmp_path / "x.db"
    shutil.copyfile(snap, db)
    marker = tmp_path / "stopped.pid"
    dask_client.register_plugin(StopAtChunk(3, str(marker)))  # type: ignore[attr-defined]
    cmd = [
        *(sys.executable, "-m", "persona_bench", "classify", "--db", str(db)),
        *("--now", str(NOW), "--tasks", "2", "--backend", "dask", "--json"),
        *("--scheduler", _address(dask_client), "--snapshot", str(snap)),
    ]
    try:
        with subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ) as child:
            # the worker that started chunk 3 stopped itself holding it: the run cannot end
            # before the kill (nor commit a chunk whose result sits in the stopped worker)
            _wait_for(lambda: marker.exists() and marker.read_text(), "a worker at chunk 3")
            pid = int(marker.read_text())
            # a worker process of our cluster: the nannies (in this process) started them
            assert pid in {p.pid for p in psutil.Process().children()}
            os.kill(pid, signal.SIGKILL)
            out, err = child.communicate(timeout=120)
    finally:
        dask_client.unregister_worker_plugin(StopAtChunk.name)  # type: ignore[attr-defined]
    assert child.returncode == 0, err
    summary = json.loads(out)
    assert summary["backend"] == "dask"
    events = summary["workers"]["events"]
    assert any("dask worker" in e and "left the cluster" in e for e in events), events
    assert dump_outputs(db) == expected


def test_worker_with_another_snapshot_is_refused(dask_client, bulk_snap, tmp_path):
    """A worker whose file differs from the writer's: exit 2, one line naming path and hashes."""
    good, _ = bulk_snap
    snap = tmp_path / "snap.db"
    shutil.copyfile(good, snap)
    db = tmp_path / "x.db"
    shutil.copyfile(good, db)
    expected_sha = worker_snapshot.sha256_file(snap)
    marker = tmp_path / "tampered"
    dask_client.register_plugin(TamperBeforeFirstChunk(str(snap), str(marker)))  # type: ignore[attr-defined]
    try:
        proc = classify_cli(
            *("--db", str(db), "--now", str(NOW), "--tasks", "2", "--backend", "dask"),
            *("--scheduler", _address(dask_client), "--snapshot", str(snap)),
        )
    finally:
        dask_client.unregister_worker_plugin(TamperBeforeFirstChunk.name)  # type: ignore[attr-defined]
    assert marker.exists()
    got_sha = worker_snapshot.sha256_file(snap)
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("persona-bench classify: error: snapshot ") and str(snap) in last
    assert expected_sha in last and got_sha in last, last
    assert "Traceback" not in proc.stderr


def test_validate_runs_the_dask_backend(dask_client, tmp_path):
    """validate --backend dask --scheduler: the parallel runs use the cluster; green verdict."""
    tiny = ensure_fixture("tiny")
    out = tmp_path / "report"
    proc = cli(
        "validate",
        *("--db", str(tiny), "--tasks", "2", "--repeat", "1", "--out", str(out)),
        *("--backend", "dask", "--scheduler", _address(dask_client)),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((out / "results.json").read_text())
    parallel = [r for r in results["runs"] if r["mode"] == "parallel"]
    assert parallel and all(r["summary"]["backend"] == "dask" for r in parallel), parallel
    assert results["verdict"]["identical"] is True


def test_snapshot_with_the_process_pool_matches_serial(bulk_snap, tmp_path):
    """--snapshot with the local process pool: workers stat the writer's hashed file, same rows."""
    snap, expected = bulk_snap
    db = tmp_path / "x.db"
    shutil.copyfile(snap, db)
    opts = RunOptions(
        db_path=db, now=NOW, tasks=2, backend="process", snapshot=snap, pool_only=True
    )
    summary = run(opts)
    assert summary["workers"]["busy_s"] > 0  # the workers read the snapshot
    assert summary["backend"] == "process"
    assert dump_outputs(db) == expected


# --- refused before any write: no cluster needed ---------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _refused(db: Path, *args: str) -> str:
    """Run classify, expect exit 2 with one line; the database must be left as it was."""
    before = dump_outputs(db)
    proc = classify_cli("--db", str(db), "--now", str(NOW), "--tasks", "2", *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert dump_outputs(db) == before
    return proc.stderr.strip().splitlines()[-1]


def test_unreachable_scheduler_is_one_line_exit_2(bulk_snap, tmp_path):
    """No scheduler at the address: refused within --connect-timeout, nothing written."""
    snap, _ = bulk_snap
    db = tmp_path / "x.db"
    shutil.copyfile(snap, db)
    address = f"tcp://127.0.0.1:{_free_port()}"
    last = _refused(
        db,
        *("--backend", "dask", "--scheduler", address, "--snapshot", str(snap)),
        *("--connect-timeout", "1"),
    )
    assert last.startswith("persona-bench classify: error: cannot reach the dask scheduler")
    assert address in last


def test_snapshot_not_matching_its_manifest_is_refused(bulk_snap, tmp_path):
    """The writer checks its copy against PATH.manifest.json: both hashes named, exit 2."""
    good, _ = bulk_snap
    snap = tmp_path / "snap.db"
    shutil.copyfile(good, snap)
    shutil.copyfile(manifest_path(good), manifest_path(snap))
    db = tmp_path / "x.db"
    shutil.copyfile(good, db)
    conn = sqlite3.connect(snap)
    conn.execute("UPDATE wallets SET discovered_from = 'elsewhere'")  # another database now
    conn.commit()
    conn.close()
    expected = json.loads(manifest_path(good).read_text())["sha256"]
    last = _refused(
        db, "--backend", "dask", "--scheduler", "tcp://127.0.0.1:1", "--snapshot", str(snap)
    )
    assert "does not match its manifest" in last and str(snap) in last
    assert expected in last and worker_snapshot.sha256_file(snap) in last


def test_live_wal_database_is_not_a_snapshot(tmp_path):
    """A snapshot path with committed pages in its -wal is a live database: refused."""
    src = bulk_db(tmp_path / "live.db", wallets=40)
    keep = sqlite3.connect(src)  # holds the WAL open: the last commit stays in live.db-wal
    keep.execute("PRAGMA wal_autocheckpoint = 0")
    keep.execute("UPDATE wallets SET discovered_from = 'x' WHERE rowid = 1")
    keep.commit()
    try:
        assert Path(f"{src}-wal").stat().st_size > 0
        db = tmp_path / "x.db"
        shutil.copyfile(bulk_db(tmp_path / "other.db", wallets=40), db)
        last = _refused(db, "--backend", "process", "--snapshot", str(src))
    finally:
        keep.close()
    assert "live WAL database" in last and str(src) in last


def test_dask_needs_a_scheduler_and_a_snapshot(bulk_snap, tmp_path):
    """--backend dask without --scheduler or --snapshot: one line, exit 2."""
    snap, _ = bulk_snap
    db = tmp_path / "x.db"
    shutil.copyfile(snap, db)
    assert "needs --scheduler ADDRESS and --snapshot PATH" in _refused(db, "--backend", "dask")
    assert "--snapshot PATH" in _refused(db, "--backend", "dask", "--scheduler", "tcp://h:1")
    assert "--scheduler is for --backend dask" in _refused(db, "--scheduler", "tcp://h:1")


def test_missing_dask_extra_is_one_line_exit_2(bulk_snap, tmp_path):
    """Without dask[distributed] installed: the error names the extra to install."""
    snap, _ = bulk_snap
    db = tmp_path / "x.db"
    shutil.copyfile(snap, db)
    args = [
        *("classify", "--db", str(db), "--now", str(NOW), "--tasks", "2"),
        *("--backend", "dask", "--scheduler", "tcp://127.0.0.1:1", "--snapshot", str(snap)),
    ]
    # sys.modules[name] = None makes "import name" fail, as when the extra is not installed
    code = (
        "import sys; sys.modules['distributed'] = None\n"
        "from persona_bench.cli import main\n"
        f"sys.exit(main({args!r}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert "persona-bench[dask]" in proc.stderr.strip().splitlines()[-1]
    assert "Traceback" not in proc.stderr


def test_classify_does_not_import_dask(bulk_snap, tmp_path):
    """The process pool never imports dask: the extra costs nothing to those who do not use it."""
    snap, _ = bulk_snap
    db = tmp_path / "x.db"
    shutil.copyfile(snap, db)
    args = ["classify", "--db", str(db), "--now", str(NOW), "--tasks", "2", "--json"]
    code = (
        "import sys\n"
        "from persona_bench.cli import main\n"
        f"code = main({args!r})\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed'))\n"
        "print(loaded, file=sys.stderr)\n"
        "sys.exit(code)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "[]"


# --- the per-process check, without a cluster -------------------------------------------------


def test_verify_hashes_once_per_run_and_refuses_another_file(bulk_snap, tmp_path, monkeypatch):
    """One hash per process and run token; a changed file is hashed again and refused."""
    good, _ = bulk_snap
    snap = tmp_path / "snap.db"
    shutil.copyfile(good, snap)
    identity = worker_snapshot.identify(snap)
    # as a worker on another host sees it: no shortcut through the writer's stat
    remote = dataclasses.replace(identity, host="another-host", token="run-1")
    hashed = []
    real = worker_snapshot.sha256_file
    monkeypatch.setattr(worker_snapshot, "sha256_file", lambda p: hashed.append(p) or real(p))
    for _ in range(3):
        worker_snapshot.verify(remote)
    assert len(hashed) == 1
    worker_snapshot.verify(dataclasses.replace(remote, token="run-2"))
    assert len(hashed) == 2  # a new run checks again
    with open(snap, "r+b") as fh:  # the file changes under a verified run: same size
        fh.seek(-1, os.SEEK_END)
        last = fh.read(1)
        fh.seek(-1, os.SEEK_END)
        fh.write(bytes([last[0] ^ 0xFF]))
    with pytest.raises(SnapshotMismatch, match=f"expected sha256 {identity.sha256}"):
        worker_snapshot.verify(remote)
    assert len(hashed) == 3
