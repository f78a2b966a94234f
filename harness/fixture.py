"""``persona-bench fixture``: write a deterministic, production-shaped SQLite database.

The rows come from ``harness/profiles.py`` (which wallets) and ``harness/archetypes.py`` (how each
one trades); this module only writes them: production's schema (``harness/schema.sql``), rows
streamed in batches of ``BATCH`` with one transaction each (memory stays flat at any scale), the
trade indexes built after the bulk load, then a content hash over the logical rows, the
``persona_bench_meta`` table, WAL mode and a checkpoint. The file is written under a temporary
name and renamed into place, so an interrupted run never leaves a file that looks finished.

    persona_bench.errors.UserError
     └── FixtureError      bad profile, seed or scale; output exists; folder not writable
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.profiles import (
    DEFAULT_SCALE,
    PROFILES,
    Plan,
    Wallet,
    job_status_rows,
    make_plan,
    markets,
    previous_run,
    wallets,
)
from persona_bench.errors import UserError

HELP = "Write a deterministic production-shaped database (profiles: tiny, prod, stress)."
GENERATOR_VERSION = "3"
BATCH = 10_000
SCHEMA_PATH = Path(__file__).with_name("schema.sql")
DEFAULT_CACHE = Path(__file__).resolve().parents[1] / "fixtures" / "cache"

_EXTRA_DDL = (
    "CREATE TABLE persona_bench_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # what each wallet was built to be (docs/fixtures.md): the classifier ignores it
    "CREATE TABLE persona_bench_labels (proxy_wallet TEXT PRIMARY KEY, archetype TEXT NOT NULL,"
    " expected TEXT NOT NULL)",
)
_INSERT = {
    "wallets": "INSERT INTO wallets (proxy_wallet, pseudonym, name, bio, discovered_from,"
    " discovered_market, discovered_at, total_markets_traded, on_global_watchlist, is_active,"
    " last_updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
    "trades_raw": "INSERT INTO trades_raw (id, proxy_wallet, condition_id, asset, side, size,"
    " price, timestamp, outcome, outcome_index, transaction_hash, raw_json, ingested_at)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
    "markets": "INSERT INTO markets (condition_id, title, slug, category, end_date, closed)"
    " VALUES (?,?,?,?,?,?)",
    "paper_trades": "INSERT INTO paper_trades (proxy_wallet, condition_id, side, size_usdc,"
    " entry_price, exit_price, status, pnl, created_at, settled_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
    "paper_positions": "INSERT INTO paper_positions (proxy_wallet, condition_id, size_usdc,"
    " opened_at) VALUES (?,?,?,?)",
    "positions_snapshots": "INSERT INTO positions_snapshots (proxy_wallet, condition_id, size,"
    " avg_price, cash_pnl, snapshot_at) VALUES (?,?,?,?,?,?)",
    "wallet_personas": "INSERT INTO wallet_personas (proxy_wallet, persona, confidence,"
    " feature_values_json, classified_at) VALUES (?,?,?,?,?)",
    "wallet_exclusions": "INSERT INTO wallet_exclusions (proxy_wallet, reason, metric_value,"
    " threshold, excluded_at) VALUES (?,?,?,?,?)",
    "wallet_persona_traits": "INSERT INTO wallet_persona_traits (proxy_wallet, trait_key,"
    " trait_value, computed_at) VALUES (?,?,?,?)",
    "job_status": "INSERT INTO job_status (job_name, status, last_run_at, duration_ms, last_error,"
    " metadata, updated_at) VALUES (?,?,?,?,?,?,?)",
    "persona_bench_labels": "INSERT INTO persona_bench_labels VALUES (?,?,?)",
}


class FixtureError(UserError):
    """Bad arguments to ``persona-bench fixture`` or an output that cannot be written."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", required=True, help="tiny, prod or stress")
    parser.add_argument("--seed", default="1", help="any integer (default 1)")
    parser.add_argument(
        "--scale", default=None, help="multiply the wallet counts (default 10 for stress, else 1)"
    )
    parser.add_argument("--out", required=True, type=Path, help="the database to write")
    parser.add_argument("--force", action="store_true", help="replace an existing --out")


