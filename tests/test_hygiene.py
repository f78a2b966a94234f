"""Resource hygiene: every connection closed on every path, the run's writes in the database
file, a caller's executor left running, and an executor reused across runs giving serial's rows."""

from __future__ import annotations

import os
import shutil
import sqlite3
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest

from classifier import PersonaConfig, RunOptions, faults, run, store
from classifier.executor import JobParams, close_pool, make_executor
from classifier.store import DatabaseError
from tests.helpers import DAY, NOW, bulk_db, dump_outputs


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> tuple[Path, dict]:
    """A 300-wallet source and its serial outputs."""
    base = tmp_path_factory.mktemp("hyg")
    src = bulk_db(base / "src.db", wallets=300, trades_per_active=60)
    ref = base / "ref.db"
    shutil.copyfile(src, ref)
    run(RunOptions(db_path=ref, now=NOW, tasks=0))
    return src, dump_outputs(ref)


def _open_files(db: Path) -> list[str]:
    """Files of ``db`` (the database, -wal, -shm) this process holds open."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(db)) and not target.endswith(".classify-lock"):
            found.append(target)
    return found


def _serial_copy(db: Path, dst: Path, now: int) -> dict:
    """Serial's outputs on a copy of ``db`` (SQLite's backup: the WAL's commits included)."""
    with closing(sqlite3.connect(db)) as a, closing(sqlite3.connect(dst)) as b:
        a.backup(b)
    run(RunOptions(db_path=dst, now=now, tasks=0))
    return dump_outputs(dst)


def test_a_failed_run_closes_its_connection(source, tmp_path):
    """A run that fails mid-way (a real SQLite error) leaves no connection open."""
    src, _ = source
    db = tmp_path / "x.db"
    shutil.copyfile(src, db)
    conn = sqlite3.connect(db)
    conn.execute(
        "CREATE TRIGGER boom BEFORE INSERT ON wallet_exclusions"
        " BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    conn.commit()
    conn.close()
    with pytest.raises(sqlite3.IntegrityError, match="disk full") as info:
        run(RunOptions(db_path=db, now=NOW, tasks=0))
    assert info.value is not None  # the traceback (and its frames) are still alive here
    assert _open_files(db) == []


def test_open_writer_closes_its_connection_when_the_input_check_refuses(tmp_path, source):
    """A database refused by the input check leaves no connection open."""
    src, _ = source
    db = tmp_path / "x.db"
    shutil.copyfile(src, db)
    conn = sqlite3.connect(db)
    conn.execute("ALTER TABLE trades_raw DROP COLUMN side")
    conn.commit()
    conn.close()
    with pytest.raises(DatabaseError, match=r"trades_raw\.side") as info:
        store.open_writer(db)
    assert info.value is not None
    assert _open_files(db) == []


@pytest.mark.parametrize("backend", ["thread", "process"])
def test_the_run_closes_every_reader_and_its_writes_are_in_the_database_file(
    source, tmp_path, backend
):
    """After a parallel run no connection is left, and the .db file alone holds every row."""
    src, expected = source
    db = tmp_path / "x.db"
    shutil.copyfile(src, db)
    run(RunOptions(db_path=db, now=NOW, tasks=3, backend=backend))
    assert _open_files(db) == []
    alone = tmp_path / "alone" / "x.db"
    alone.parent.mkdir()
    shutil.copyfile(db, alone)  # no -wal beside it
    assert dump_outputs(alone) == expected


def test_a_callers_executor_is_never_shut_down(source, tmp_path, monkeypatch):
    """A caller's executor whose job hangs: the run recomputes the chunk, finishes with
    serial's rows, and the executor is still usable afterwards."""
    src, expected = source
    db = tmp_path / "x.db"
    shutil.copyfile(src, db)
    monkeypatch.setenv(faults.ENV, "hang@job:2")
    faults.RELEASE.clear()
    pool = ThreadPoolExecutor(max_workers=2)
    try:
        summary = run(
            RunOptions(db_path=db, now=NOW, task_timeout=0.5, config=PersonaConfig(chunk_size=20)),
            executor=pool,
        )
        assert pool.submit(int, "7").result() == 7  # not shut down
    finally:
        faults.reset()
        pool.shutdown()
    assert any("hung worker" in e for e in summary["workers"]["events"]), summary["workers"]
    assert summary["workers"]["recomputed"] > 0
    assert dump_outputs(db) == expected
    assert _open_files(db) == []


def _pool(kind: str, db: Path) -> Executor:
    if kind == "thread":
        return ThreadPoolExecutor(max_workers=2)
    return make_executor("process", 2, JobParams(str(db), NOW, PersonaConfig(), 30.0))


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_an_executor_reused_after_markets_are_recategorised_gives_serial_rows(
    source, tmp_path, kind
):
    """Second run on the same executor after the markets changed category: serial's rows
    (worker state is keyed by the run, not the path)."""
    src, expected = source
    db = tmp_path / "x.db"
    shutil.copyfile(src, db)
    pool = _pool(kind, db)
    try:
        run(RunOptions(db_path=db, now=NOW), executor=pool)
        assert dump_outputs(db) == expected
        conn = sqlite3.connect(db)
        conn.execute("UPDATE markets SET category = 'Lane' || (rowid % 3)")
        conn.commit()
        conn.close()
        want = _serial_copy(db, tmp_path / "serial.db", NOW + DAY)
        run(RunOptions(db_path=db, now=NOW + DAY), executor=pool)
    finally:
        close_pool(pool, 10.0)
    assert dump_outputs(db) == want
    lanes = [r for r in want["wallet_persona_traits"] if ("trait_key", "TOPIC_LANE") in r]
    assert any(("trait_value", "Lane1") in r for r in lanes)  # the change shows in the rows


def test_an_executor_reused_after_the_file_is_replaced_gives_serial_rows(source, tmp_path):
    """Another database moved to the same path between two runs on one executor: the second
    run reads the new file (serial's rows), not the first run's connection."""
    src, expected = source
    db = tmp_path / "x.db"
    shutil.copyfile(src, db)
    other = bulk_db(tmp_path / "other.db", wallets=200, trades_per_active=60, seed=8)
    want = _serial_copy(other, tmp_path / "serial.db", NOW)
    pool = ThreadPoolExecutor(max_workers=2)
    try:
        run(RunOptions(db_path=db, now=NOW), executor=pool)
        assert dump_outputs(db) == expected
        os.replace(other, db)
        run(RunOptions(db_path=db, now=NOW), executor=pool)
    finally:
        pool.shutdown()
    assert dump_outputs(db) == want
