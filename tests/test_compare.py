"""Tests for harness.compare: logical, bit-exact comparison of output tables."""

from __future__ import annotations

import math
import shutil
import sqlite3
from pathlib import Path

import pytest

from harness.compare import OUTPUT_TABLES, compare_tables, read_tables
from tests.harness_support import make_db

ROWS = [(f"0x{i:02x}", "NOISE_TRADER", i / 7, 0.5, "2026-01-01 00:00:00.000") for i in range(10)]


@pytest.fixture
def reference(tmp_path: Path) -> Path:
    """A database whose output tables hold ten exclusions, one trait and a job_status row."""
    path = make_db(tmp_path / "ref.db", wallets=10)
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO wallet_exclusions (proxy_wallet, reason, metric_value, threshold, "
            "excluded_at) VALUES (?, ?, ?, ?, ?)",
            ROWS,
        )
        conn.execute(
            "INSERT INTO wallet_persona_traits (proxy_wallet, trait_key, trait_value, computed_at)"
            " VALUES ('0x01', 'WHALE', '1', 't')"
        )
        conn.execute(
            "INSERT INTO job_status VALUES ('persona_classification', 'idle', 't', 1234, NULL, "
            "'{}', 't')"
        )
    conn.close()
    return path


def _variant(reference: Path, tmp_path: Path, *sql: str, params: tuple[object, ...] = ()) -> Path:
    path = tmp_path / "run.db"
    shutil.copyfile(reference, path)
    conn = sqlite3.connect(path)
    with conn:
        for statement in sql:
            conn.execute(statement, params if "?" in statement else ())
    conn.close()
    return path


def _diff(reference: Path, run: Path, ignore: tuple[str, ...] = ()) -> dict[str, dict[str, object]]:
    expected = read_tables(reference, OUTPUT_TABLES, ignore)
    got = read_tables(run, OUTPUT_TABLES, ignore)
    return {t: d.to_dict() for t, d in compare_tables(expected, got).items()}


def test_a_copy_is_identical(reference: Path, tmp_path: Path) -> None:
    """An untouched copy has no differences."""
    assert _diff(reference, _variant(reference, tmp_path)) == {}


def test_a_missing_row_is_reported_with_its_key(reference: Path, tmp_path: Path) -> None:
    """A deleted row is 'missing', named by its id, shown with the expected values."""
    run = _variant(reference, tmp_path, "DELETE FROM wallet_exclusions WHERE proxy_wallet = '0x04'")
    diff = _diff(reference, run)
    assert list(diff) == ["wallet_exclusions"]
    table = diff["wallet_exclusions"]
    assert (table["differ"], table["missing"], table["extra"]) == (0, 1, 0)
    example = table["examples"][0]  # type: ignore[index]
    assert example["kind"] == "missing"
    assert example["key"] == "id=5"
    assert example["expected"]["proxy_wallet"] == "0x04"
    assert example["got"] is None
    assert table["by_natural_key"]["missing_examples"] == [
        "proxy_wallet='0x04', reason='NOISE_TRADER'"
    ]


def test_a_float_off_by_one_ulp_is_a_difference(reference: Path, tmp_path: Path) -> None:
    """A metric changed in its last bit differs, and the example shows both bit patterns."""
    bumped = math.nextafter(3 / 7, 1.0)
    run = _variant(
        reference,
        tmp_path,
        "UPDATE wallet_exclusions SET metric_value = ? WHERE proxy_wallet = '0x03'",
        params=(bumped,),
    )
    table = _diff(reference, run)["wallet_exclusions"]
    assert (table["differ"], table["missing"], table["extra"]) == (1, 0, 0)
    example = table["examples"][0]  # type: ignore[index]
    assert example["expected"]["metric_value"] == f"{3 / 7!r} ({(3 / 7).hex()})"
    assert example["got"]["metric_value"] == f"{bumped!r} ({bumped.hex()})"


