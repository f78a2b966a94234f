"""Deliberately broken candidates: one mechanism for ``persona-bench selftest`` and the tests.

``python -m harness.canary MODE -- COMMAND...`` runs COMMAND (a real build of the job, passed
through unchanged), then breaks what it wrote into the database named by COMMAND's ``--db``:

    drop-row        delete one wallet_exclusions row (the others keep their ids)
    skip-row        as if one wallet_exclusions row was never written: the rows after it move
                    up an id, the last id is missing
    float-bit       move one wallet_exclusions.metric_value by one unit in the last place
    reorder         rewrite wallet_exclusions in reverse order: same rows, other ids
    shuffle         rewrite every row output table in a random order: other ids on every run
    other-timestamp every time column of the four output tables one second later
    delete-input    delete one trades_raw row: an input table, which a job must never change
    destroy-inputs  delete half of trades_raw, deactivate every wallet, drop markets
    vacuum          VACUUM: every page moves, no row changes (a candidate that must stay green)
    slow            sleep before running COMMAND (nothing else changes): SLOW_S seconds, or the
                    seconds in the environment variable SLOW_ENV (the selftest sizes it)

It never imports the job: like every target of the harness, it is only a command. The tests
wrap ``tests/targets/toy_job.py`` with it; the selftest wraps ``persona-bench classify``.
"""

from __future__ import annotations

import math
import os
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence

MODES = (
    "drop-row",
    "skip-row",
    "float-bit",
    "reorder",
    "shuffle",
    "other-timestamp",
    "delete-input",
    "destroy-inputs",
    "vacuum",
    "slow",
)
SLOW_S = 3.0
SLOW_ENV = "PERSONA_BENCH_CANARY_SLOW_S"
# the row output tables (their columns but the id) and every time column of the four outputs
ROW_TABLES = {
    "wallet_exclusions": "proxy_wallet, reason, metric_value, threshold, excluded_at",
    "wallet_personas": "proxy_wallet, persona, confidence, feature_values_json, classified_at",
    "wallet_persona_traits": "proxy_wallet, trait_key, trait_value, computed_at",
}
TIME_COLUMNS = {
    "wallet_exclusions": ("excluded_at",),
    "wallet_personas": ("classified_at",),
    "wallet_persona_traits": ("computed_at",),
    "job_status": ("last_run_at", "updated_at"),
}


def _db_of(command: Sequence[str]) -> str:
    for i, token in enumerate(command):
        if token == "--db" and i + 1 < len(command):
            return command[i + 1]
        if token.startswith("--db="):
            return token.split("=", 1)[1]
    raise SystemExit("canary: the command has no --db PATH")


def _rewrite(conn: sqlite3.Connection, table: str, order: str) -> None:
    """Delete every row of ``table`` and insert them again in ``order``: new ids."""
    cols = ROW_TABLES[table]
    rows = conn.execute(f"SELECT {cols} FROM {table} ORDER BY id").fetchall()
    if order == "reverse":
        rows.reverse()
    else:
        random.Random().shuffle(rows)  # unseeded: each run its own order
    conn.execute(f"DELETE FROM {table}")
    marks = ", ".join("?" for _ in cols.split(","))
    conn.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)


def _middle_exclusion(conn: sqlite3.Connection) -> tuple[int, float]:
    middle = conn.execute(
        "SELECT id, metric_value FROM wallet_exclusions WHERE typeof(metric_value) = 'real'"
        " ORDER BY id LIMIT 1 OFFSET (SELECT COUNT(*) / 2 FROM wallet_exclusions)"
    ).fetchone()
    if middle is None:
        raise SystemExit("canary: no wallet_exclusions row to break")
    return middle


def _break(db: str, mode: str) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    if mode == "vacuum":
        conn.execute("VACUUM")
        conn.close()
        return
    conn.execute("BEGIN IMMEDIATE")
    if mode == "delete-input":
        conn.execute(
            "DELETE FROM trades_raw WHERE id = (SELECT id FROM trades_raw ORDER BY id"
            " LIMIT 1 OFFSET (SELECT COUNT(*) / 2 FROM trades_raw))"
        )
    elif mode == "destroy-inputs":
        conn.execute("DELETE FROM trades_raw WHERE id % 2 = 0")
        conn.execute("UPDATE wallets SET is_active = 0")
        conn.execute("DROP TABLE markets")
    elif mode == "shuffle":
        for table in ROW_TABLES:
            _rewrite(conn, table, "random")
    elif mode == "reorder":
        _rewrite(conn, "wallet_exclusions", "reverse")
    elif mode == "other-timestamp":
        for table, columns in TIME_COLUMNS.items():
            for col in columns:  # keeps whatever follows the seconds (".000")
                conn.execute(
                    f"UPDATE {table} SET {col} = strftime('%Y-%m-%d %H:%M:%S', {col},"
                    f" '+1 second') || substr({col}, 20) WHERE {col} IS NOT NULL"
                )
    else:
        row_id, value = _middle_exclusion(conn)
        if mode == "float-bit":
            conn.execute(
                "UPDATE wallet_exclusions SET metric_value = ? WHERE id = ?",
                (math.nextafter(value, math.inf), row_id),
            )
        else:
            conn.execute("DELETE FROM wallet_exclusions WHERE id = ?", (row_id,))
            if mode == "skip-row":  # two steps: no id is ever held by two rows at once
                conn.execute("UPDATE wallet_exclusions SET id = -id WHERE id > ?", (row_id,))
                conn.execute("UPDATE wallet_exclusions SET id = -id - 1 WHERE id < 0")
    conn.execute("COMMIT")
    conn.close()


def main(argv: Sequence[str]) -> int:
    if len(argv) < 3 or argv[0] not in MODES or argv[1] != "--":
        print(
            f"usage: python -m harness.canary {{{','.join(MODES)}}} -- COMMAND...", file=sys.stderr
        )
        return 2
    mode, command = argv[0], list(argv[2:])
    if mode == "slow":
        time.sleep(float(os.environ.get(SLOW_ENV, SLOW_S)))
    code = subprocess.call(command)
    if code == 0 and mode != "slow":
        _break(_db_of(command), mode)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
