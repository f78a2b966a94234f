"""All of the job's SQL: opening the database, schema checks, reads and one-chunk writes.

The writer opens the database read-write (WAL, foreign keys, busy timeout) and never creates a
missing file. Feature workers open it read-only (``mode=ro``), one connection each.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from classifier.features import BadTradeRow, WalletInputs, trades_from_window
from classifier.sqlmath import describe
from classifier.stage1 import WalletSummary
from persona_bench.kernel.errors import UserError
from persona_bench.kernel.sqlitefile import check_sqlite_file

JOB_NAME = "persona_classification"
# WAL pages the writer lets accumulate before it checkpoints at a commit (SQLite's default is
# 1000, 4 MiB at 4 KiB pages): each checkpoint syncs the file while the writer waits, and a run
# rewrites the same index and job_status pages chunk after chunk. The run checkpoints once at
# its end anyway (``checkpoint``).
WAL_AUTOCHECKPOINT_PAGES = 16_384

INPUT_COLUMNS: dict[str, tuple[str, ...]] = {
    "wallets": ("proxy_wallet", "discovered_from", "discovered_at", "is_active"),
    "trades_raw": ("id", "proxy_wallet", "condition_id", "side", "size", "price", "timestamp"),
    "markets": ("condition_id", "title", "category"),
    "paper_trades": ("proxy_wallet", "status", "pnl", "created_at"),
    "paper_positions": ("proxy_wallet", "condition_id"),
    "positions_snapshots": ("id", "proxy_wallet", "condition_id", "cash_pnl", "snapshot_at"),
}

OUTPUT_DDL: dict[str, str] = {
    "wallet_personas": """CREATE TABLE IF NOT EXISTS wallet_personas (
        id INTEGER PRIMARY KEY AUTOINCREMENT, proxy_wallet TEXT NOT NULL, persona TEXT NOT NULL,
        confidence REAL NOT NULL, feature_values_json TEXT, classified_at TEXT NOT NULL,
        UNIQUE(proxy_wallet, classified_at))""",
    "wallet_exclusions": """CREATE TABLE IF NOT EXISTS wallet_exclusions (
        id INTEGER PRIMARY KEY AUTOINCREMENT, proxy_wallet TEXT NOT NULL, reason TEXT NOT NULL,
        metric_value REAL, threshold REAL, excluded_at TEXT NOT NULL,
        UNIQUE(proxy_wallet, reason))""",
    "wallet_persona_traits": """CREATE TABLE IF NOT EXISTS wallet_persona_traits (
        id INTEGER PRIMARY KEY AUTOINCREMENT, proxy_wallet TEXT NOT NULL, trait_key TEXT NOT NULL,
        trait_value TEXT NOT NULL, computed_at TEXT NOT NULL, UNIQUE(proxy_wallet, trait_key))""",
    "job_status": """CREATE TABLE IF NOT EXISTS job_status (
        job_name TEXT PRIMARY KEY, status TEXT NOT NULL, last_run_at TEXT, duration_ms INTEGER,
        last_error TEXT, metadata TEXT, updated_at TEXT NOT NULL)""",
}
OUTPUT_COLUMNS: dict[str, tuple[str, ...]] = {
    "wallet_personas": (
        "id",
        "proxy_wallet",
        "persona",
        "confidence",
        "feature_values_json",
        "classified_at",
    ),
    "wallet_exclusions": (
        "id",
        "proxy_wallet",
        "reason",
        "metric_value",
        "threshold",
        "excluded_at",
    ),
    "wallet_persona_traits": ("id", "proxy_wallet", "trait_key", "trait_value", "computed_at"),
    "job_status": (
        "job_name",
        "status",
        "last_run_at",
        "duration_ms",
        "last_error",
        "metadata",
        "updated_at",
    ),
}


class DatabaseError(UserError):
    """The database is missing, not SQLite, corrupt, locked, or lacks a table or column."""


def describe_sqlite_error(path: Path, exc: sqlite3.Error, busy_timeout: float) -> str:
    """One line for a SQLite error met while opening or checking ``path``."""
    name = getattr(exc, "sqlite_errorname", "")
    if name.startswith("SQLITE_BUSY") or "locked" in str(exc):
        return f"database {path} is locked by another process (waited {busy_timeout:g} s)"
    if name in ("SQLITE_NOTADB", "SQLITE_CORRUPT") or "malformed" in str(exc):
        return f"database {path} is corrupt or truncated ({name or exc})"
    return f"database {path}: {name or type(exc).__name__}: {exc}"


def is_busy(exc: sqlite3.Error) -> bool:
    """The error is another connection's lock outlasting the busy timeout."""
    name = getattr(exc, "sqlite_errorname", "")
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in str(exc)


