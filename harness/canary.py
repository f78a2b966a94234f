"""Deliberately broken candidates, for ``persona-bench selftest``.

``python -m harness.canary MODE -- COMMAND...`` runs COMMAND (a real build of the job, passed
through unchanged), then breaks what it wrote into the database named by COMMAND's ``--db``:

    drop-row     delete one wallet_exclusions row
    float-bit    move one wallet_exclusions.metric_value by one unit in the last place
    reorder      rewrite wallet_exclusions in reverse order: same rows, other ids
    delete-input delete one trades_raw row: an input table, which a job must never change
    slow         sleep before running COMMAND (nothing else changes)

It never imports the job: like every target of the harness, it is only a command.
"""

from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence

MODES = ("drop-row", "float-bit", "reorder", "delete-input", "slow")
SLOW_S = 3.0


def _db_of(command: Sequence[str]) -> str:
    for i, token in enumerate(command):
        if token == "--db" and i + 1 < len(command):
            return command[i + 1]
        if token.startswith("--db="):
            return token.split("=", 1)[1]
    raise SystemExit("canary: the command has no --db PATH")


def _break(db: str, mode: str) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    if mode == "delete-input":
        conn.execute(
            "DELETE FROM trades_raw WHERE id = (SELECT id FROM trades_raw ORDER BY id"
            " LIMIT 1 OFFSET (SELECT COUNT(*) / 2 FROM trades_raw))"
        )
        conn.execute("COMMIT")
        conn.close()
        return
    middle = conn.execute(
        "SELECT id, metric_value FROM wallet_exclusions WHERE typeof(metric_value) = 'real'"
        " ORDER BY id LIMIT 1 OFFSET (SELECT COUNT(*) / 2 FROM wallet_exclusions)"
    ).fetchone()
    if middle is None:
        raise SystemExit("canary: no wallet_exclusions row to break")
    row_id, value = middle
    if mode == "drop-row":
        conn.execute("DELETE FROM wallet_exclusions WHERE id = ?", (row_id,))
    elif mode == "float-bit":
        conn.execute(
            "UPDATE wallet_exclusions SET metric_value = ? WHERE id = ?",
            (math.nextafter(value, math.inf), row_id),
        )
    elif mode == "reorder":
        cols = "proxy_wallet, reason, metric_value, threshold, excluded_at"
        rows = conn.execute(f"SELECT {cols} FROM wallet_exclusions ORDER BY id DESC").fetchall()
        conn.execute("DELETE FROM wallet_exclusions")
        conn.executemany(f"INSERT INTO wallet_exclusions ({cols}) VALUES (?, ?, ?, ?, ?)", rows)
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
        time.sleep(SLOW_S)
    code = subprocess.call(command)
    if code == 0 and mode != "slow":
        _break(_db_of(command), mode)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
