"""Small real databases and the toy job's command template, for the harness tests."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from harness import canary
from tests.helpers import new_db

TOY_JOB = Path(__file__).resolve().parent / "targets" / "toy_job.py"
NOW = 1_767_225_600  # 2026-01-01 00:00:00 UTC


def make_db(path: Path, *, wallets: int = 200, trades_per_wallet: int = 5) -> Path:
    """A production-shaped database with ``wallets`` wallets and a few trades each, in WAL mode."""
    conn = new_db(path)
    with conn:
        conn.executemany(
            "INSERT INTO wallets (proxy_wallet, discovered_from, discovered_at, is_active) "
            "VALUES (?, 'test', '2025-01-01 00:00:00', ?)",
            [(f"0x{i:040x}", 0 if i % 17 == 0 else 1) for i in range(wallets)],
        )
        conn.executemany(
            "INSERT INTO trades_raw (proxy_wallet, condition_id, side, size, price, timestamp, "
            "transaction_hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    f"0x{i:040x}",
                    f"c{(i * 7 + j) % 13}",
                    "BUY" if j % 2 else "SELL",
                    1.0 + j,
                    ((i * 31 + j * 17) % 97) / 97,
                    NOW - 86400 * (1 + (i + j) % 200),
                    f"tx{i}-{j}",
                )
                for i in range(wallets)
                for j in range(i % trades_per_wallet if trades_per_wallet else 0)
            ],
        )
    conn.close()
    return path


def toy_template(mode: str = "deterministic", *extra: str) -> str:
    """A command template that runs the stand-alone toy job with ``mode``.

    A mode of ``harness.canary`` (but ``slow``) runs the honest toy job wrapped by the canary,
    which breaks what it wrote; the toy job's own modes change how it behaves as a process.
    """
    parts = [sys.executable, str(TOY_JOB), "--db", "{db}", "--tasks", "{tasks}", "--now", "{now}"]
    if mode in canary.MODES and mode != "slow":
        wrapper = [sys.executable, "-m", "harness.canary", mode, "--"]
        return " ".join([*wrapper, *parts, *extra])
    return " ".join([*parts, "--mode", mode, *extra])


def file_digest(path: Path) -> str | None:
    """sha256 of a file, None when it does not exist."""
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None
