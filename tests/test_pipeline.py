"""Whole runs on real WAL databases: determinism, the readiness gate, bad databases, errors."""

from __future__ import annotations

import json
import logging
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from classifier import PersonaConfig, RunOptions, run
from classifier.store import DatabaseError
from persona_bench.kernel.errors import UserError
from tests.helpers import (
    DAY,
    NOW,
    build_db,
    bulk_db,
    classify_cli,
    dump_outputs,
    history,
    job_meta,
    trade,
    wallet,
)


@pytest.fixture(scope="module")
def bulk_source(tmp_path_factory) -> Path:
    """A 600-wallet database (never written: tests classify copies)."""
    return bulk_db(tmp_path_factory.mktemp("bulk") / "bulk.db")


def copy_db(src: Path, dst: Path) -> Path:
    shutil.copyfile(src, dst)
    return dst


def test_two_runs_with_the_same_now_write_identical_rows(bulk_source, tmp_path):
    """Same database, same now: every output row identical, ids included."""
    a = copy_db(bulk_source, tmp_path / "a.db")
    b = copy_db(bulk_source, tmp_path / "b.db")
    run(RunOptions(db_path=a, now=NOW, tasks=0))
    run(RunOptions(db_path=b, now=NOW, tasks=0, config=PersonaConfig(chunk_size=7)))
    assert dump_outputs(a) == dump_outputs(b)
    assert len(dump_outputs(a)["wallet_exclusions"]) > 100


def test_rerun_on_the_same_database_keeps_history_and_is_deterministic(bulk_source, tmp_path):
    """A second run (later now) on an already classified copy gives the same rows twice."""
    a = copy_db(bulk_source, tmp_path / "a.db")
    b = copy_db(bulk_source, tmp_path / "b.db")
    for db in (a, b):
        run(RunOptions(db_path=db, now=NOW, tasks=0))
        run(RunOptions(db_path=db, now=NOW + 3600, tasks=0))
    assert dump_outputs(a) == dump_outputs(b)
    personas = dump_outputs(a)["wallet_personas"]
    stamps = {dict(r)["classified_at"] for r in personas}
    assert stamps == {"2026-05-28 20:26:40.000", "2026-05-28 21:26:40.000"}


def test_feature_errors_are_counted_logged_and_skipped(bulk_source, tmp_path, caplog):
    """A price stored as text fails that wallet only: counted, logged with wallet and error."""
    db = copy_db(bulk_source, tmp_path / "a.db")
    with caplog.at_level(logging.WARNING, logger="classifier"):
        summary = run(RunOptions(db_path=db, now=NOW, tasks=0))
    assert summary["counters"]["errors"] == len(summary["failures"]) > 0
    first = summary["failures"][0]
    assert "price is text 'n/a' (expected INTEGER or REAL)" in first["error"]
    assert f"wallet {first['wallet']}: features failed: {first['error']}" in caplog.text
    meta = job_meta(db)
    assert meta["errors"] == summary["counters"]["errors"]
    c = summary["counters"]
    assert c["processed"] == (
        c["stage1_no_trades"] + c["stage1_other"] + c["stage2_excluded"] + c["suitable"]
    )


def test_no_active_wallets_writes_only_job_status(tmp_path):
    """Readiness gate: no active wallet -> idle, {"classified":0,"skipped":"no wallets"}."""
    db = build_db(
        tmp_path / "a.db", {"wallets": [wallet("0xa", active=0)], "trades_raw": history("0xa", 20)}
    )
    summary = run(RunOptions(db_path=db, now=NOW, tasks=0))
    out = dump_outputs(db)
    assert out["wallet_exclusions"] == out["wallet_personas"] == []
    assert job_meta(db) == {"classified": 0, "skipped": "no wallets"}
    assert summary["skipped"] == "no wallets"


def test_insufficient_history_gate_metadata(tmp_path):
    """No active wallet with 10 trades and a first trade 7 days back: the gate's metadata."""
    rows = history("0xa", 9, first=NOW - 30 * DAY) + history("0xb", 30, first=NOW - 6 * DAY)
    db = build_db(
        tmp_path / "a.db", {"wallets": [wallet("0xa"), wallet("0xb")], "trades_raw": rows}
    )
    run(RunOptions(db_path=db, now=NOW, tasks=0))
    assert job_meta(db) == {
        "classified": 0,
        "skipped": "insufficient trade history",
        "total_wallets": 2,
        "min_trades_required": 10,
        "min_tracking_days": 7,
    }
    assert dump_outputs(db)["wallet_exclusions"] == []
    # one more old trade for 0xb opens the gate
    conn = sqlite3.connect(db)
    conn.execute(
        "INSERT INTO trades_raw (proxy_wallet, condition_id, side, size, price, timestamp)"
        " VALUES ('0xb', 'm1', 'BUY', 1, 0.5, ?)",
        (NOW - 7 * DAY,),
    )
    conn.commit()
    conn.close()
    run(RunOptions(db_path=db, now=NOW, tasks=0))
    assert job_meta(db)["completed"] is True


