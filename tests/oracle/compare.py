"""Row-by-row comparison of the four output tables of two databases (ids included).

Floats agree to 1e-9 relative (1e-12 absolute near zero); ``job_status.duration_ms`` is the one
wall-clock value and is skipped; ``job_status.metadata`` is compared as JSON on the keys SPEC
names, so an implementation may add its own resume keys.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from persona_bench.kernel.sqlitefile import connect_ro

TABLES = {
    "wallet_personas": (
        "id, proxy_wallet, persona, confidence, feature_values_json, classified_at",
        "id",
    ),
    "wallet_exclusions": (
        "id, proxy_wallet, reason, metric_value, threshold, excluded_at",
        "id",
    ),
    "wallet_persona_traits": (
        "id, proxy_wallet, trait_key, trait_value, computed_at",
        "id",
    ),
    "job_status": (
        "job_name, status, last_run_at, last_error, metadata, updated_at",
        "job_name",
    ),
}

# metadata keys SPEC section 2 names; any other key is an implementation's own (resume state)
SPEC_METADATA_KEYS = frozenset(
    {
        "processed",
        "stage1_no_trades",
        "stage1_other",
        "stage2_excluded",
        "suitable",
        "unclassified",
        "errors",
        "total",
        "phase",
        "classified",
        "completed",
        "skipped",
        "total_wallets",
        "min_trades_required",
        "min_tracking_days",
    }
)


def dump(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """The four output tables as sorted row lists (a missing table is an empty list)."""
    conn = connect_ro(db)
    try:
        have = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        return {
            table: (
                conn.execute(f"SELECT {cols} FROM {table} ORDER BY {key}").fetchall()
                if table in have
                else []
            )
            for table, (cols, key) in TABLES.items()
        }
    finally:
        conn.close()


def _same_value(a: Any, b: Any) -> bool:
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return type(a) is type(b) and a == b


def _same_metadata(expected: str | None, got: str | None) -> bool:
    if expected is None or got is None:
        return expected == got
    want, have = json.loads(expected), json.loads(got)
    for key in SPEC_METADATA_KEYS:
        if (key in want) != (key in have):
            return False
        if key in want and not _same_value(want[key], have[key]):
            return False
    return True


def _same_row(table: str, want: tuple[Any, ...], have: tuple[Any, ...]) -> bool:
    if len(want) != len(have):
        return False
    for i, (a, b) in enumerate(zip(want, have, strict=True)):
        if table == "job_status" and i == 4 and want[0] == "persona_classification":
            if not _same_metadata(a, b):
                return False
        elif not _same_value(a, b):
            return False
    return True


def diff_outputs(expected: Path, got: Path, limit: int = 12) -> list[str]:
    """Human-readable differences (expected = oracle); empty when the outputs agree."""
    want_all, have_all = dump(expected), dump(got)
    out: list[str] = []
    for table in TABLES:
        want, have = want_all[table], have_all[table]
        if len(want) != len(have):
            out.append(f"{table}: {len(want)} rows expected, {len(have)} got")
        by_key = {r[0]: r for r in have}
        for row in want:
            other = by_key.pop(row[0], None)
            if other is None:
                out.append(f"{table}: missing {row}")
            elif not _same_row(table, row, other):
                out.append(f"{table}: expected {row}\n{' ' * len(table)}       got {other}")
        out.extend(f"{table}: extra {row}" for row in by_key.values())
    return out[:limit]
