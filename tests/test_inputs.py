"""harness.inputs: a run that changes any table but the four outputs is caught, and named."""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from harness import inputs
from tests.harness_support import make_db

Change = Callable[[sqlite3.Connection], None]


@pytest.fixture(params=["pages", "rows"])
def snapshot(request: pytest.FixtureRequest, tmp_path: Path) -> inputs.Reference:
    """A closed snapshot and its reference, by dbstat pages and by the row-by-row fallback."""
    path = make_db(tmp_path / "snapshot.db", wallets=300)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("INSERT INTO markets (condition_id, title, category) VALUES ('c1', 't', 'x')")
        # an input table with an AUTOINCREMENT entry of its own in sqlite_sequence
        conn.execute(
            "INSERT INTO paper_trades (proxy_wallet, condition_id, side, size_usdc,"
            " entry_price, status, created_at) VALUES ('w', 'c1', 'BUY', 1, 0.5,"
            " 'open', '2026-01-01')"
        )
    conn.close()
    ref = inputs.reference(path)
    assert ref.method == "pages"  # this machine's SQLite has dbstat; the fallback is forced below
    if request.param == "rows":
        ref = dataclasses.replace(ref, method="rows")
    return ref


def _run(ref: inputs.Reference, tmp_path: Path, change: Change) -> inputs.Check:
    copy = tmp_path / "run.db"
    shutil.copyfile(ref.path, copy)
    conn = sqlite3.connect(copy, isolation_level=None)
    conn.execute("PRAGMA wal_autocheckpoint = 0")  # the job's last writes stay in its -wal
    change(conn)
    try:
        return inputs.check(ref, copy)
    finally:
        conn.close()


def _write_outputs(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN")
    for i in range(500):
        conn.execute(
            "INSERT INTO wallet_exclusions (proxy_wallet, reason, metric_value, threshold,"
            " excluded_at) VALUES (?, 'R', 1.5, 2.0, '2026-01-01 00:00:00.000')",
            (f"0x{i:040x}",),
        )
    conn.execute(
        "INSERT INTO job_status (job_name, status, updated_at) VALUES ('j', 'idle', 'now')"
    )
    conn.execute("COMMIT")


def test_a_run_that_writes_only_its_outputs_changes_no_input(
    snapshot: inputs.Reference, tmp_path: Path
) -> None:
    """Output rows (and their sqlite_sequence entries, page reuse, file growth) are allowed."""
    check = _run(snapshot, tmp_path, _write_outputs)
    assert check.changed == {}
    assert check.failure() is None


def test_a_vacuum_moves_every_page_but_is_not_a_change(
    snapshot: inputs.Reference, tmp_path: Path
) -> None:
    """Pages that moved are compared row by row: the same rows are not red."""

    def vacuum(conn: sqlite3.Connection) -> None:
        _write_outputs(conn)
        conn.execute("DELETE FROM wallet_exclusions WHERE id % 3 = 0")
        conn.execute("VACUUM")

    check = _run(snapshot, tmp_path, vacuum)
    assert check.changed == {}
    assert "trades_raw" in check.rows_compared  # it did look: the pages had moved


@pytest.mark.parametrize(
    ("sql", "table", "said"),
    [
        ("DELETE FROM trades_raw WHERE id % 2 = 0", "trades_raw", "rows deleted"),
        ("DELETE FROM trades_raw WHERE id = 7", "trades_raw", "1 rows deleted, 0 added"),
        ("UPDATE wallets SET is_active = 0", "wallets", "0 added, 282 changed"),
        ("UPDATE trades_raw SET price = price + 1e-9 WHERE id = 3", "trades_raw", "1 changed"),
        ("INSERT INTO markets (condition_id, title) VALUES ('new', 't')", "markets", "1 added"),
        ("DROP TABLE markets", "markets", "table markets dropped"),
        ("CREATE TABLE scratch (x)", "scratch", "table scratch created"),
        ("CREATE INDEX i_size ON trades_raw (size)", "trades_raw", "index i_size created"),
        ("DROP INDEX idx_trades_raw_condition", "trades_raw", "dropped"),
        ("ALTER TABLE wallets ADD COLUMN extra TEXT", "wallets", "schema of table wallets"),
        (
            "UPDATE sqlite_sequence SET seq = 99 WHERE name = 'paper_trades'",
            "paper_trades",
            "sqlite_sequence 1 -> 99",
        ),
    ],
)
def test_each_kind_of_input_change_is_named(
    snapshot: inputs.Reference, tmp_path: Path, sql: str, table: str, said: str
) -> None:
    """Rows deleted, changed, added; tables, indexes, schema, sequence entries."""

    def change(conn: sqlite3.Connection) -> None:
        _write_outputs(conn)
        conn.execute(sql)

    check = _run(snapshot, tmp_path, change)
    assert list(check.changed) == [table], check.changed
    assert said in check.changed[table]
    assert table in (check.failure() or "")


def test_a_row_deleted_and_put_back_is_no_change(
    snapshot: inputs.Reference, tmp_path: Path
) -> None:
    """Content counts, not history: the same row under the same rowid is the same table."""

    def round_trip(conn: sqlite3.Connection) -> None:
        row = conn.execute("SELECT * FROM wallets WHERE rowid = 5").fetchone()
        conn.execute("DELETE FROM wallets WHERE rowid = 5")
        conn.execute(f"INSERT INTO wallets VALUES ({', '.join('?' * len(row))})", row)

    assert _run(snapshot, tmp_path, round_trip).changed == {}


def test_compare_rows_merges_a_without_rowid_table_by_its_key(tmp_path: Path) -> None:
    """A WITHOUT ROWID table is walked by its key (text in byte order); 1 and 1.0 differ."""
    ref, copy = tmp_path / "a.db", tmp_path / "b.db"
    for path, rows in ((ref, ["b", "a", "é", "Z"]), (copy, ["a", "é", "c", "Z"])):
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v) WITHOUT ROWID")
        conn.executemany("INSERT INTO t VALUES (?, 1)", [(k,) for k in rows])
        if path == copy:
            conn.execute("UPDATE t SET v = 1.0 WHERE k = 'Z'")  # the same value as a REAL
        conn.commit()
        conn.close()
    assert inputs.compare_rows(ref, copy, "t") == (1, 1, 1)  # b missing, c added, Z changed


def test_a_table_the_operator_compares_is_an_output_too(tmp_path: Path) -> None:
    """With ``--table markets`` the job may write markets; other inputs stay guarded."""
    path = make_db(tmp_path / "snapshot.db", wallets=50)
    ref = inputs.reference(path, (*inputs.OUTPUT_TABLES, "markets"))
    assert "markets" not in ref.tables

    def change(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO markets (condition_id, title) VALUES ('new', 't')")
        conn.execute("DELETE FROM wallets WHERE rowid = 3")

    assert list(_run(ref, tmp_path, change).changed) == ["wallets"]
