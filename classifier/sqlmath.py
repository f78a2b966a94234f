"""SQLite's arithmetic where production computes a feature in SQL and the values are INTEGERs.

Production sums sizes per market and per domain, and averages size * price, in SQL. With its
REAL columns every value is a float and ``features`` reproduces those sums directly. A database
whose columns keep INTEGER values (SQLite lets any column hold any storage class) gets SQLite
3.40's integer rules instead, reproduced here: ``SUM`` stays an exact 64-bit integer until a REAL
arrives and fails with "integer overflow" past 2**63, ``AVG`` accumulates doubles, ``*``
overflowing 64 bits gives a REAL, ``/`` of two integers truncates, and a NaN result is NULL.
Pure: no SQL here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1


class FeatureError(Exception):
    """A window trade or the top domain is not what production's typed reads accept."""


class IntegerOverflow(Exception):
    """SQLite's SUM() failed with "integer overflow"."""


def describe(value: Any) -> str:
    """A value's storage class and value, for a message: ``NULL``, ``text 'abc'``, ..."""
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        return f"a blob of {len(value)} bytes"
    if isinstance(value, str | int | float):
        kind = {str: "text", int: "an integer", float: "a real"}[type(value)]
        return f"{kind} {value!r}"
    return f"text that is not valid UTF-8 ({getattr(value, 'raw', value)!r:.40})"


def _nan_to_none(value: int | float) -> int | float | None:
    return None if isinstance(value, float) and math.isnan(value) else value


def sql_sum(values: Iterable[int | float | None]) -> int | float | None:
    """SQLite 3.40's ``SUM()`` over values in the order given (NULLs skipped, None if none)."""
    exact, approx, seen = 0, 0.0, False
    inexact = False
    for v in values:
        if v is None:
            continue
        seen = True
        approx += v
        if type(v) is int:
            if not inexact:
                exact += v
                if not _I64_MIN <= exact <= _I64_MAX:
                    raise IntegerOverflow
        else:
            inexact = True
    if not seen:
        return None
    return _nan_to_none(approx) if inexact else exact


def _product(a: int | float, b: int | float) -> int | float:
    """SQLite's ``a * b``: an integer product past 64 bits becomes a REAL."""
    if type(a) is int and type(b) is int:
        p = a * b
        return p if _I64_MIN <= p <= _I64_MAX else float(a) * float(b)
    return a * b


def avg_product(sizes: Iterable[int | float], prices: Iterable[int | float]) -> float:
    """``COALESCE(AVG(size * price), 0.0)``: doubles accumulated in row order, NaN as NULL."""
    total, count = 0.0, 0
    for s, p in zip(sizes, prices, strict=True):
        x = _nan_to_none(_product(s, p))
        if x is not None:
            total += x
            count += 1
    mean = total / count if count else 0.0
    return 0.0 if math.isnan(mean) else mean


def _groups(keys: Iterable[Any], values: Iterable[int | float]) -> dict[Any, list[int | float]]:
    out: dict[Any, list[int | float]] = {}
    for k, v in zip(keys, values, strict=True):
        out.setdefault(k, []).append(v)
    return out


def sqlite_key(value: Any) -> tuple[int, Any]:
    """SQLite's order of non-NULL values: numbers, then text and blobs by their bytes."""
    if isinstance(value, int | float):
        return (0, value)
    if isinstance(value, str):
        return (1, value.encode("utf-8"))
    if isinstance(value, bytes):
        return (2, value)
    return (1, getattr(value, "raw", b""))  # text that is not valid UTF-8


def concentration(markets: Iterable[str], sizes: Iterable[int | float]) -> float:
    """Top-3 market share as production's query computes it; any SQL error reads as 0.0."""
    try:
        groups = _groups(markets, sizes)
        volumes = [sql_sum(groups[m]) for m in sorted(groups)]
        known = [v for v in volumes if v is not None]
        total = sql_sum(known)
        top3 = sql_sum(sorted(known, reverse=True)[:3])
    except IntegerOverflow:
        return 0.0
    if total is None or not total > 0 or top3 is None:
        return 0.0
    share = float(top3) / total
    return 0.0 if math.isnan(share) else share


def top_share(domains: Iterable[Any], sizes: Iterable[int | float]) -> tuple[str, float]:
    """The top domain and its share as production's query computes and reads them.

    Raises FeatureError where that read fails: an integer overflow in a sum, a top domain that
    is not TEXT, or a NULL share.
    """
    groups = _groups(domains, sizes)
    names = sorted(groups, key=sqlite_key)
    try:
        volumes = [sql_sum(groups[d]) for d in names]
        known = [v for v in volumes if v is not None]
        total = sql_sum(known) if known else None
    except IntegerOverflow:
        raise FeatureError("a domain's size sum overflows a 64-bit integer") from None
    total = 0.0 if total is None else total
    top, top_volume = names[0], volumes[0]
    for name, volume in zip(names, volumes, strict=True):
        if volume is not None and (top_volume is None or volume > top_volume):
            top, top_volume = name, volume
    ratio: int | float | None = 0.0
    if total > 0:
        if top_volume is None:
            ratio = None
        elif type(top_volume) is int and type(total) is int:
            ratio = abs(top_volume) // total * (1 if top_volume >= 0 else -1)
        else:
            ratio = _nan_to_none(top_volume / total)
    if type(top) is not str:
        raise FeatureError(f"the top domain is {describe(top)} (expected TEXT)")
    if ratio is None:
        raise FeatureError(f"the share of the top domain {top!r} is NULL (a NaN size sum)")
    return top, float(ratio)
