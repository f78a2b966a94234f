"""Prove that a run left its input tables alone: every table but the job's four outputs.

A job may write ``wallet_personas``, ``wallet_exclusions``, ``wallet_persona_traits``,
``job_status`` and the ``sqlite_sequence`` entries of those; anything else it changes (rows of an
input table, a dropped or created table, index or view, another table's schema, another table's
``sqlite_sequence`` entry) makes the run red, with the table named. A table the operator has the
harness compare (``--table``) counts as an output.

How, cheaply (streaming every input row through Python is slow, and ``ATTACH`` with ``EXCEPT``
sorts both sides; this costs about one read of both files: docs/design.md has the figures):

1. Once per validation, on the snapshot: its schema (``sqlite_master`` less the outputs' objects),
   its other ``sqlite_sequence`` entries, and which page belongs to which input table (SQLite's
   ``dbstat`` table: every b-tree page, overflow page included, with its table or index name).
2. After each run, on the run's copy: checkpoint its ``-wal`` into the file (a job may exit with
   committed pages still there), compare schema and sequence entries, then compare the copy's file
   with the snapshot's, 1 MiB at a time (a ``memcmp``), and name the input table of every page that
   differs. Any change to a b-tree's content rewrites at least one page the b-tree had before (the
   leaf it changed, or its parent, up to the root), so a table none of whose pages differ holds
   exactly the snapshot's rows. Pages the job added, freed or reused for its outputs do not count.
3. A table with a differing page (or a new root page) is then compared row by row, by rowid (or
   primary key), storage class included: the verdict is about content, so a job that only moved
   pages (``VACUUM``) is not red, and a red one says how many rows are missing, added or changed.

Without ``dbstat`` (a SQLite built without it) every input table is compared row by row: correct,
and slow. ``results.json`` records the method and the cost of each run's check.
"""

from __future__ import annotations

import sqlite3
import statistics
import time
from array import array
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import HarnessError
from harness.compare import OUTPUT_TABLES
from harness.results import Run
from persona_bench.kernel.sqlitefile import connect_ro

CHUNK_PAGES = 256  # pages compared per read (1 MiB at 4 KiB pages)
SEQUENCE = "sqlite_sequence"
_SCHEMA_SQL = "SELECT type, name, tbl_name, sql, rootpage FROM sqlite_master"


@dataclass(frozen=True)
class SchemaObject:
    """One row of ``sqlite_master``."""

    type: str
    name: str
    table: str
    sql: str | None
    rootpage: int


@dataclass(frozen=True)
class Reference:
    """What the snapshot's input tables are, taken once per validation."""

    path: Path
    page_size: int
    page_count: int
    objects: dict[str, SchemaObject]  # by name, the outputs' objects and sqlite_sequence left out
    sequence: dict[str, int | None]  # sqlite_sequence entries of input tables
    method: str  # "pages" (dbstat available) or "rows"
    outputs: frozenset[str] = frozenset(OUTPUT_TABLES)  # what the job may write
    owner_names: tuple[str, ...] = ()  # input tables; owners[page] - 1 indexes this
    owners: array[int] = field(default_factory=lambda: array("H"))
    seconds: float = 0.0

    @property
    def tables(self) -> tuple[str, ...]:
        """The input tables of the snapshot, by name."""
        return tuple(sorted(o.name for o in self.objects.values() if o.type == "table"))


@dataclass(frozen=True)
class Check:
    """One run's input check: the changed tables (empty: inputs untouched) and its cost."""

    changed: dict[str, str]  # table -> what changed
    seconds: float
    rows_compared: tuple[str, ...]  # tables that needed the row-by-row comparison

    def failure(self) -> str | None:
        """The run's failure text, naming every changed table, or None."""
        if not self.changed:
            return None
        parts = [f"{table} ({what})" for table, what in sorted(self.changed.items())]
        return "changed its input tables: " + "; ".join(parts)


def _connect(path: Path, *, frozen: bool) -> sqlite3.Connection:
    return connect_ro(path, immutable=frozen, isolation_level=None)


def _schema(conn: sqlite3.Connection, outputs: Collection[str]) -> dict[str, SchemaObject]:
    objects = (SchemaObject(*row) for row in conn.execute(_SCHEMA_SQL))
    return {o.name: o for o in objects if o.table not in outputs and o.name != SEQUENCE}


def _sequence(conn: sqlite3.Connection, outputs: Collection[str]) -> dict[str, int | None]:
    try:
        rows = conn.execute(f"SELECT name, seq FROM {SEQUENCE}").fetchall()
    except sqlite3.OperationalError:  # no AUTOINCREMENT table yet: no sqlite_sequence
        return {}
    return {name: seq for name, seq in rows if name not in outputs}