def _connect(path: Path, mode: str, busy_timeout: float, **kw: Any) -> sqlite3.Connection:
    """``mode=rw`` or ``mode=ro``: a URI connection never creates a missing file."""
    conn = sqlite3.connect(
        f"file:{quote(str(path))}?mode={mode}", uri=True, timeout=busy_timeout, **kw
    )
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    return conn


def open_writer(path: Path, busy_timeout: float = 30.0) -> sqlite3.Connection:
    """The job's read-write connection, schema checked and output tables created."""
    check_sqlite_file(path, DatabaseError)
    conn = None
    try:
        conn = _connect(path, "rw", busy_timeout, isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
        check_inputs(conn)
        _ensure_outputs(conn)
    except BaseException as exc:
        if conn is not None:
            conn.close()  # never leak it, whatever refused the database
        if isinstance(exc, sqlite3.Error):
            raise DatabaseError(describe_sqlite_error(path, exc, busy_timeout)) from None
        raise
    return conn


def open_reader(path: Path, busy_timeout: float = 30.0) -> sqlite3.Connection:
    """A read-only connection for a feature worker (WAL allows many beside the writer)."""
    return _connect(path, "ro", busy_timeout, check_same_thread=False)


def open_snapshot_reader(path: Path, busy_timeout: float = 30.0) -> sqlite3.Connection:
    """A read-only connection to a closed, verified snapshot (``worker_snapshot``).

    ``immutable=1``: SQLite takes no lock and reads no WAL index, which is right only for a file
    nobody writes (on a live database it misses WAL pages, ../shared/NOTES-sqlite.md).
    """
    return _connect(path, "ro&immutable=1", busy_timeout, check_same_thread=False)


def _columns(conn: sqlite3.Connection, table: str) -> set[str] | None:
    rows = conn.execute("SELECT name FROM pragma_table_info(?)", (table,)).fetchall()
    return {r[0] for r in rows} if rows else None


def check_inputs(conn: sqlite3.Connection) -> None:
    """Refuse a database that lacks an input table or a used column, naming it."""
    for table, needed in INPUT_COLUMNS.items():
        have = _columns(conn, table)
        if have is None:
            raise DatabaseError(f"input table {table} is missing (expected the production schema)")
        for col in needed:
            if col not in have:
                raise DatabaseError(f"column {table}.{col} is missing (expected in input table)")


def _ensure_outputs(conn: sqlite3.Connection) -> None:
    """Refuse unusable output tables, then create the missing ones; nothing written before.

    Every write statement of a run is compiled (``EXPLAIN``, which runs nothing) once the
    tables exist, so a missing column or a missing UNIQUE key behind an ``ON CONFLICT`` is
    refused here, before the run's first row, rather than after its ``starting`` row.
    """
    missing = []
    for table, needed in OUTPUT_COLUMNS.items():
        have = _columns(conn, table)
        if have is None:
            missing.append(table)
            continue
        for col in needed:
            if col not in have:
                raise DatabaseError(f"column {table}.{col} is missing (expected in output table)")
    if missing:
        conn.execute("BEGIN IMMEDIATE")
        for table in missing:
            conn.execute(OUTPUT_DDL[table])
        _check_writes(conn)
        conn.execute("COMMIT")
    else:
        _check_writes(conn)


def _check_writes(conn: sqlite3.Connection) -> None:
    for sql, n in _WRITES:
        try:
            conn.execute(f"EXPLAIN {sql}", (None,) * n)
        except sqlite3.OperationalError as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            first = " ".join(sql.split())[:60]
            raise DatabaseError(
                f"the output tables cannot take the job's writes ({exc}; in: {first} ...)"
            ) from None


# -- reads -----------------------------------------------------------------------------------
#
# Production reads with typed getters: a TEXT value that is not valid UTF-8 fails its read, where
# Python's sqlite3 would raise at fetch time. Such rows are re-read leniently (``_lenient_text``)
# so that they can be named and handled as production handles them.


@dataclass(frozen=True, slots=True)
class InvalidText:
    """A TEXT value that is not valid UTF-8 (production's typed read refuses it)."""

    raw: bytes


@dataclass(frozen=True, slots=True)
class Unreadable:
    """An active ``wallets`` row whose ``proxy_wallet`` production cannot read as a string."""

    why: str


class RowError(UserError):
    """A row that makes production's job abort the run (SPEC 2.7): the run fails at its chunk."""


def _decode(raw: bytes) -> str | InvalidText:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return InvalidText(raw)


@contextmanager
def _lenient_text(conn: sqlite3.Connection) -> Iterator[None]:
    """Within the block, invalid UTF-8 text is read as ``InvalidText`` instead of raising."""
    saved = conn.text_factory
    conn.text_factory = _decode
    try:
        yield
    finally:
        conn.text_factory = saved


def _is_decode_error(exc: sqlite3.Error) -> bool:
    return "decode" in str(exc) and "UTF-8" in str(exc)


_ACTIVE = "SELECT proxy_wallet FROM wallets WHERE is_active = 1"
_JOB_ORDER = " ORDER BY proxy_wallet COLLATE BINARY"


def _fetch_lenient(conn: sqlite3.Connection, sql: str, args: tuple[Any, ...]) -> list[Any]:
    try:
        return conn.execute(sql, args).fetchall()
    except sqlite3.OperationalError as exc:
        if not _is_decode_error(exc):
            raise
        with _lenient_text(conn):  # rare: an address that is not valid UTF-8
            return conn.execute(sql, args).fetchall()


def _entries(rows: list[Any]) -> list[str | Unreadable]:
    return [
        r[0] if type(r[0]) is str else Unreadable(f"proxy_wallet is {describe(r[0])}") for r in rows
    ]


def active_wallets(conn: sqlite3.Connection) -> list[str | Unreadable]:
    """Active wallets in byte order (BINARY collation), as the job walks them.

    SQLite sorts NULL first, then numbers, text, blobs. An entry production cannot read as a
    string (NULL, a blob, text that is not valid UTF-8) is an ``Unreadable``: production aborts
    the run at the chunk holding it.
    """
    return _entries(_fetch_lenient(conn, _ACTIVE + _JOB_ORDER, ()))


def count_active(conn: sqlite3.Connection, through: str | None = None) -> int:
    """How many active wallets there are; with ``through``, how many come up to and including
    it in the job's order."""
    sql = "SELECT COUNT(*) FROM wallets WHERE is_active = 1"
    if through is None:
        return int(conn.execute(sql).fetchone()[0])
    sql += " AND proxy_wallet COLLATE BINARY <= ?"
    return int(conn.execute(sql, (through,)).fetchone()[0])


def active_wallet_pages(
    conn: sqlite3.Connection, size: int, after: str | None = None
) -> Iterator[list[str | Unreadable]]:
    """The active wallets after ``after`` (all of them when None), in the job's order, ``size``
    at a time: ``active_wallets`` in pages.

    Each page is one query, keyed on the last wallet of the page before (a seek on the
    ``proxy_wallet`` key), so that the writer never holds the whole list and no read
    transaction spans the run. The walk ends at a page holding an ``Unreadable`` (the run stops
    at it); every such entry but invalid text sorts before all text or after it, so a text key
    never skips one.
    """
    last = after
    while True:
        if last is None:
            rows = _fetch_lenient(conn, f"{_ACTIVE}{_JOB_ORDER} LIMIT ?", (size,))
        else:
            sql = f"{_ACTIVE} AND proxy_wallet COLLATE BINARY > ?{_JOB_ORDER} LIMIT ?"
            rows = _fetch_lenient(conn, sql, (last, size))
        page = _entries(rows)
        if not page:
            return
        yield page
        tail = page[-1]
        if len(page) < size or any(isinstance(e, Unreadable) for e in page):
            return
        assert isinstance(tail, str)
        last = tail


def has_ready_wallet(conn: sqlite3.Connection, min_trades: int, first_before: int) -> bool:
    """Readiness gate: some active wallet has ``min_trades`` trades and an old enough first one.

    ``MIN`` as SQLite orders values (a text timestamp sorts above every number). Correlated per
    wallet on the (proxy_wallet, timestamp) index, so EXISTS stops at the first ready wallet
    rather than grouping every trade (docs/design.md).
    """
    row = conn.execute(
        """SELECT EXISTS (
            SELECT 1 FROM wallets w WHERE w.is_active = 1
            AND (SELECT COUNT(*) FROM trades_raw t WHERE t.proxy_wallet = w.proxy_wallet) >= ?
            AND (SELECT MIN(timestamp) FROM trades_raw t
                 WHERE t.proxy_wallet = w.proxy_wallet) <= ?)""",
        (min_trades, first_before),
    ).fetchone()
    return bool(row[0])


# Production's Stage-1 date math (SPEC 3), with its clock ``'now'`` replaced by the run's ``now``
# (the same julian day to the millisecond): whole days between now and the first/last trade as
# SQLite computes them, NULL when the first/last value is not a time SQLite can date.
_DAYS_SINCE = (
    "CAST((julianday(:now, 'unixepoch') - julianday(datetime({agg}, 'unixepoch'))) AS INTEGER)"
)
# Per wallet of the chunk, on the (proxy_wallet, timestamp) index: MIN and MAX are one index seek
# each (SQLite's min/max optimisation, same ordering and NULL handling as the aggregates), and
# the count stops at :cap rows: no pass over every trade of the chunk's wallets, as a GROUP BY
# would make (docs/design.md).
_EDGE = "(SELECT {agg}(timestamp) FROM trades_raw t WHERE t.proxy_wallet = j.value)"
_STAGE1 = f"""SELECT j.value,
        (SELECT COUNT(*) FROM (SELECT 1 FROM trades_raw t WHERE t.proxy_wallet = j.value
                               LIMIT :cap)),
        {_DAYS_SINCE.format(agg=_EDGE.format(agg="MIN"))},
        {_DAYS_SINCE.format(agg=_EDGE.format(agg="MAX"))}
    FROM json_each(:wallets) j"""


def stage1_summaries(
    conn: sqlite3.Connection, wallets: Sequence[str], now: int, count_cap: int
) -> list[WalletSummary]:
    """The trade count (up to ``count_cap``) and the days since the first and last trade of
    each wallet, in order.

    Stage 1 only asks whether a wallet has fewer trades than the minimum (and, if so, how many,
    and whether none): with ``count_cap`` = that minimum (at least 1) the capped count answers
    exactly as the full one. One query per chunk.
    """
    rows = conn.execute(
        _STAGE1, {"now": now, "wallets": json.dumps(list(wallets)), "cap": max(count_cap, 1)}
    )
    found = {r[0]: r for r in rows}
    return [WalletSummary(w, *found[w][1:]) for w in wallets]


# The window trades in (timestamp, id) order, without the id: a Python int a row that only an
# error message needs (docs/design.md). The id of a refused row is read then, in the same read
# transaction as the rows (``_WINDOW_TRADE_ID``).
_WINDOW_TRADES = """SELECT condition_id, side, size, price, timestamp FROM trades_raw
    WHERE proxy_wallet = ? AND timestamp >= ? ORDER BY timestamp, id"""
_WINDOW_TRADE_ID = """SELECT id FROM trades_raw WHERE proxy_wallet = ? AND timestamp >= ?
    ORDER BY timestamp, id LIMIT 1 OFFSET ?"""


@contextmanager
def _read_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """Within the block, every read sees the same database (one read transaction)."""
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")  # ends a read: nothing to write


def _sum_or_zero(conn: sqlite3.Connection, sql: str, args: tuple[Any, ...]) -> Any:
    """``SUM`` as production reads it: an integer overflow error counts as 0.0."""
    try:
        return conn.execute(sql, args).fetchone()[0]
    except sqlite3.OperationalError as exc:
        if "integer overflow" not in str(exc):
            raise
        return 0.0


class WalletReader:
    """Reads the rows the features of one wallet need, on one connection.

    Market categories are read once per reader (thousands of rows) rather than joined onto every
    trade row: the join took a third of the feature phase on the prod fixture.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._domains: dict[Any, Any] | None = None

    def domains(self) -> dict[Any, Any]:
        """condition_id -> category, 'unknown' for a NULL category (any storage class)."""
        if self._domains is None:
            with _lenient_text(self.conn):
                self._domains = dict(
                    self.conn.execute(
                        "SELECT condition_id, COALESCE(category, 'unknown') FROM markets"
                    ).fetchall()
                )
        return self._domains

    def inputs(self, wallet: str, cutoff: int) -> WalletInputs:
        """Everything for ``wallet``; raises FeatureError where production's typed reads fail."""
        conn = self.conn
        domains = self.domains()
        with _read_transaction(conn):
            try:
                rows = conn.execute(_WINDOW_TRADES, (wallet, cutoff)).fetchall()
            except sqlite3.OperationalError as exc:
                if not _is_decode_error(exc):
                    raise
                with _lenient_text(conn):  # rare: some text is not valid UTF-8
                    rows = conn.execute(_WINDOW_TRADES, (wallet, cutoff)).fetchall()
            try:  # raises before the other queries
                trades = trades_from_window(rows, domains)
            except BadTradeRow as bad:
                args = (wallet, cutoff, bad.index)
                raise bad.naming(conn.execute(_WINDOW_TRADE_ID, args).fetchone()[0]) from None
        # production's cutoff text: datetime(cutoff, 'unixepoch'), compared as SQLite compares
        (settled,) = conn.execute(
            """SELECT COUNT(*) FROM paper_trades WHERE proxy_wallet = ? AND status != 'open'
               AND created_at >= datetime(?, 'unixepoch')""",
            (wallet, cutoff),
        ).fetchone()
        paper_pnl = None
        if settled:
            paper_pnl = _sum_or_zero(
                conn,
                """SELECT SUM(pnl) FROM paper_trades WHERE proxy_wallet = ? AND status != 'open'
                   AND created_at >= datetime(?, 'unixepoch')""",
                (wallet, cutoff),
            )
        # The latest window snapshot of each (wallet, market), matched as a row value: '='
        # throughout, so a NULL condition_id never matches (as in production).
        snapshot_pnl = (
            None
            if settled
            else _sum_or_zero(
                conn,
                """SELECT SUM(cash_pnl) FROM positions_snapshots
                   WHERE proxy_wallet = ?1 AND snapshot_at >= datetime(?2, 'unixepoch')
                   AND (proxy_wallet, condition_id, snapshot_at) IN (
                       SELECT proxy_wallet, condition_id, MAX(snapshot_at)
                       FROM positions_snapshots
                       WHERE proxy_wallet = ?1 AND snapshot_at >= datetime(?2, 'unixepoch')
                       GROUP BY proxy_wallet, condition_id)""",
                (wallet, cutoff),
            )
        )
        (positions,) = conn.execute(
            "SELECT COUNT(DISTINCT condition_id) FROM paper_positions WHERE proxy_wallet = ?",
            (wallet,),
        ).fetchone()
        return WalletInputs(wallet, trades, settled, paper_pnl, snapshot_pnl, positions)


def job_row(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """This job's ``job_status`` row, or None."""
    cur = conn.execute("SELECT * FROM job_status WHERE job_name = ?", (JOB_NAME,))
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cur.description], row, strict=True))


