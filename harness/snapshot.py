"""Snapshot a live SQLite (WAL) database into a verified private copy, with a manifest.

The source is opened only as ``file:SRC?mode=ro`` and copied with SQLite's online backup in one
step (``pages=-1``): the copy is one consistent read transaction of the source, so it holds whole
transactions only, and the harness never writes to, checkpoints or locks the source beyond that
read. The copy is checked with ``PRAGMA integrity_check`` (``check="full"``, the default) or
the cheaper ``PRAGMA quick_check`` (``check="quick"``), put in WAL mode, closed (so it is a
single frozen file) and hashed. The manifest records each step's time (``timings``: backup,
check, counts, hash): the harness's own cost, shown in the report. ``persona-bench snapshot SRC
DEST`` runs this step alone.

Facts behind the choices (../shared/NOTES-sqlite.md): a step-wise backup never finishes under a busy
writer (every foreign commit restarts it); copying the db/-wal/-shm files gives corrupt copies; a
read-write ``connect()`` checkpoints the source's WAL on close; ``connect()`` on a missing path
creates it; ``quick_check`` misses corruption that ``integrity_check`` catches.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sqlite3
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from harness import HarnessError
from harness.atomic import write_text
from persona_bench.kernel.argtypes import seconds
from persona_bench.kernel.errors import disk_full
from persona_bench.kernel.sqlitefile import check_sqlite_file as check_file
from persona_bench.kernel.sqlitefile import connect_ro, sha256_file

HELP = "Copy a live SQLite database (read-only, online backup) into a verified snapshot."

METHOD = "sqlite3 online backup (pages=-1) from a mode=ro connection"
# the tables the job reads (SPEC section 1); counted in the manifest when present
INPUT_TABLES = (
    "wallets",
    "trades_raw",
    "markets",
    "paper_trades",
    "paper_positions",
    "positions_snapshots",
)
DEFAULT_BUSY_TIMEOUT_S = 30.0  # production's busy timeout (SPEC section 1)
# NOTES-sqlite.md: integrity_check caught 8 of 8 corrupted copies, quick_check 3 of 8; full is
# the default, quick is for when the snapshot's minutes matter more than that difference
CHECKS = {"full": "integrity_check", "quick": "quick_check"}
DEFAULT_CHECK = "full"


@dataclass(frozen=True, kw_only=True)
class Manifest:
    """What was copied, from where, when and how; stored in results.json as ``snapshot``."""

    source: str
    source_size_bytes: int
    source_wal_bytes: int
    path: str
    taken_at: str
    method: str
    page_size: int
    page_count: int
    size_bytes: int
    sha256: str
    integrity_check: str
    duration_s: float
    row_counts: dict[str, int] = field(default_factory=dict)
    active_wallets: int | None = None
    classified_wallets: int | None = None
    check: str = CHECKS[DEFAULT_CHECK]  # the PRAGMA run on the copy
    timings: dict[str, float] = field(default_factory=dict)  # backup_s, check_s, counts_s, hash_s

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return asdict(self)


def check_sqlite_file(path: Path) -> int:
    """Refuse what is not a whole SQLite file, without creating it; return its page size."""
    return check_file(path, HarnessError, "source database")


def _connect_ro(path: Path, busy_timeout_s: float) -> sqlite3.Connection:
    """A read-only connection that can never create, write or checkpoint the file."""
    return connect_ro(path, timeout=busy_timeout_s, isolation_level=None)


def _sqlite_message(exc: sqlite3.Error) -> str:
    name = getattr(exc, "sqlite_errorname", None)
    return f"{exc} ({name})" if name else str(exc)


def _backup(src: Path, dest: Path, busy_timeout_s: float) -> None:
    """One-step online backup; a source locked for longer than the timeout is an error."""
    start = time.monotonic()

    def progress(status: int, remaining: int, total: int) -> None:
        # CPython retries SQLITE_BUSY/LOCKED forever; give up after the busy timeout
        busy = status in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
        if busy and time.monotonic() - start > busy_timeout_s:
            raise TimeoutError

    source = _connect_ro(src, busy_timeout_s)
    try:
        target = sqlite3.connect(dest, isolation_level=None)
    except sqlite3.Error as exc:
        source.close()
        raise HarnessError(f"cannot write snapshot {dest}: {_sqlite_message(exc)}") from None
    try:
        # a first read surfaces NOTADB/CORRUPT/BUSY (after the busy timeout) with a clear message
        source.execute("SELECT count(*) FROM sqlite_master").fetchone()
        source.backup(target, pages=-1, progress=progress, sleep=0.05)
    except TimeoutError:
        raise HarnessError(
            f"source database {src} stayed locked for more than {busy_timeout_s:g} s; "
            "try again when its writer is between transactions"
        ) from None
    except sqlite3.OperationalError as exc:
        if disk_full(exc):  # only the copy is written
            raise HarnessError(f"cannot write snapshot {dest}: {_sqlite_message(exc)}") from None
        if "locked" in str(exc) or "busy" in str(exc):
            raise HarnessError(
                f"source database {src} stayed locked for more than {busy_timeout_s:g} s "
                f"({_sqlite_message(exc)})"
            ) from None
        raise HarnessError(f"cannot read source database {src}: {_sqlite_message(exc)}") from None
    except sqlite3.DatabaseError as exc:
        raise HarnessError(f"cannot read source database {src}: {_sqlite_message(exc)}") from None
    finally:
        source.close()
        target.close()


def _table_names(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {r[0] for r in rows}


def _count_wallets(conn: sqlite3.Connection, tables: set[str]) -> tuple[int | None, int | None]:
    """Active wallets, and wallets that already have a persona or an exclusion."""
    active = None
    if "wallets" in tables:
        try:
            active = conn.execute("SELECT count(*) FROM wallets WHERE is_active = 1").fetchone()[0]
        except sqlite3.OperationalError:  # no is_active column: the job will refuse it anyway
            active = None
    parts = [
        f"SELECT proxy_wallet FROM {t}"
        for t in ("wallet_personas", "wallet_exclusions")
        if t in tables
    ]
    classified = 0
    if parts:
        sql = f"SELECT count(*) FROM ({' UNION '.join(parts)})"
        classified = conn.execute(sql).fetchone()[0]
    return active, classified


def _verify(
    dest: Path, pragma: str, timings: dict[str, float]
) -> tuple[str, int, int, dict[str, int], int | None, int | None]:
    """Check the copy (``pragma``), switch it to WAL mode, collect counts; the file ends closed."""
    conn = sqlite3.connect(dest, isolation_level=None)
    try:
        started = time.monotonic()
        rows = conn.execute(f"PRAGMA {pragma}").fetchall()
        timings["check_s"] = round(time.monotonic() - started, 6)
        result = "\n".join(str(r[0]) for r in rows)
        if result != "ok":
            raise HarnessError(f"snapshot {dest} failed {pragma}: {result.splitlines()[0]}")
        started = time.monotonic()
        conn.execute("PRAGMA journal_mode=WAL")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        page_count = conn.execute("PRAGMA page_count").fetchone()[0]
        tables = _table_names(conn)
        counts = {
            t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
            for t in INPUT_TABLES
            if t in tables
        }
        active, classified = _count_wallets(conn, tables)
        timings["counts_s"] = round(time.monotonic() - started, 6)
    except sqlite3.DatabaseError as exc:
        if disk_full(exc):  # switching to WAL writes the -wal and -shm files
            raise HarnessError(f"cannot write snapshot {dest}: {_sqlite_message(exc)}") from None
        raise HarnessError(f"snapshot {dest} is unusable: {_sqlite_message(exc)}") from None
    finally:
        conn.close()  # the last connection: SQLite checkpoints and removes -wal and -shm
    return result, page_size, page_count, counts, active, classified


def take_snapshot(
    src: Path,
    dest: Path,
    *,
    busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
    check: str = DEFAULT_CHECK,
) -> Manifest:
    """Copy ``src`` into the new file ``dest`` consistently and verify it; ``src`` is read only."""
    src, dest = Path(src), Path(dest)
    if check not in CHECKS:
        raise HarnessError(f"check must be one of {', '.join(CHECKS)} (got {check!r})")
    check_sqlite_file(src)
    try:
        if dest.exists():
            raise HarnessError(f"snapshot destination {dest} already exists")
        if not dest.parent.is_dir():
            raise HarnessError(f"snapshot destination folder {dest.parent} does not exist")
        if dest.resolve() == src.resolve():
            raise HarnessError("snapshot destination is the source")
    except OSError as exc:  # a name too long, a path through a file, ...
        raise HarnessError(f"cannot write snapshot {dest}: {exc.strerror or exc}") from None
    wal = src.with_name(src.name + "-wal")
    source_size = src.stat().st_size
    source_wal = wal.stat().st_size if wal.exists() else 0
    taken_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    start = time.monotonic()
    timings: dict[str, float] = {}
    try:
        _backup(src, dest, busy_timeout_s)
        timings["backup_s"] = round(time.monotonic() - start, 6)
        integrity, page_size, page_count, counts, active, classified = _verify(
            dest, CHECKS[check], timings
        )
    except BaseException:
        _remove(dest)
        raise
    hashing = time.monotonic()
    digest = sha256_file(dest)
    timings["hash_s"] = round(time.monotonic() - hashing, 6)
    duration = time.monotonic() - start
    return Manifest(
        source=str(src.resolve()),
        source_size_bytes=source_size,
        source_wal_bytes=source_wal,
        path=str(dest.resolve()),
        taken_at=taken_at,
        method=METHOD,
        page_size=page_size,
        page_count=page_count,
        size_bytes=dest.stat().st_size,
        sha256=digest,
        integrity_check=integrity,
        duration_s=round(duration, 6),
        row_counts=counts,
        active_wallets=active,
        classified_wallets=classified,
        check=CHECKS[check],
        timings=timings,
    )


def _remove(dest: Path) -> None:
    """Remove a partial copy and its side files; what cannot be removed was never written."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(OSError):  # EROFS even for a missing file on a read-only disk
            Path(f"{dest}{suffix}").unlink(missing_ok=True)