@pytest.mark.parametrize(
    ("old", "new"),
    [(0.0, -0.0), (1.0, 1), (0.5, None), (0.5, "0.5"), (0.1 + 0.2, 0.3)],
)
def test_equal_looking_values_of_another_kind_differ(
    tmp_path: Path, old: object, new: object
) -> None:
    """-0.0 vs 0.0, 1.0 vs 1, a number vs NULL or text, 0.1+0.2 vs 0.3 differ, as stored."""
    ref = tmp_path / "a.db"
    conn = sqlite3.connect(ref)
    conn.execute("CREATE TABLE vals (k INTEGER PRIMARY KEY, v)")  # no affinity: kept as given
    conn.execute("INSERT INTO vals VALUES (1, ?)", (old,))
    conn.commit()
    conn.close()
    run = _variant(ref, tmp_path, "UPDATE vals SET v = ? WHERE k = 1", params=(new,))
    diffs = compare_tables(read_tables(ref, ["vals"], []), read_tables(run, ["vals"], []))
    assert diffs["vals"].differ == 1


def test_nan_equals_nan_bit_for_bit(reference: Path, tmp_path: Path) -> None:
    """The same NaN stored twice is not a difference (no == comparison)."""
    conn = sqlite3.connect(reference)
    conn.execute("CREATE TABLE floats (k INTEGER PRIMARY KEY, v REAL)")
    conn.execute("INSERT INTO floats VALUES (1, ?)", (1e308 * 10 - 1e308 * 10,))
    conn.commit()
    conn.close()
    run = _variant(reference, tmp_path)
    expected = read_tables(reference, ["floats"], [])
    got = read_tables(run, ["floats"], [])
    assert compare_tables(expected, got) == {}


def test_rows_in_another_order_differ_by_id(reference: Path, tmp_path: Path) -> None:
    """The same rows inserted in reverse order differ by id; the natural-key matches are counted."""
    run = _variant(
        reference,
        tmp_path,
        "DELETE FROM wallet_exclusions",
        "DELETE FROM sqlite_sequence WHERE name = 'wallet_exclusions'",
    )
    conn = sqlite3.connect(run)
    with conn:
        conn.executemany(
            "INSERT INTO wallet_exclusions (proxy_wallet, reason, metric_value, threshold, "
            "excluded_at) VALUES (?, ?, ?, ?, ?)",
            ROWS[::-1],
        )
    conn.close()
    table = _diff(reference, run)["wallet_exclusions"]
    assert (table["differ"], table["missing"], table["extra"]) == (10, 0, 0)
    assert table["id_shifted"] == 10


def test_ignored_columns_are_not_compared(reference: Path, tmp_path: Path) -> None:
    """A different job_status.duration_ms is a difference unless that column is ignored."""
    run = _variant(reference, tmp_path, "UPDATE job_status SET duration_ms = 99")
    assert _diff(reference, run)["job_status"]["differ"] == 1
    assert _diff(reference, run, ignore=("job_status.duration_ms",)) == {}


def test_extra_rows_and_a_missing_table_are_reported(reference: Path, tmp_path: Path) -> None:
    """Rows only in the run are 'extra'; a dropped output table is named as missing."""
    run = _variant(
        reference,
        tmp_path,
        "INSERT INTO wallet_persona_traits (proxy_wallet, trait_key, trait_value, computed_at) "
        "VALUES ('0x02', 'BONDER', '1', 't')",
        "DROP TABLE wallet_personas",
    )
    diff = _diff(reference, run)
    assert diff["wallet_persona_traits"]["extra"] == 1
    assert diff["wallet_personas"]["note"] == "table missing in the run"


def test_a_table_without_a_key_is_compared_as_a_multiset(tmp_path: Path) -> None:
    """Without any key, a duplicated row is one extra row."""
    ref = tmp_path / "a.db"
    conn = sqlite3.connect(ref)
    conn.execute("CREATE TABLE log (msg TEXT, n REAL)")
    conn.executemany("INSERT INTO log VALUES (?, ?)", [("a", 1.0), ("b", 2.0)])
    conn.commit()
    conn.close()
    run = _variant(ref, tmp_path, "INSERT INTO log VALUES ('a', 1.0)")
    diffs = compare_tables(read_tables(ref, ["log"], []), read_tables(run, ["log"], []))
    assert diffs["log"].extra == 1 and diffs["log"].missing == 0