# -- writes (the caller holds the transaction) -----------------------------------------------


@dataclass
class ChunkWrites:
    """Every row one chunk changes, each list in wallet order.

    Only the order of the inserts into a table decides the ids it hands out (AUTOINCREMENT never
    reuses one, and no two statements of a chunk touch the same row), so each kind of statement
    runs as one batch and the rows are exactly those of SPEC's statement-per-wallet sequence.
    """

    stage1_cleared: list[tuple[str]] = field(default_factory=list)
    trait_deletes: list[tuple[str, str]] = field(default_factory=list)
    trait_upserts: list[tuple[str, str, str, str]] = field(default_factory=list)
    exclusions: list[tuple[str, str, float | None, float | None, str]] = field(default_factory=list)
    personas: list[tuple[str, str, float, str]] = field(default_factory=list)


_CLEAR_STAGE1 = "DELETE FROM wallet_exclusions WHERE proxy_wallet = ? AND reason LIKE 'STAGE1_%'"
_DELETE_TRAIT = "DELETE FROM wallet_persona_traits WHERE proxy_wallet = ? AND trait_key = ?"
_UPSERT_TRAIT = """INSERT INTO wallet_persona_traits
           (proxy_wallet, trait_key, trait_value, computed_at)
           VALUES (?, ?, ?, ?) ON CONFLICT(proxy_wallet, trait_key) DO UPDATE SET
           trait_value = excluded.trait_value, computed_at = excluded.computed_at"""
