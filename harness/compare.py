"""Compare output tables of two databases logically: rows matched by key, every column, bit-exact.

A table is read into ``{key: row}``. The key is the table's primary key (for a table with an
``INTEGER PRIMARY KEY`` such as ``id``, the id: ids are part of the output), else its first UNIQUE
constraint, else the whole row (a multiset). Values are compared with their SQLite storage class
and, for floats, their exact bits (``float.hex``), so ``1`` vs ``1.0``, ``-0.0`` vs ``0.0`` and NaNs
are told apart or matched exactly as stored, never via ``==``.

When rows keyed by id differ, the diff also compares by *natural* key (the first UNIQUE
constraint, e.g. ``(proxy_wallet, reason)``), ids aside: it counts rows found under another id
(the same content written in another order) and names the rows really missing or added.
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness import HarnessError
from persona_bench.kernel.sqlitefile import connect_ro

OUTPUT_TABLES = ("wallet_personas", "wallet_exclusions", "wallet_persona_traits", "job_status")
DEFAULT_EXAMPLES = 3
# column names that hold a point in time or a duration (SPEC: *_at, job_status.duration_ms)
_TIME_COLUMN = re.compile(r"(_at|_ms|_time|_ts|timestamp|duration)$|^(time|date)", re.IGNORECASE)

Cell = tuple[str, object]  # (storage class, exact value)
Key = tuple[Cell, ...]


@dataclass(frozen=True)
class TableData:
    """One table as read: column names, key columns, natural key columns and rows by key."""

    name: str
    columns: tuple[str, ...]
    key_columns: tuple[str, ...]  # () means "the whole row" (no key: compared as a multiset)
    natural_key: tuple[str, ...]
    rows: dict[Key, tuple[Cell, ...]]
    exists: bool = True


@dataclass(frozen=True)
class TableDiff:
    """How one table of a run differs from the reference."""

    differ: int = 0
    missing: int = 0
    extra: int = 0
    id_shifted: int = 0  # rows found under another id with the same natural key
    columns: tuple[str, ...] = ()  # the columns that differ in some row found on both sides
    note: str | None = None  # e.g. columns differ, table missing
    # the same comparison by natural key, ids aside: which rows are really absent or added
    by_natural_key: dict[str, object] | None = None
    examples: tuple[dict[str, object], ...] = field(default_factory=tuple)

    @property
    def identical(self) -> bool:
        """No row differs, none is missing or extra, and the shapes agree."""
        return not (self.differ or self.missing or self.extra or self.note)

    def to_dict(self) -> dict[str, object]:
        """The JSON form used in results.json."""
        data: dict[str, object] = {
            "differ": self.differ,
            "missing": self.missing,
            "extra": self.extra,
            "id_shifted": self.id_shifted,
            "columns": list(self.columns),
            "examples": list(self.examples),
        }
        if self.note:
            data["note"] = self.note
        if self.by_natural_key is not None:
            data["by_natural_key"] = self.by_natural_key
        return data


def cell(value: object) -> Cell:
    """A value with its storage class; floats as their exact bits."""
    if value is None:
        return ("null", None)
    if isinstance(value, float):
        return ("real", value.hex())
    if isinstance(value, int):
        return ("integer", value)
    if isinstance(value, str):
        return ("text", value)
    if isinstance(value, bytes):
        return ("blob", value)
    raise TypeError(f"unexpected SQLite value {value!r}")


def show(c: Cell) -> object:
    """A cell for people and JSON: floats as ``repr (hex)`` so a last-bit difference shows."""
    kind, value = c
    if kind == "real":
        assert isinstance(value, str)
        return f"{float.fromhex(value)!r} ({value})"
    if kind == "blob":
        assert isinstance(value, bytes)
        return f"x'{value.hex()}'"
    return value


def _order(key: Key) -> tuple[tuple[int, float, str], ...]:
    """A sort key for table keys: numbers numerically, then text, as SQLite orders them."""
    out = []
    for kind, value in key:
        if kind in ("integer", "real"):
            number = float.fromhex(str(value)) if kind == "real" else float(value)  # type: ignore[arg-type]
            out.append((1, number if number == number else 0.0, ""))
        else:
            rank = {"null": 0, "text": 2, "blob": 3}.get(kind, 4)
            out.append((rank, 0.0, value.hex() if isinstance(value, bytes) else str(value)))
    return tuple(out)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _keys(conn: sqlite3.Connection, table: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(primary key columns, first UNIQUE constraint columns) of ``table``."""
    info = conn.execute(f"PRAGMA table_info({_quote(table)})").fetchall()
    pk = tuple(row[1] for row in sorted((r for r in info if r[5]), key=lambda r: r[5]))
    unique: tuple[str, ...] = ()
    # index_list lists the newest index first; constraints ("u") in reverse declaration order
    for idx in reversed(conn.execute(f"PRAGMA index_list({_quote(table)})").fetchall()):
        if idx[2] and idx[3] == "u":
            cols = conn.execute(f"PRAGMA index_info({_quote(idx[1])})").fetchall()
            unique = tuple(c[2] for c in sorted(cols, key=lambda c: c[0]))
            break
    return pk, unique