def test_job_status_final_row(bulk_source, tmp_path):
    """Final job_status: idle, the run's timestamp without milliseconds (production's
    datetime('now')), counters + total + classified + completed."""
    db = copy_db(bulk_source, tmp_path / "a.db")
    summary = run(RunOptions(db_path=db, now=NOW, tasks=0))
    (row,) = dump_outputs(db, ignore_duration=False)["job_status"]
    rec = dict(row)
    assert (rec["status"], rec["last_run_at"], rec["updated_at"], rec["last_error"]) == (
        "idle",
        "2026-05-28 20:26:40",
        "2026-05-28 20:26:40",
        None,
    )
    assert isinstance(rec["duration_ms"], int)
    meta = json.loads(rec["metadata"])
    assert {k: meta[k] for k in summary["counters"]} == summary["counters"]
    assert (meta["total"], meta["classified"], meta["completed"]) == (
        summary["total"],
        summary["counters"]["processed"],
        True,
    )


# -- bad databases ----------------------------------------------------------------------------


def _not_sqlite(p: Path) -> None:
    p.write_text("hello, this is not a database at all" * 10)


def _truncated(p: Path) -> None:
    bulk_db(p, wallets=50)
    data = p.read_bytes()
    p.unlink()
    p.write_bytes(data[: len(data) // 3])


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "does not exist"),
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: p.write_bytes(b""), "is an empty file"),
        (_not_sqlite, "is not a SQLite database"),
        (_truncated, "corrupt or truncated|is truncated|is not a SQLite database|malformed"),
    ],
    ids=["missing", "directory", "empty", "not-sqlite", "truncated"],
)
def test_bad_database_files_exit_2_with_one_line(tmp_path, make, message):
    """Each bad file gives one line on stderr, exit 2, and no file is created or changed."""
    db = tmp_path / "x.db"
    make(db)
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = classify_cli("--db", str(db), "--now", str(NOW))
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr
    assert re.search(message, proc.stderr), proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("DROP TABLE markets", "input table markets is missing"),
        ("ALTER TABLE trades_raw DROP COLUMN side", "column trades_raw.side is missing"),
        ("ALTER TABLE wallets DROP COLUMN is_active", "column wallets.is_active is missing"),
    ],
)
def test_missing_input_table_or_column_is_refused_before_any_write(tmp_path, sql, message):
    """A database lacking an input table or column is refused, naming it; nothing is written."""
    db = build_db(tmp_path / "a.db", {"wallets": [wallet("0xa")], "trades_raw": history("0xa", 20)})
    conn = sqlite3.connect(db)
    conn.execute("DROP TABLE job_status")
    conn.execute(sql)
    conn.commit()
    conn.close()
    proc = classify_cli("--db", str(db), "--now", str(NOW))
    assert proc.returncode == 2
    assert message in proc.stderr
    conn = sqlite3.connect(db)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn.close()
    assert "job_status" not in tables  # refused before creating output tables


def test_missing_output_tables_are_created(tmp_path):
    """Output tables missing from the database are created with their constraints."""
    db = build_db(tmp_path / "a.db", {"wallets": [wallet("0xa")], "trades_raw": history("0xa", 20)})
    conn = sqlite3.connect(db)
    for t in ("wallet_personas", "wallet_exclusions", "wallet_persona_traits", "job_status"):
        conn.execute(f"DROP TABLE {t}")
    conn.commit()
    conn.close()
    run(RunOptions(db_path=db, now=NOW, tasks=0))
    assert job_meta(db)["completed"] is True


def test_locked_database_waits_then_says_so(tmp_path):
    """Another process holds an exclusive lock: classify waits --busy-timeout, then exit 2."""
    db = build_db(tmp_path / "a.db", {"wallets": [wallet("0xa")], "trades_raw": history("0xa", 20)})
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            f"c = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
            "c.execute('PRAGMA locking_mode = EXCLUSIVE'); c.execute('BEGIN EXCLUSIVE')\n"
            "print('locked', flush=True); time.sleep(30)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        start = time.monotonic()
        proc = classify_cli("--db", str(db), "--now", str(NOW), "--busy-timeout", "1")
        waited = time.monotonic() - start
    finally:
        holder.kill()
        holder.communicate()
    assert proc.returncode == 2
    assert "is locked by another process (waited 1 s)" in proc.stderr
    assert waited >= 0.9