_EXCLUDE = """INSERT OR REPLACE INTO wallet_exclusions
           (proxy_wallet, reason, metric_value, threshold, excluded_at) VALUES (?, ?, ?, ?, ?)"""
_PERSONA = """INSERT OR REPLACE INTO wallet_personas
           (proxy_wallet, persona, confidence, feature_values_json, classified_at)
           VALUES (?, ?, ?, NULL, ?)"""
_JOB_STATUS = """INSERT INTO job_status (job_name, status, last_run_at, duration_ms, last_error,
           metadata, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(job_name) DO UPDATE SET
           status = excluded.status"""
# (statement, number of parameters): compiled by _check_writes before a run writes anything
_WRITES = (
    (_CLEAR_STAGE1, 1),
    (_DELETE_TRAIT, 2),
    (_UPSERT_TRAIT, 4),
    (_EXCLUDE, 5),
    (_PERSONA, 4),
    (_JOB_STATUS, 7),
)


def write_chunk(conn: sqlite3.Connection, w: ChunkWrites) -> None:
    """Apply one chunk's writes (the caller holds the transaction)."""
    # SQLite's LIKE, exactly as production: ASCII case-insensitive, '_' is any one character.
    conn.executemany(_CLEAR_STAGE1, w.stage1_cleared)
    conn.executemany(_DELETE_TRAIT, w.trait_deletes)
    conn.executemany(_UPSERT_TRAIT, w.trait_upserts)
    conn.executemany(_EXCLUDE, w.exclusions)
    conn.executemany(_PERSONA, w.personas)