def manifest_path(dest: Path) -> Path:
    """Where ``persona-bench snapshot`` writes the manifest: next to the copy."""
    return dest.with_name(dest.name + ".manifest.json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``snapshot SRC DEST [--busy-timeout S]``."""
    parser.add_argument("src", type=Path, help="the live source database (opened read-only)")
    parser.add_argument("dest", type=Path, help="the new snapshot file (must not exist)")
    parser.add_argument(
        "--busy-timeout",
        type=seconds,
        default=DEFAULT_BUSY_TIMEOUT_S,
        metavar="S",
        help=f"how long to wait for a locked source (default {DEFAULT_BUSY_TIMEOUT_S:g} s)",
    )
    add_check_argument(parser)


def add_check_argument(parser: argparse.ArgumentParser) -> None:
    """``--check quick|full``: the PRAGMA that verifies the copy."""
    parser.add_argument(
        "--check",
        choices=sorted(CHECKS),
        default=DEFAULT_CHECK,
        help="verify the copy with integrity_check (full, the default: caught 8 of 8 corrupt "
        "copies in our tests) or quick_check (quick: faster, caught 3 of 8)",
    )


def run(args: argparse.Namespace) -> int:
    """Take the snapshot, write ``DEST.manifest.json`` and print the manifest."""
    manifest = take_snapshot(
        args.src, args.dest, busy_timeout_s=args.busy_timeout, check=args.check
    )
    text = json.dumps(manifest.to_dict(), indent=2)
    try:
        write_text(manifest_path(args.dest), text + "\n")
    except HarnessError:  # a snapshot without its manifest is not one: take neither
        _remove(args.dest)
        raise
    print(text)
    print(
        f"snapshot {args.dest}: {manifest.size_bytes} bytes, integrity ok, "
        f"{manifest.duration_s:.2f} s",
        file=sys.stderr,
    )
    return 0


__all__ = ["Manifest", "check_sqlite_file", "manifest_path", "sha256_file", "take_snapshot"]
