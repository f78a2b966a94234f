"""Shared test helpers: the one database builder (``new_db``), small row builders, output readers.

Every test database starts in ``new_db``: production's schema (``fixtures/schema.sql``, the
generator's) in WAL mode. The row designs differ by purpose (``build_db``: the rows a test
names; ``bulk_db``: many random wallets; ``tests.harness_support.make_db``: a small regular
shape for the harness; ``tests.oracle.random_db``: SPEC's edge cases; ``tests.golden``: a case
file), but none creates a schema of its own.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fixtures import DEFAULT_CONFIG as DEFAULT_CONFIG  # re-exported for the tests
from fixtures import SCHEMA
from persona_bench.kernel.sqlitefile import connect_ro

OUTPUT_TABLES = ("wallet_personas", "wallet_exclusions", "wallet_persona_traits", "job_status")
NOW = 1_780_000_000  # 2026-05-28 20:26:40 UTC
DAY = 86_400


def new_db(path: Path, **connect: Any) -> sqlite3.Connection:
    """A new database at ``path`` with production's schema, in WAL mode; its open connection.

    ``connect``: keyword arguments of ``sqlite3.connect`` (``isolation_level`` ...).
    """
    conn = sqlite3.connect(path, **connect)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(SCHEMA.read_text())
    return conn


def build_db(path: Path, tables: Mapping[str, Sequence[Mapping[str, Any]]]) -> Path:
    """A WAL database with production's schema and the given rows (missing NOT NULLs filled)."""
    conn = new_db(path)
    fillers = {
        "wallets": {"discovered_from": "test", "discovered_at": "2025-01-01 00:00:00"},
        "markets": {"title": "a market"},
    }
    for table, rows in tables.items():
        for row in rows:
            row = {**fillers.get(table, {}), **row}
            cols = ", ".join(row)
            marks = ", ".join("?" for _ in row)
            conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(row.values()))
    conn.commit()
    conn.close()
    return path


def wallet(address: str, active: int = 1) -> dict[str, Any]:
    return {"proxy_wallet": address, "is_active": active}


def trade(
    address: str,
    ts: int,
    *,
    side: str | None = "BUY",
    size: Any = 10.0,
    price: Any = 0.5,
    market: str = "m1",
) -> dict[str, Any]:
    return {
        "proxy_wallet": address,
        "condition_id": market,
        "side": side,
        "size": size,
        "price": price,
        "timestamp": ts,
    }


def history(
    address: str, n: int, *, first: int = NOW - 100 * DAY, last: int = NOW - DAY, **kw: Any
) -> list[dict[str, Any]]:
    """``n`` trades spread evenly from ``first`` to ``last``."""
    step = (last - first) // max(n - 1, 1)
    return [trade(address, first + i * step, **kw) for i in range(n)]


def dump_outputs(path: Path, ignore_duration: bool = True) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the four output tables, in key order (ids included)."""
    conn = connect_ro(path)
    out = {}
    for table in OUTPUT_TABLES:
        cur = conn.execute(f"SELECT * FROM {table} ORDER BY 1")
        cols = [d[0] for d in cur.description]
        rows = []
        for row in cur:
            rec = dict(zip(cols, row, strict=True))
            if table == "job_status" and ignore_duration:
                rec.pop("duration_ms")
            rows.append(tuple(rec.items()))
        out[table] = rows
    conn.close()
    return out


def job_meta(path: Path) -> dict[str, Any]:
    conn = connect_ro(path)
    (meta,) = conn.execute(
        "SELECT metadata FROM job_status WHERE job_name = 'persona_classification'"
    ).fetchone()
    conn.close()
    return dict(json.loads(meta))


def classify_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``persona-bench classify ARGS`` in a child process (real exit code, real stderr)."""
    return cli("classify", *args, timeout=timeout)


def cli(command: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``persona-bench COMMAND ARGS`` in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "persona_bench", command, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def bulk_db(path: Path, *, wallets: int = 600, trades_per_active: int = 120, seed: int = 7) -> Path:
    """A larger random database (fast executemany): most wallets pass Stage 1, some error."""
    import random

    rng = random.Random(seed)
    conn = new_db(path)
    conn.executemany(
        "INSERT INTO markets (condition_id, title, category) VALUES (?, 't', ?)",
        [(f"c{i:03d}", ("Sports", "Politics", "Crypto", None)[i % 4]) for i in range(80)],
    )
    trades = []
    for w in range(wallets):
        addr = f"0x{rng.getrandbits(40):010x}"
        conn.execute(
            "INSERT INTO wallets (proxy_wallet, discovered_from, discovered_at, is_active)"
            " VALUES (?, 'test', '2025-01-01', ?)",
            (addr, int(w % 13 != 0)),
        )
        if w % 5 == 0:
            continue  # no trades
        n = trades_per_active if w % 3 else rng.randint(1, 30)
        for j in range(n):
            price: Any = rng.choice((0.03, 0.5, 0.52, 0.97, 0.3, 0.7))
            if w % 97 == 1 and j == n - 1:
                price = "n/a"  # a feature error
            trades.append(
                (
                    addr,
                    f"c{rng.randrange(80):03d}",
                    rng.choice(("BUY", "SELL", "BUY", "SELL", "")),
                    rng.choice((1.0, 5.0, 50.0, 400.0)),
                    price,
                    NOW - rng.randrange(0, 200 * DAY),
                    f"{addr}-{j}",
                )
            )
        if w % 4 == 0:
            conn.execute(
                "INSERT INTO positions_snapshots (proxy_wallet, condition_id, cash_pnl,"
                " snapshot_at) VALUES (?, 'c001', ?, '2026-05-01 00:00:00')",
                (addr, rng.uniform(-50, 400)),
            )
    conn.executemany(
        "INSERT INTO trades_raw (proxy_wallet, condition_id, side, size, price, timestamp,"
        " transaction_hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
        trades,
    )
    conn.commit()
    conn.close()
    return path