def write_job_status(conn: sqlite3.Connection, ts: str, **fields: Any) -> None:
    """Upsert the job's row: the given columns change, the others keep their value."""
    if "metadata" in fields and not isinstance(fields["metadata"], str | None):
        fields["metadata"] = json.dumps(fields["metadata"], separators=(",", ":"))
    fields.setdefault("status", "running")
    fields["updated_at"] = ts
    cols = list(fields)
    conn.execute(
        f"""INSERT INTO job_status (job_name, {", ".join(cols)})
            VALUES (?, {", ".join("?" for _ in cols)})
            ON CONFLICT(job_name) DO UPDATE SET
            {", ".join(f"{c} = excluded.{c}" for c in cols)}""",
        (JOB_NAME, *fields.values()),
    )


def begin(conn: sqlite3.Connection) -> None:
    # BEGIN IMMEDIATE: a deferred BEGIN that upgrades to a write fails with SQLITE_BUSY_SNAPSHOT
    # whatever the timeout (NOTES-sqlite.md).
    conn.execute("BEGIN IMMEDIATE")


def commit(conn: sqlite3.Connection) -> None:
    conn.execute("COMMIT")


def checkpoint(conn: sqlite3.Connection) -> None:
    """Copy the WAL into the database file, waiting for nobody (readers keep their snapshots)."""
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")