def _owners(
    conn: sqlite3.Connection, objects: Mapping[str, SchemaObject], page_count: int
) -> tuple[tuple[str, ...], array[int]] | None:
    """(input tables, owner of every page: 0 none, else 1 + index), or None without dbstat."""
    tables = sorted({o.table for o in objects.values()})
    ids = {t: i + 1 for i, t in enumerate(tables)}
    owners = array("H", bytes(2 * (page_count + 1)))
    try:
        for name, pageno in conn.execute("SELECT name, pageno FROM dbstat"):
            obj = objects.get(name)
            if obj is not None and 0 < pageno <= page_count:
                owners[pageno] = ids[obj.table]
    except sqlite3.OperationalError:  # SQLite built without SQLITE_ENABLE_DBSTAT_VTAB
        return None
    return tuple(tables), owners


def reference(snapshot: Path, outputs: Collection[str] = OUTPUT_TABLES) -> Reference:
    """Describe the snapshot's input tables (a closed, frozen file): all but ``outputs``.

    ``outputs`` are the job's four tables, plus any other table the operator has the harness
    compare (``--table``): those are outputs too.
    """
    outputs = frozenset(outputs)
    started = time.monotonic()
    conn = _connect(snapshot, frozen=True)
    try:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        page_count = conn.execute("PRAGMA page_count").fetchone()[0]
        objects = _schema(conn, outputs)
        sequence = _sequence(conn, outputs)
        owned = _owners(conn, objects, page_count)
    except sqlite3.DatabaseError as exc:
        raise HarnessError(f"cannot read snapshot {snapshot}: {exc}") from None
    finally:
        conn.close()
    names, owners = owned if owned is not None else ((), array("H"))
    return Reference(
        path=snapshot,
        page_size=page_size,
        page_count=page_count,
        objects=objects,
        sequence=sequence,
        method="pages" if owned is not None else "rows",
        outputs=outputs,
        owner_names=names,
        owners=owners,
        seconds=time.monotonic() - started,
    )


def _checkpoint(copy: Path) -> None:
    """Fold the copy's -wal into its file (the copy is the harness's own, never the source)."""
    conn = sqlite3.connect(copy, isolation_level=None)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    finally:
        conn.close()


def _changed_pages(ref: Reference, copy: Path) -> Iterator[int]:
    """Page numbers (1-based, within the snapshot's pages) whose bytes differ in ``copy``."""
    size = ref.page_size
    total = size * ref.page_count
    chunk = size * CHUNK_PAGES
    with ref.path.open("rb", buffering=0) as a, copy.open("rb", buffering=0) as b:
        offset = 0
        while offset < total:
            x = a.read(min(chunk, total - offset))
            y = b.read(len(x))
            if not x:
                return
            if x != y:
                for i in range(0, len(x), size):
                    if x[i : i + size] != y[i : i + size]:
                        yield (offset + i) // size + 1
            offset += len(x)


def _key(conn: sqlite3.Connection, table: str) -> list[str]:
    """What orders the rows by content: the primary key, else every column (a multiset).

    Not the hidden rowid of a table without an INTEGER PRIMARY KEY: ``VACUUM`` may renumber it,
    and a row deleted and inserted again is the same row. Text in BINARY order (UTF-8 bytes),
    which is Python's code point order (the merge in ``compare_rows`` relies on it).
    """
    info = conn.execute(f"PRAGMA table_info({_quote(table)})").fetchall()
    pk = sorted((r for r in info if r[5]), key=lambda r: r[5])  # (cid, name, type, _, _, pk)
    if len(pk) == 1 and str(pk[0][2]).upper() == "INTEGER":
        return [_quote(pk[0][1])]  # the rowid itself: no sort, no collation
    return [f"{_quote(r[1])} COLLATE BINARY" for r in pk or info]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


Row = tuple[Any, ...]


def _rows(conn: sqlite3.Connection, table: str) -> Iterator[tuple[Row, Row]]:
    """(key, row) of every row in key order."""
    key = _key(conn, table)
    order = ", ".join(key)
    cur = conn.execute(f"SELECT {order}, * FROM {_quote(table)} ORDER BY {order}")
    while batch := cur.fetchmany(10_000):
        for row in batch:
            yield row[: len(key)], row[len(key) :]


def _same(a: Row, b: Row) -> bool:
    """Equal values of equal storage classes (1 and 1.0 differ)."""
    return a == b and tuple(map(type, a)) == tuple(map(type, b))


def compare_rows(ref: Path, copy: Path, table: str) -> tuple[int, int, int]:
    """(missing, added, changed) rows of ``table`` in ``copy`` against the snapshot ``ref``."""
    a_conn, b_conn = _connect(ref, frozen=True), _connect(copy, frozen=False)
    missing = added = changed = 0
    try:
        a, b = _rows(a_conn, table), _rows(b_conn, table)
        x, y = next(a, None), next(b, None)
        while x is not None or y is not None:
            if y is None or (x is not None and _before(x[0], y[0])):
                missing += 1
                x = next(a, None)
            elif x is None or _before(y[0], x[0]):
                added += 1
                y = next(b, None)
            else:
                changed += not _same(x[1], y[1])
                x, y = next(a, None), next(b, None)
    finally:
        a_conn.close()
        b_conn.close()
    return missing, added, changed


