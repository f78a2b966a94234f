"""classifier/sqlmath.py against SQLite itself: the sums production computes in SQL, on an
untyped table that keeps every value's storage class (integers, huge integers, inf, NaN)."""

from __future__ import annotations

import math
import random
import sqlite3

import pytest

from classifier import sqlmath
from classifier.features import FeatureError

VALUES = [0, 1, 3, -4, 7.5, -2.25, 2**62, -(2**62), 2**61, math.inf, -math.inf, 1e300, 0.1]


def _sqlite(rows: list[tuple[str, object, object]], sql: str, whole: bool = False) -> object:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (k, size, price)")  # no types: values keep their class
    conn.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
    try:
        row = conn.execute(sql).fetchone()
        return row if whole else row[0]
    except sqlite3.OperationalError as exc:
        return f"error: {exc}"
    finally:
        conn.close()


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b and type(a) is type(b)


@pytest.mark.parametrize("seed", range(200))
def test_sum_avg_and_shares_match_sqlite(seed: int) -> None:
    """SUM (exact integers, overflow), AVG of products, the concentration and the top-domain
    share agree with SQLite's own evaluation of the same aggregates, value for value."""
    rng = random.Random(seed)
    n = rng.randint(1, 8)
    rows = [(rng.choice("ABC"), rng.choice(VALUES), rng.choice(VALUES)) for _ in range(n)]
    sizes = [r[1] for r in rows]
    prices = [r[2] for r in rows]

    try:
        got: object = sqlmath.sql_sum(sizes)
    except sqlmath.IntegerOverflow:
        got = "error: integer overflow"
    assert _same(got, _sqlite(rows, "SELECT SUM(size) FROM t"))

    want_avg = _sqlite(rows, "SELECT COALESCE(AVG(size * price), 0.0) FROM t")
    assert _same(sqlmath.avg_product(sizes, prices), want_avg)

    want_conc = _sqlite(
        rows,
        """WITH v AS (SELECT k, SUM(size) AS vol FROM t GROUP BY k),
           tot AS (SELECT SUM(vol) AS total FROM v),
           top3 AS (SELECT SUM(vol) AS s FROM (SELECT vol FROM v ORDER BY vol DESC LIMIT 3))
           SELECT CASE WHEN total > 0 THEN CAST(s AS REAL) / total ELSE 0.0 END FROM tot, top3""",
    )
    conc = sqlmath.concentration([r[0] for r in rows], sizes)
    assert _same(conc, 0.0 if not isinstance(want_conc, float) else want_conc)

    want_top = _sqlite(
        rows,
        """WITH v AS (SELECT k, SUM(size) AS vol FROM t GROUP BY k),
           tot AS (SELECT COALESCE(SUM(vol), 0.0) AS total FROM v)
           SELECT k, CASE WHEN total > 0 THEN vol / total ELSE 0.0 END
           FROM v, tot ORDER BY vol DESC LIMIT 1""",
        whole=True,
    )
    try:
        got_top: object = sqlmath.top_share([r[0] for r in rows], sizes)
    except FeatureError:
        # production's read fails where SQLite errs or the share is NULL
        assert isinstance(want_top, str) or want_top[1] is None
        return
    assert isinstance(want_top, tuple)
    assert got_top == (want_top[0], float(want_top[1]))