def run(args: argparse.Namespace) -> int:
    profile, seed, scale = check_args(args.profile, args.seed, args.scale)
    started = time.perf_counter()
    meta = generate(args.out, profile, seed, scale, force=args.force)
    print(f"wrote {args.out} (profile {profile}, seed {seed}, scale {meta['scale']})")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(int(meta["now"])))
    print(f"now: {meta['now']} ({when} UTC)")
    print(f"rows: {meta['rows']}")
    print(f"content_hash: {meta['content_hash']}")
    print(f"generated in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


def check_args(profile: str, seed: str | int, scale: str | float | None) -> tuple[str, int, float]:
    """Validate the three knobs; a bad one is a one-line FixtureError."""
    if profile not in PROFILES:
        raise FixtureError(f"--profile must be one of {', '.join(PROFILES)} (got {profile!r})")
    try:
        seed_i = int(seed)
    except ValueError:
        raise FixtureError(f"--seed must be an integer (got {seed!r})") from None
    if scale is None:
        return profile, seed_i, DEFAULT_SCALE[profile]
    try:
        scale_f = float(scale)
    except ValueError:
        raise FixtureError(f"--scale must be a number > 0 (got {scale!r})") from None
    if not math.isfinite(scale_f) or scale_f <= 0:
        raise FixtureError(f"--scale must be a finite number > 0 (got {scale!r})")
    return profile, seed_i, scale_f


def generate(
    out: Path, profile: str, seed: int = 1, scale: float | None = None, *, force: bool = False
) -> dict[str, str]:
    """Write the fixture to ``out`` (atomically) and return its meta values."""
    profile, seed, scale = check_args(profile, seed, scale)
    out = Path(out)
    if out.is_dir():
        raise FixtureError(f"--out is a directory: {out}")
    if out.exists() and not force:
        raise FixtureError(f"{out} exists (use --force to replace it)")
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise FixtureError(f"cannot write to the folder {folder}")
    tmp = folder / f".{out.name}.tmp-{os.getpid()}"
    try:
        meta = _write(tmp, make_plan(profile, seed, scale))
        for suffix in ("-wal", "-shm"):  # a stale WAL of the old file must not meet the new one
            Path(f"{out}{suffix}").unlink(missing_ok=True)
        os.replace(tmp, out)
    except OSError as exc:
        raise FixtureError(f"cannot write {out}: {exc.strerror or exc}") from None
    except sqlite3.OperationalError as exc:  # SQLITE_FULL, or an I/O error writing: a full disk
        raise FixtureError(f"cannot write {out}: {exc}") from None
    finally:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    return meta


def _schema() -> tuple[list[str], list[str]]:
    """schema.sql split into (tables, indexes): indexes are built after the bulk load."""
    text = "\n".join(line.split("--")[0] for line in SCHEMA_PATH.read_text().splitlines())
    stmts = [s.strip() for s in text.split(";") if s.strip()]
    return [s for s in stmts if not s.upper().startswith("CREATE INDEX")], [
        s for s in stmts if s.upper().startswith("CREATE INDEX")
    ]


class _Batches:
    """Rows waiting for the next transaction, per table; a flush commits them all at once."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.rows: dict[str, list[Sequence[Any]]] = {t: [] for t in _INSERT}
        self.pending = 0
        self.total = dict.fromkeys(_INSERT, 0)

    def add(self, table: str, rows: Sequence[Sequence[Any]]) -> None:
        self.rows[table].extend(rows)
        self.pending += len(rows)
        if self.pending >= BATCH:
            self.flush()

    def flush(self) -> None:
        with self.conn:
            for table, rows in self.rows.items():
                if rows:
                    self.conn.executemany(_INSERT[table], rows)
                    self.total[table] += len(rows)
                    rows.clear()
        self.pending = 0


def _write(path: Path, plan: Plan) -> dict[str, str]:
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        # a fresh private file: no journal while loading; WAL is switched on at the end
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-131072")
        tables, indexes = _schema()
        for ddl in (*tables, *_EXTRA_DDL):
            conn.execute(ddl)
        conn.isolation_level = "DEFERRED"
        out = _Batches(conn)
        catalogue, market_rows = markets(plan)
        out.add("markets", market_rows)
        out.add("job_status", job_status_rows(plan))
        # trades_raw is hashed as it is written, in id order: exactly the rows read back later
        trades_hash = hashlib.sha256(_table_header(conn, "trades_raw")[0])
        next_id = 1
        for w in wallets(plan, catalogue):
            next_id = _add_wallet(out, plan, w, next_id, trades_hash)
        out.flush()
        conn.isolation_level = None
        for ddl in indexes:
            conn.execute(ddl)
        digest = content_hash(conn, {"trades_raw": trades_hash.hexdigest()})
        meta = {
            "profile": plan.profile,
            "seed": str(plan.seed),
            "scale": repr(plan.scale),
            "now": str(plan.now),
            "generator_version": GENERATOR_VERSION,
            "content_hash": digest,
            "rows": ", ".join(f"{t} {n}" for t, n in out.total.items() if n),
        }
        with conn:
            conn.executemany("INSERT INTO persona_bench_meta VALUES (?, ?)", sorted(meta.items()))
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return meta


def _add_wallet(out: _Batches, plan: Plan, w: Wallet, next_id: int, trades_hash: Any) -> int:
    d = w.draft
    address = d.address
    out.add("wallets", [w.row])
    out.add("persona_bench_labels", [(address, w.archetype, w.label)])
    trades = sorted(d.trades, key=lambda t: t[4])  # stable: ties keep their drafted order
    if trades:
        rng = d.rng
        ingested = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(min(d.now, trades[-1][4] + 600)))
        rows = []
        for cid, side, size, price, ts, oi in trades:
            tx = f"0x{next_id:016x}{rng.getrandbits(192):048x}"  # id-prefixed: UNIQUE index appends
            outcome = "Yes" if oi == 0 else "No"
            asset = f"{cid[2:14]}{oi}"
            row = (
                next_id,
                address,
                cid,
                asset,
                side,
                size,
                price,
                ts,
                outcome,
                oi,
                tx,
                None,
                ingested,
            )
            rows.append(row)
            next_id += 1
        out.add("trades_raw", rows)
        trades_hash.update(_rows_bytes(rows))
    personas, exclusions, traits = previous_run(plan, w)
    out.add("paper_trades", [(address, *p) for p in d.paper])
    out.add("paper_positions", [(address, *p) for p in d.positions])
    out.add("positions_snapshots", [(address, *s) for s in d.snapshots])
    out.add("wallet_personas", personas)
    out.add("wallet_exclusions", exclusions)
    out.add("wallet_persona_traits", traits)
    return next_id


def content_hash(conn: sqlite3.Connection, known: dict[str, str] | None = None) -> str:
    """sha256 over every table's rows in primary-key order (not the file's bytes).

    A table's digest covers its name, its column names, then one ``repr(row)`` line per row:
    ``repr`` of a float is its shortest round-trip form, so the hash is the same on every machine
    for the same logical content. The content hash is the sha256 of the ``name:digest`` lines,
    tables by name; ``persona_bench_meta`` and ``sqlite_*`` are left out. ``known`` holds digests
    already computed while writing (trades_raw, streamed: reading it back would cost seconds).
    """
    names = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'"
        " AND name != 'persona_bench_meta' ORDER BY name"
    )]  # fmt: skip
    h = hashlib.sha256()
    for name in names:
        digest = (known or {}).get(name) or _table_digest(conn, name)
        h.update(f"{name}:{digest}\n".encode())
    return h.hexdigest()


def _table_header(conn: sqlite3.Connection, name: str) -> tuple[bytes, str]:
    """The first line of a table's digest, and its ORDER BY (primary key, else rowid)."""
    info = list(conn.execute(f'PRAGMA table_info("{name}")'))
    pk = [r[1] for r in sorted((r for r in info if r[5] > 0), key=lambda r: r[5])]
    order = ", ".join(f'"{c}"' for c in pk) if pk else "rowid"
    return f"{name}({','.join(r[1] for r in info)})\n".encode(), order


