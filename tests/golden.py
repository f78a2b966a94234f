"""Golden cases: load a `fixtures/golden/<case>.json`, build its database, write its config.

A case is a small production database written as JSON rows, the run's `now`, a few overrides of
production's `[personas]` config, and the rows the classifier must leave behind (every expected
value is derived by hand from `../shared/SPEC.md` in the case's `notes`). The format is described
in `docs/golden.md`. This module never imports `classifier`: the cases check it from outside.

Conveniences keep the JSON readable, all applied only while building the database:
- an integer unix time may be written `"@now-45d+1s"` (units d, h, m, s; any string that does not
  start with `@now` is stored as it is, so text in a REAL column stays text);
- `{"$blob": "HEX"}` stores a blob, `{"$text": "HEX"}` text of those bytes (which need not be
  valid UTF-8), `{"$real": "inf"}` a float JSON cannot write (inf, -inf, or any float literal);
- NOT NULL columns the case does not care about get a fixed filler (`_FILLERS`).
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import sqlite3
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fixtures import DEFAULT_CONFIG, GOLDEN
from persona_bench.kernel.sqlitefile import connect_ro
from tests.helpers import new_db

GOLDEN_DIR = GOLDEN

INPUT_TABLES = (
    "wallets",
    "trades_raw",
    "markets",
    "paper_trades",
    "paper_positions",
    "positions_snapshots",
)
OUTPUT_TABLES = ("wallet_exclusions", "wallet_personas", "wallet_persona_traits")
COUNTER_KEYS = (
    "processed",
    "stage1_no_trades",
    "stage1_other",
    "stage2_excluded",
    "suitable",
    "unclassified",
    "errors",
)
REL_TOL = 1e-9
ABS_TOL = 1e-12  # a value expected to be exactly 0 may come back as a last-bit residue

# fillers for NOT NULL columns that a case leaves out (they never change a result)
_FILLERS: dict[str, dict[str, Any]] = {
    "wallets": {"discovered_from": "golden", "discovered_at": "2025-01-01 00:00:00"},
    "markets": {"title": "golden market"},
    "paper_trades": {"condition_id": "c0"},
    "paper_positions": {},
    "positions_snapshots": {},
    "trades_raw": {},
}
_TIME = re.compile(r"@now((?:[+-]\d+[dhms])*)")
_TERM = re.compile(r"([+-])(\d+)([dhms])")
_UNIT = {"d": 86400, "h": 3600, "m": 60, "s": 1}


@dataclass(frozen=True, kw_only=True)
class GoldenCase:
    """One golden case as read from its JSON file."""

    name: str
    description: str
    now: int
    config: Mapping[str, Any]
    tables: Mapping[str, Sequence[Mapping[str, Any]]]
    expected: Mapping[str, Any]
    notes: Any


def case_paths() -> list[Path]:
    """Every golden case file, sorted by name."""
    return sorted(GOLDEN_DIR.glob("*.json"))


def load_case(path: Path) -> GoldenCase:
    """Read one case and check that it has the parts the test needs."""
    data = json.loads(path.read_text(encoding="utf-8"))
    missing = {"description", "now", "tables", "expected", "notes"} - data.keys()
    if missing:
        raise ValueError(f"{path.name}: missing keys {sorted(missing)}")
    unknown = set(data["tables"]) - set(INPUT_TABLES) - set(OUTPUT_TABLES)
    if unknown:
        raise ValueError(f"{path.name}: unknown tables {sorted(unknown)}")
    return GoldenCase(
        name=path.stem,
        description=data["description"],
        now=int(data["now"]),
        config=data.get("config", {}),
        tables=data["tables"],
        expected=data["expected"],
        notes=data["notes"],
    )


def resolve(value: Any, now: int) -> Any:
    """`"@now-45d+1s"` -> the unix time; `{"$blob"|"$text": HEX}` -> bytes; `{"$real": "inf"}`
    -> the float; anything else unchanged."""
    if isinstance(value, dict):
        ((kind, text),) = value.items()
        return float(text) if kind == "$real" else bytes.fromhex(text)
    if isinstance(value, str):
        match = _TIME.fullmatch(value)
        if match:
            total = now
            for sign, amount, unit in _TERM.findall(match.group(1)):
                step = int(amount) * _UNIT[unit]
                total += step if sign == "+" else -step
            return total
    return value


def format_ts(unix: int) -> str:
    """A run's timestamp as SPEC 2.1 writes it in the row tables: `YYYY-MM-DD HH:MM:SS.000`
    (UTC); `job_status` carries it without the milliseconds."""
    with contextlib.closing(sqlite3.connect(":memory:")) as conn:
        row = conn.execute("SELECT strftime('%Y-%m-%d %H:%M:%S', ?, 'unixepoch')", (unix,))
        return f"{row.fetchone()[0]}.000"


def build_db(case: GoldenCase, path: Path) -> None:
    """Create the case's database at `path`: production schema, WAL mode, the case's rows."""
    conn = new_db(path)
    try:
        with conn:
            for table, rows in case.tables.items():
                for row in rows:
                    full = {**_FILLERS.get(table, {}), **row}
                    cols = list(full)
                    marks = [
                        "CAST(? AS TEXT)"
                        if isinstance(full[c], dict) and "$text" in full[c]
                        else "?"
                        for c in cols
                    ]
                    sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(marks)})"
                    conn.execute(sql, [resolve(full[c], case.now) for c in cols])
    finally:
        conn.close()


def effective_config(case: GoldenCase) -> dict[str, Any]:
    """Production's `[personas]` table with the case's overrides (`null` removes a key)."""
    with DEFAULT_CONFIG.open("rb") as fh:
        personas = dict(tomllib.load(fh)["personas"])
    for key, value in case.config.items():
        if value is None:
            personas.pop(key, None)
        else:
            personas[key] = value
    return personas


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # shortest round-trip form is valid TOML (0.6, 1e-05, 10.0)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string with only ASCII escapes is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def write_config(case: GoldenCase, path: Path) -> None:
    """Write the case's full config file (production's defaults plus its overrides)."""
    lines = ["[personas]"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in effective_config(case).items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_table(db: Path, table: str) -> list[dict[str, Any]]:
    """Every row of `table`, in id order (`job_status` by job name)."""
    conn = connect_ro(db)
    try:
        conn.row_factory = sqlite3.Row
        order = "job_name" if table == "job_status" else "id"
        return [dict(r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY {order}")]
    finally:
        conn.close()


def same_value(expected: Any, got: Any) -> bool:
    """Equal, with numbers compared to 1e-9 relative; a number never equals text."""
    if isinstance(expected, bool) or isinstance(got, bool):
        return expected == got
    if isinstance(expected, int | float) and isinstance(got, int | float):
        return math.isclose(expected, got, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    return bool(expected == got) and type(expected) is type(got)


def diff_rows(expected: Sequence[Mapping[str, Any]], got: Sequence[Mapping[str, Any]]) -> list[str]:
    """Human-readable differences between two row lists (empty when they agree)."""
    problems: list[str] = []
    if len(expected) != len(got):
        problems.append(f"expected {len(expected)} rows, got {len(got)}")
    for i, (want, have) in enumerate(zip(expected, got, strict=False)):
        for col, value in want.items():
            if col not in have:
                problems.append(f"row {i}: no column {col!r}")
            elif not same_value(value, have[col]):
                problems.append(f"row {i} {col}: expected {value!r}, got {have[col]!r}")
        extra = set(have) - set(want)
        if extra:
            problems.append(f"row {i}: columns not in the case: {sorted(extra)}")
    if len(expected) != len(got):
        problems.append(f"expected rows: {list(expected)}")
        problems.append(f"got rows: {list(got)}")
    return problems


def diff_mapping(expected: Mapping[str, Any], got: Mapping[str, Any], *, exact: bool) -> list[str]:
    """Differences for the keys of `expected`; with `exact`, keys of `got` beyond them too."""
    problems = [
        f"{key}: expected {value!r}, got {got.get(key, '<missing>')!r}"
        for key, value in expected.items()
        if key not in got or not same_value(value, got[key])
    ]
    if exact and set(got) - set(expected):
        problems.append(f"keys not expected: {sorted(set(got) - set(expected))}")
    return problems