def _before(k1: Row, k2: Row) -> bool:
    """k1 < k2 for keys read from SQLite in its order (numbers < text < blobs; None first)."""
    return _rank(k1) < _rank(k2)


def _rank(key: Row) -> tuple[tuple[int, Any, Any], ...]:
    return tuple(
        (0, 0, "")
        if v is None
        else (1, v, "")
        if isinstance(v, int | float)
        else (2, 0, v)
        if isinstance(v, str)
        else (3, 0, v)
        for v in key
    )


def _schema_changes(ref: Reference, got: Mapping[str, SchemaObject]) -> dict[str, list[str]]:
    changes: dict[str, list[str]] = {}
    for name in sorted(ref.objects.keys() | got.keys()):
        old, new = ref.objects.get(name), got.get(name)
        table = (old or new).table  # type: ignore[union-attr]
        if old is None:
            assert new is not None
            changes.setdefault(table, []).append(f"{new.type} {name} created")
        elif new is None:
            changes.setdefault(table, []).append(f"{old.type} {name} dropped")
        elif (old.type, old.table, old.sql) != (new.type, new.table, new.sql):
            changes.setdefault(table, []).append(f"schema of {old.type} {name} changed")
    return changes


def check(ref: Reference, copy: Path) -> Check:
    """Compare the run's ``copy`` with the snapshot; see the module docstring."""
    started = time.monotonic()
    if not copy.is_file():
        raise HarnessError(f"the run's database {copy} is gone")
    try:
        _checkpoint(copy)
        conn = _connect(copy, frozen=False)
        try:
            got = _schema(conn, ref.outputs)
            sequence = _sequence(conn, ref.outputs)
            page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        finally:
            conn.close()
        changes = _schema_changes(ref, got)
        for name in sorted(ref.sequence.keys() | sequence.keys()):
            old, new = ref.sequence.get(name), sequence.get(name)
            if old != new:
                changes.setdefault(name, []).append(f"sqlite_sequence {old} -> {new}")
        suspects = {
            o.table
            for o in ref.objects.values()
            if o.name in got and got[o.name].rootpage != o.rootpage
        }
        if ref.method == "rows" or page_size != ref.page_size:
            suspects |= set(ref.tables)
        else:
            for page in _changed_pages(ref, copy):
                owner = ref.owners[page]
                if owner:
                    suspects.add(ref.owner_names[owner - 1])
        compared = []
        for table in sorted(suspects):
            before, after = ref.objects.get(table), got.get(table)
            if before is None or after is None or before.type != "table" or table in changes:
                continue  # dropped, created, altered or not a table: already said
            compared.append(table)
            missing, added, differ = compare_rows(ref.path, copy, table)
            if missing or added or differ:
                changes.setdefault(table, []).append(
                    f"{missing:,} rows deleted, {added:,} added, {differ:,} changed"
                )
    except sqlite3.DatabaseError as exc:
        raise HarnessError(f"cannot check the input tables of {copy}: {exc}") from None
    return Check(
        changed={t: ", ".join(what) for t, what in changes.items()},
        seconds=time.monotonic() - started,
        rows_compared=tuple(compared),
    )


def summarize(ref: Reference, runs: Sequence[Run]) -> dict[str, Any]:
    """The ``input_check`` part of results.json: method, tables, cost, runs that changed inputs."""
    costs = [r.inputs_check_s for r in runs if r.inputs_check_s is not None]
    return {
        "method": ref.method,
        "tables": list(ref.tables),
        "reference_s": round(ref.seconds, 6),
        "runs_checked": len(costs),
        "per_run_median_s": round(statistics.median(costs), 6) if costs else None,
        "total_s": round(ref.seconds + sum(costs), 6),
        "changed_runs": sum(1 for r in runs if r.inputs_changed),
    }


def describe(data: Mapping[str, Any]) -> str:
    """One line for people: what the input check covered and what it cost."""
    median = data.get("per_run_median_s")
    per_run = f"{median:.2f} s per run (median)" if median is not None else "no run checked"
    verdict = (
        f"CHANGED by {data['changed_runs']} run(s)" if data.get("changed_runs") else "untouched"
    )
    return (
        f"input tables ({len(data.get('tables') or [])}, every table but the outputs): {verdict}; "
        f"check by {data.get('method')}: {data.get('reference_s', 0.0):.2f} s on the snapshot + "
        f"{per_run}, {data.get('total_s', 0.0):.1f} s in all"
    )


__all__ = [
    "OUTPUT_TABLES",
    "Check",
    "Reference",
    "check",
    "compare_rows",
    "describe",
    "reference",
    "summarize",
]
