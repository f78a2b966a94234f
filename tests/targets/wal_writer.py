#!/usr/bin/env python3
"""A live writer for snapshot tests: commits multi-row transactions to a WAL database.

Each transaction inserts a batch of wallets and trades tagged with its batch id, and one row in
``batch_log`` with the batch's counts, so a reader can check that it saw whole transactions only.
The content is deterministic (a writer-only control run leaves byte-identical files). Automatic
checkpoints are off, so the main database file changes only if someone else checkpoints. After its
last commit it prints ``done`` and waits for a line on stdin before closing (the last connection to
close checkpoints and removes the WAL).

    wal_writer.py DB BATCHES WALLETS_PER_BATCH TRADES_PER_WALLET
"""

import sqlite3
import sys


def main() -> int:
    """Write the batches, report, wait, close."""
    db, batches, per_batch, trades = sys.argv[1], *map(int, sys.argv[2:5])
    conn = sqlite3.connect(db, isolation_level=None, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS batch_log (batch INTEGER PRIMARY KEY, wallets INTEGER, "
        "trades INTEGER)"
    )
    print("ready", flush=True)
    for b in range(batches):
        conn.execute("BEGIN IMMEDIATE")
        for w in range(per_batch):
            wallet = f"b{b:05d}w{w:03d}"
            conn.execute(
                "INSERT INTO wallets (proxy_wallet, discovered_from, discovered_at) "
                "VALUES (?, ?, '2025-01-01 00:00:00')",
                (wallet, f"batch{b}"),
            )
            conn.executemany(
                "INSERT INTO trades_raw (proxy_wallet, condition_id, side, size, price, "
                "timestamp, asset, transaction_hash, ingested_at) "
                "VALUES (?, 'c1', 'BUY', 1.5, 0.25, 1700000000, ?, ?, '2025-01-01')",
                [(wallet, f"batch{b}", f"{wallet}-{t}") for t in range(trades)],
            )
        conn.execute("INSERT INTO batch_log VALUES (?, ?, ?)", (b, per_batch, per_batch * trades))
        conn.execute("COMMIT")
    print("done", flush=True)
    sys.stdin.readline()
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
