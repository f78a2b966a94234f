#!/usr/bin/env python3
"""A live writer for snapshot tests: commits multi-row transactions to a WAL database.

Each transaction inserts a batch of wallets and trades tagged with its batch id, and one row in
``batch_log`` with the batch's counts, so a reader can check that it saw whole transactions only.
The content is deterministic (a writer-only control run leaves byte-identical files). Automatic
checkpoints are off, so the main database file changes only if someone else checkpoints. After its
last commit it prints ``done N`` (N batches committed) and waits for a line on stdin before
closing (the last connection to close checkpoints and removes the WAL).

    wal_writer.py DB BATCHES WALLETS_PER_BATCH TRADES_PER_WALLET [--progress F --allowed F]

With ``--progress`` it writes its count of committed batches to that file after every commit
(atomically), so a test can wait for progress instead of time. With ``--allowed`` (and BATCHES 0)
it is steered by progress too: it commits while its count is below the number in that file,
waits when it reaches it (a test or a gate raises it), and stops when the file says ``stop``.
"""

import argparse
import os
import sqlite3
import sys
import time

POLL_S = 0.005  # how often a writer at its allowance looks for a new one


def _allowed(path: str | None, batches: int, done: int) -> int | None:
    """How many batches may be committed in all (None: stop now)."""
    if path is None:
        return batches if done < batches else None
    while True:
        try:
            with open(path) as fh:
                text = fh.read().strip()
        except FileNotFoundError:
            text = "0"
        if text == "stop":
            return None
        if int(text or 0) > done:
            return int(text)
        time.sleep(POLL_S)  # waiting for the test to allow more: a poll, never a timing


def _publish(path: str | None, count: int) -> None:
    if path is not None:
        with open(path + ".tmp", "w") as fh:
            fh.write(str(count))
        os.replace(path + ".tmp", path)


def main() -> int:
    """Write the batches, report, wait, close."""
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("batches", type=int)
    parser.add_argument("per_batch", type=int)
    parser.add_argument("trades", type=int)
    parser.add_argument("--progress")
    parser.add_argument("--allowed")
    args = parser.parse_args()
    conn = sqlite3.connect(args.db, isolation_level=None, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS batch_log (batch INTEGER PRIMARY KEY, wallets INTEGER, "
        "trades INTEGER)"
    )
    print("ready", flush=True)
    b = 0
    while (limit := _allowed(args.allowed, args.batches, b)) is not None:
        while b < limit:
            conn.execute("BEGIN IMMEDIATE")
            for w in range(args.per_batch):
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
                    [(wallet, f"batch{b}", f"{wallet}-{t}") for t in range(args.trades)],
                )
            conn.execute(
                "INSERT INTO batch_log VALUES (?, ?, ?)",
                (b, args.per_batch, args.per_batch * args.trades),
            )
            conn.execute("COMMIT")
            b += 1
            _publish(args.progress, b)
    print(f"done {b}", flush=True)
    sys.stdin.readline()
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