def test_a_database_another_writer_holds_is_refused_in_one_line(tmp_path):
    """Another writer holds a write transaction: classify waits --busy-timeout once, then one
    line and exit 2; nothing of the run is written (job_status included)."""
    db = build_db(tmp_path / "a.db", {"wallets": [wallet("0xa")], "trades_raw": history("0xa", 20)})
    run(RunOptions(db_path=db, now=NOW - DAY, tasks=0))
    before = dump_outputs(db, ignore_duration=False)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys\n"
            f"c = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE')\n"
            "c.execute(\"UPDATE wallets SET discovered_from = 'x'\")\n"
            "print('locked', flush=True); sys.stdin.readline()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        proc = classify_cli("--db", str(db), "--now", str(NOW), "--busy-timeout", "0.5")
    finally:
        holder.communicate("done\n")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "is locked by another process (waited 0.5 s)" in proc.stderr
    assert dump_outputs(db, ignore_duration=False) == before


@pytest.mark.parametrize(
    ("table", "ddl", "message"),
    [
        (
            "wallet_personas",
            "CREATE TABLE wallet_personas (id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " proxy_wallet TEXT NOT NULL, persona TEXT NOT NULL, confidence REAL NOT NULL,"
            " classified_at TEXT NOT NULL, UNIQUE(proxy_wallet, classified_at))",
            "column wallet_personas.feature_values_json is missing",
        ),
        (
            "wallet_persona_traits",
            "CREATE TABLE wallet_persona_traits (id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " proxy_wallet TEXT NOT NULL, trait_key TEXT NOT NULL, trait_value TEXT NOT NULL,"
            " computed_at TEXT NOT NULL)",
            "cannot take the job's writes (ON CONFLICT clause does not match",
        ),
    ],
    ids=["missing-column", "missing-unique-key"],
)
def test_an_unusable_output_table_is_refused_before_any_write(tmp_path, table, ddl, message):
    """An output table the job's writes cannot go into is refused in one line, exit 2, before
    any write: job_status keeps the previous run's row."""
    db = build_db(tmp_path / "a.db", {"wallets": [wallet("0xa")], "trades_raw": history("0xa", 20)})
    run(RunOptions(db_path=db, now=NOW - DAY, tasks=0))
    conn = sqlite3.connect(db)
    conn.execute(f"DROP TABLE {table}")
    conn.execute(ddl)
    conn.commit()
    conn.close()
    before = dump_outputs(db, ignore_duration=False)
    proc = classify_cli("--db", str(db), "--now", str(NOW))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert message in proc.stderr
    assert dump_outputs(db, ignore_duration=False) == before


@pytest.mark.parametrize("now", ["100000000000000000000", "1e20", "-1", "0001-01-01"])
def test_a_now_out_of_range_is_bad_input(tmp_path, now):
    """--now beyond what a timestamp can hold is refused as bad input (was OverflowError)."""
    db = build_db(tmp_path / "a.db", {"wallets": [wallet("0xa")], "trades_raw": history("0xa", 20)})
    proc = classify_cli("--db", str(db), f"--now={now}")
    assert proc.returncode == 2, proc.stderr
    assert "argument --now: expected" in proc.stderr and "Traceback" not in proc.stderr
    with pytest.raises(UserError, match="now must be a time from 1970 to 9999"):
        run(RunOptions(db_path=db, now=10**20))


def test_library_raises_named_errors(tmp_path):
    """From Python, a bad database raises DatabaseError (a UserError), not sqlite3's errors."""
    with pytest.raises(DatabaseError, match="does not exist"):
        run(RunOptions(db_path=tmp_path / "nope.db", now=NOW))
    assert not (tmp_path / "nope.db").exists()


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ({12: "side = NULL"}, "trades_raw id 12: side is NULL"),
        # two refused rows: the first in (timestamp, id) order is named, not the lowest id
        ({10: "size = 'x'", 13: "price = 'p'"}, "trades_raw id 13: price is text 'p'"),
        ({11: "side = x'00ff'"}, "trades_raw id 11: side is a blob"),
        ({11: "side = CAST(x'c3' AS TEXT)"}, "trades_raw id 11: side is text that is not"),
    ],
)
def test_the_store_names_a_refused_window_row_by_its_id(tmp_path, bad, expected):
    """Window rows are read without their id; only a refused row's id is read, in the same read
    transaction: the error names the row production's read fails on, in (timestamp, id) order."""
    from classifier import store
    from classifier.features import FeatureError

    w = "0xw"
    stamps = {10: NOW - 5, 11: NOW - 60, 12: NOW - 60, 13: NOW - 90}  # order: 13, 11, 12, 10
    trades = [{"id": i, **trade(w, ts)} for i, ts in stamps.items()]
    db = build_db(tmp_path / "x.db", {"wallets": [wallet(w)], "trades_raw": trades})
    with sqlite3.connect(db) as conn:
        for row_id, change in bad.items():
            conn.execute(f"UPDATE trades_raw SET {change} WHERE id = ?", (row_id,))
    conn.close()
    reader = store.open_reader(db)
    try:
        with pytest.raises(FeatureError, match=rf"^{expected}"):
            store.WalletReader(reader).inputs(w, NOW - 180 * DAY)
        assert not reader.in_transaction  # the read transaction ended with the error
    finally:
        reader.close()