def read_table(conn: sqlite3.Connection, table: str, ignore: Iterable[str] = ()) -> TableData:
    """Read ``table`` (minus the ``ignore``d columns) keyed as described in the module docstring."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    if not exists:
        return TableData(table, (), (), (), {}, exists=False)
    pk, natural = _keys(conn, table)
    ignored = set(ignore)
    info = conn.execute(f"PRAGMA table_info({_quote(table)})").fetchall()
    columns = tuple(r[1] for r in info if r[1] not in ignored)
    if not columns:
        return TableData(table, (), (), (), {}, exists=True)
    key_columns = pk if pk and not set(pk) & ignored else natural
    if set(key_columns) & ignored:
        key_columns = ()
    positions = [columns.index(c) for c in key_columns]
    rows: dict[Key, tuple[Cell, ...]] = {}
    multiset: Counter[tuple[Cell, ...]] = Counter()
    sql = f"SELECT {', '.join(map(_quote, columns))} FROM {_quote(table)}"
    for raw in conn.execute(sql):
        row = tuple(cell(v) for v in raw)
        if positions:
            rows[tuple(row[i] for i in positions)] = row
        else:
            multiset[row] += 1
    # without a key, identical rows are told apart by their occurrence number
    for row, count in multiset.items():
        for n in range(count):
            rows[(*row, ("occurrence", n))] = row
    return TableData(table, columns, key_columns, natural if pk != natural else (), rows)


def read_tables(path: Path, tables: Sequence[str], ignore: Sequence[str]) -> dict[str, TableData]:
    """Read ``tables`` of the database at ``path``; ``ignore`` holds ``TABLE.COLUMN`` names."""
    by_table: dict[str, list[str]] = {}
    for item in ignore:
        table, _, column = item.partition(".")
        by_table.setdefault(table, []).append(column)
    try:
        conn = connect_ro(path, isolation_level=None)
    except sqlite3.Error as exc:
        raise HarnessError(f"cannot open {path}: {exc}") from None
    try:
        return {t: read_table(conn, t, by_table.get(t, ())) for t in tables}
    except sqlite3.DatabaseError as exc:
        raise HarnessError(f"cannot read {path}: {exc}") from None
    finally:
        conn.close()


def _named(columns: Sequence[str], row: tuple[Cell, ...]) -> dict[str, object]:
    return {c: show(v) for c, v in zip(columns, row, strict=True)}


def _key_text(columns: Sequence[str], key: Key) -> str:
    if not columns:
        return "(whole row)"
    return ", ".join(f"{c}={show(v)!r}" for c, v in zip(columns, key, strict=False))


def _natural_view(
    expected: TableData, got: TableData, examples: int
) -> tuple[int, dict[str, object] | None]:
    """(rows whose natural key sits under another id, the natural-key comparison)."""
    nat = expected.natural_key
    positions = [expected.columns.index(c) for c in nat if c in expected.columns]
    if not nat or not expected.key_columns or len(positions) != len(nat):
        return 0, None

    def by_natural(table: TableData) -> dict[Key, Key]:
        return {tuple(r[i] for i in positions): k for k, r in table.rows.items()}

    exp_ids, got_ids = by_natural(expected), by_natural(got)
    shifted = sum(1 for n, k in exp_ids.items() if n in got_ids and got_ids[n] != k)
    missing = sorted(exp_ids.keys() - got_ids.keys(), key=_order)
    extra = sorted(got_ids.keys() - exp_ids.keys(), key=_order)
    view: dict[str, object] = {
        "key": list(nat),
        "missing": len(missing),
        "extra": len(extra),
        "missing_examples": [_key_text(nat, k) for k in missing[:examples]],
        "extra_examples": [_key_text(nat, k) for k in extra[:examples]],
    }
    return shifted, view


def compare_table(
    expected: TableData, got: TableData, *, examples: int = DEFAULT_EXAMPLES
) -> TableDiff:
    """Row-by-row comparison of one table; the first ``examples`` differences shown side by side."""
    if expected.exists != got.exists:
        where = "the run" if expected.exists else "the reference"
        return TableDiff(
            missing=len(expected.rows), extra=len(got.rows), note=f"table missing in {where}"
        )
    if expected.columns != got.columns:
        return TableDiff(
            note=f"columns differ: expected {list(expected.columns)}, got {list(got.columns)}"
        )
    differ = [k for k in expected.rows if k in got.rows and expected.rows[k] != got.rows[k]]
    missing = [k for k in expected.rows if k not in got.rows]
    extra = [k for k in got.rows if k not in expected.rows]
    shown: list[dict[str, object]] = []
    cols = expected.columns
    for kind, keys in (("differ", differ), ("missing", missing), ("extra", extra)):
        for key in sorted(keys, key=_order)[: max(0, examples - len(shown))]:
            exp_row, got_row = expected.rows.get(key), got.rows.get(key)
            shown.append(
                {
                    "kind": kind,
                    "key": _key_text(expected.key_columns, key),
                    "expected": _named(cols, exp_row) if exp_row else None,
                    "got": _named(cols, got_row) if got_row else None,
                }
            )
    shifted, view = (
        _natural_view(expected, got, examples) if differ or missing or extra else (0, None)
    )
    changed = {
        i
        for k in differ
        for i, (a, b) in enumerate(zip(expected.rows[k], got.rows[k], strict=True))
        if a != b
    }
    return TableDiff(
        differ=len(differ),
        missing=len(missing),
        extra=len(extra),
        id_shifted=shifted,
        columns=tuple(cols[i] for i in sorted(changed)),
        examples=tuple(shown),
        by_natural_key=view,
    )


def is_time_column(name: str) -> bool:
    """A column that holds a timestamp or a duration, by its name (``*_at``, ``*_ms``, ...)."""
    return bool(_TIME_COLUMN.search(name))


def wall_clock_only(diffs: Mapping[str, Mapping[str, object]]) -> tuple[str, ...] | None:
    """``TABLE.COLUMN`` of the differing columns when all of them hold times, else None.

    ``diffs`` is a run's diff as in results.json (table -> ``TableDiff.to_dict()``). None as soon
    as a row is missing or extra, a table's shape differs, or a differing column is not a
    timestamp or a duration: then the difference is in the rows, not in the clock.
    """
    found: list[str] = []
    for table, diff in diffs.items():
        if diff.get("missing") or diff.get("extra") or diff.get("note"):
            return None
        columns = diff.get("columns") or ()
        assert isinstance(columns, (list, tuple))
        if not columns or not all(is_time_column(str(c)) for c in columns):
            return None
        found += [f"{table}.{c}" for c in columns]
    return tuple(found) or None


def compare_tables(
    expected: dict[str, TableData],
    got: dict[str, TableData],
    *,
    examples: int = DEFAULT_EXAMPLES,
) -> dict[str, TableDiff]:
    """The differing tables only (an empty dict means identical)."""
    diffs = {t: compare_table(expected[t], got[t], examples=examples) for t in expected}
    return {t: d for t, d in diffs.items() if not d.identical}


__all__ = [
    "OUTPUT_TABLES",
    "TableData",
    "TableDiff",
    "cell",
    "compare_table",
    "compare_tables",
    "is_time_column",
    "read_table",
    "read_tables",
    "show",
    "wall_clock_only",
]
