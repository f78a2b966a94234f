#!/usr/bin/env python3
"""A stand-alone stand-in for "a job written in another language", for testing the harness.

It imports nothing from this project (only the standard library), reads the production input
tables with plain sqlite3 and writes the four output tables, deterministically by default. Its
``--mode`` changes how it behaves as a process:

  deterministic    the same rows on every run
  nothing          exits 0 without writing anything
  fail             writes 31 lines to stderr (the last: "simulated failure") and exits 3
  hang             starts a child that sleeps, then sleeps itself, far longer than any test
                   timeout (--pidfile: both process ids, one a line, written when both run)
  spawn            does its work in --tasks child processes that it waits for (CPU counted)

Wrong rows (missing, changed, reordered, other timestamps) and changed inputs come from the one
fake-candidate mechanism, ``harness.canary``, wrapped around this job
(``tests.harness_support.toy_template``), as ``persona-bench selftest`` wraps the real job.

``--mode`` applies only to runs with ``--tasks`` > 0 when ``--only-parallel`` is given, so one
template can keep the serial runs correct while the parallel ones are broken.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime

OUTPUT_DDL = """
CREATE TABLE IF NOT EXISTS wallet_personas (id INTEGER PRIMARY KEY AUTOINCREMENT,
  proxy_wallet TEXT NOT NULL, persona TEXT NOT NULL, confidence REAL NOT NULL,
  feature_values_json TEXT, classified_at TEXT NOT NULL, UNIQUE(proxy_wallet, classified_at));
CREATE TABLE IF NOT EXISTS wallet_exclusions (id INTEGER PRIMARY KEY AUTOINCREMENT,
  proxy_wallet TEXT NOT NULL, reason TEXT NOT NULL, metric_value REAL, threshold REAL,
  excluded_at TEXT NOT NULL, UNIQUE(proxy_wallet, reason));
CREATE TABLE IF NOT EXISTS wallet_persona_traits (id INTEGER PRIMARY KEY AUTOINCREMENT,
  proxy_wallet TEXT NOT NULL, trait_key TEXT NOT NULL, trait_value TEXT NOT NULL,
  computed_at TEXT NOT NULL, UNIQUE(proxy_wallet, trait_key));
CREATE TABLE IF NOT EXISTS job_status (job_name TEXT PRIMARY KEY, status TEXT NOT NULL,
  last_run_at TEXT, duration_ms INTEGER, last_error TEXT, metadata TEXT, updated_at TEXT NOT NULL);
"""


def summarise(db: str) -> list[tuple[str, int, float]]:
    """(wallet, trade count, mean price) for every active wallet, in wallet order."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = conn.execute(
        "SELECT w.proxy_wallet, count(t.id), coalesce(avg(t.price), 0.0) FROM wallets w "
        "LEFT JOIN trades_raw t ON t.proxy_wallet = w.proxy_wallet WHERE w.is_active = 1 "
        "GROUP BY w.proxy_wallet ORDER BY w.proxy_wallet"
    ).fetchall()
    conn.close()
    return rows


def main() -> int:
    """Parse arguments, classify the toy way, print a JSON summary."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--tasks", type=int, default=0)
    parser.add_argument("--now", type=int, required=True)
    parser.add_argument("--mode", default="deterministic")
    parser.add_argument("--only-parallel", action="store_true")
    parser.add_argument("--pidfile", help="write the process id here first (hang mode)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    started = time.monotonic()
    if args.worker:  # a child of --mode spawn: burn a little CPU and exit
        sum(i * i for i in range(300_000))
        return 0
    mode = args.mode if (args.tasks > 0 or not args.only_parallel) else "deterministic"
    if mode == "fail":
        for step in range(1, 31):  # a long stderr: only its tail should be shown
            print(f"toy_job: step {step} of 30", file=sys.stderr)
        print("toy_job: simulated failure", file=sys.stderr)
        return 3
    if mode == "hang":
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        if args.pidfile:
            with open(args.pidfile + ".tmp", "w") as fh:
                fh.write(f"{os.getpid()}\n{child.pid}\n")
            os.replace(args.pidfile + ".tmp", args.pidfile)  # whole or absent
        time.sleep(600)
    if mode == "nothing":
        return 0
    if mode == "spawn":
        workers = [
            subprocess.Popen([sys.executable, __file__, "--db", args.db, "--now", "0", "--worker"])
            for _ in range(max(args.tasks, 1))
        ]
        for w in workers:
            w.wait()
    stamp = datetime.fromtimestamp(args.now, UTC).strftime("%Y-%m-%d %H:%M:%S.000")
    wallets = summarise(args.db)
    exclusions, personas, traits = [], [], []
    for i, (wallet, count, mean_price) in enumerate(wallets):
        if count < 3:
            exclusions.append((wallet, "STAGE1_TOO_FEW_TRADES", float(count), 3.0, stamp))
        elif mean_price < 0.5:
            exclusions.append((wallet, "NOISE_TRADER", mean_price / 3.0, 0.5, stamp))
        else:
            personas.append((wallet, "INFORMED_SPECIALIST", mean_price / 7.0, None, stamp))
        if i % 3 == 0:
            traits.append((wallet, "WHALE", "1", stamp))
    conn = sqlite3.connect(args.db)
    conn.executescript(OUTPUT_DDL)
    with conn:
        conn.executemany(
            "INSERT OR REPLACE INTO wallet_exclusions (proxy_wallet, reason, metric_value, "
            "threshold, excluded_at) VALUES (?, ?, ?, ?, ?)",
            exclusions,
        )
        conn.executemany(
            "INSERT OR REPLACE INTO wallet_personas (proxy_wallet, persona, confidence, "
            "feature_values_json, classified_at) VALUES (?, ?, ?, ?, ?)",
            personas,
        )
        conn.executemany(
            "INSERT INTO wallet_persona_traits (proxy_wallet, trait_key, trait_value, computed_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT(proxy_wallet, trait_key) DO UPDATE SET "
            "trait_value = excluded.trait_value, computed_at = excluded.computed_at",
            traits,
        )
        counters = {"processed": len(wallets), "suitable": len(personas)}
        conn.execute(
            "INSERT OR REPLACE INTO job_status VALUES ('persona_classification', 'idle', ?, ?, "
            "NULL, ?, ?)",
            (stamp, int((time.monotonic() - started) * 1000) + 1, json.dumps(counters), stamp),
        )
    conn.close()
    print(json.dumps({"schema": "toy-job/1", "tasks": args.tasks, "counters": counters}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