def _rows_bytes(rows: Sequence[Sequence[Any]]) -> bytes:
    return ("\n".join(map(repr, rows)) + "\n").encode()


def _table_digest(conn: sqlite3.Connection, name: str) -> str:
    header, order = _table_header(conn, name)
    h = hashlib.sha256(header)
    cur = conn.execute(f'SELECT * FROM "{name}" ORDER BY {order}')
    while batch := cur.fetchmany(BATCH):
        h.update(_rows_bytes(batch))
    return h.hexdigest()


def read_meta(path: Path) -> dict[str, str]:
    """``persona_bench_meta`` of a fixture, read through a read-only connection."""
    path = Path(path)
    if not path.is_file():
        raise FixtureError(f"no fixture at {path}")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return dict(conn.execute("SELECT key, value FROM persona_bench_meta"))
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise FixtureError(f"{path} is not a fixture database: {exc}") from None


def ensure_fixture(
    profile: str, seed: int = 1, scale: float | None = None, cache_dir: Path = DEFAULT_CACHE
) -> Path:
    """The cached fixture for (profile, seed, scale), generated on first use.

    The name carries the generator version, so a new generator never reuses an old file; a file
    is only ever renamed into place once complete, so an existing one is finished.
    """
    profile, seed, scale = check_args(profile, seed, scale)
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"{profile}-seed{seed}-scale{scale!r}-v{GENERATOR_VERSION}.db"
    if path.exists():
        try:
            meta = read_meta(path)
        except FixtureError:
            meta = {}
        if meta.get("generator_version") == GENERATOR_VERSION and meta.get("content_hash"):
            return path
    generate(path, profile, seed, scale, force=True)
    return path
