"""Feature math (SPEC section 4): one wallet's window rows -> ``Features``. Pure, no SQL.

Every sum runs in an order this module fixes (trades in (timestamp, id) order, markets and days
ascending) and adds left to right (``seqsum``), so the same rows give bit-identical features in
any process, on any path. Per-trade work runs as C-level passes over the columns (``map``,
``compress``, ``reduce``) rather than Python loops wherever the order of operations allows.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import chain, compress, repeat
from operator import eq, floordiv, ge, gt, itemgetter, le, mul, not_, sub
from typing import Any, NamedTuple

from classifier import sqlmath
from classifier.sqlmath import FeatureError, describe

SECONDS_PER_DAY = 86_400
BURST_SPAN_S = 3_600
SHARPE_EPS = 1e-12
ANNUALISATION = math.sqrt(252)


class Trades(NamedTuple):
    """A wallet's window trades as columns, in (timestamp, id) order; ``categories`` maps a
    market to its category (any storage class): a market missing from it is 'unknown'. Columns
    keep the per-trade Python work small."""

    markets: tuple[str, ...]
    sides: tuple[str, ...]
    sizes: tuple[float, ...]
    prices: tuple[float, ...]
    timestamps: tuple[int, ...]
    categories: Mapping[Any, Any]
    # an INTEGER size or price (never with production's REAL columns): SQLite's integer
    # arithmetic applies to the sums production computes in SQL (``_sqlmath``)
    integers: bool = False


NO_TRADES = Trades((), (), (), (), (), {})
# What production's typed reads of a window trade accept (SPEC 2.7), by column of a window row
# (condition_id, side, size, price, timestamp): TEXT for condition_id and side (not NULL, valid
# UTF-8: the store reads invalid UTF-8 as a non-str marker), INTEGER or REAL for size and price,
# INTEGER for timestamp.
_ACCEPTED: tuple[tuple[int, str, frozenset[type], str], ...] = (
    (0, "condition_id", frozenset({str}), "TEXT"),
    (1, "side", frozenset({str}), "TEXT"),
    (2, "size", frozenset({int, float}), "INTEGER or REAL"),
    (3, "price", frozenset({int, float}), "INTEGER or REAL"),
    (4, "timestamp", frozenset({int}), "INTEGER"),
)


class BadTradeRow(FeatureError):
    """A window trade production's typed read refuses: the ``index``-th row given, ``what`` the
    column and its value. The store names the row by its id (read only then)."""

    def __init__(self, index: int, what: str) -> None:
        super().__init__(what)
        self.index = index
        self.what = what

    def naming(self, row_id: Any) -> FeatureError:
        """The error as the run reports it: ``trades_raw id N: side is NULL (expected TEXT)``."""
        return FeatureError(f"trades_raw id {row_id}: {self.what}")


def trades_from_window(rows: list[tuple[Any, ...]], domains: Mapping[Any, Any]) -> Trades:
    """Check window rows (condition_id, side, size, price, timestamp), already in (timestamp,
    id) order, and transpose them. ``domains`` maps a market to its category.

    The rows carry no id: the id is a Python object per row that only an error message needs.
    Raises BadTradeRow for the first offending row (and its first offending column), where
    production's typed read of the row fails.
    """
    if not rows:
        return NO_TRADES
    columns = list(zip(*rows, strict=True))
    classes = [set(map(type, columns[i])) for i, _, _, _ in _ACCEPTED]
    if not all(c <= ok for c, (_, _, ok, _) in zip(classes, _ACCEPTED, strict=True)):
        for index, row in enumerate(rows):
            for i, name, ok, expected in _ACCEPTED:
                if type(row[i]) not in ok:
                    raise BadTradeRow(index, f"{name} is {describe(row[i])} (expected {expected})")
    markets, sides, sizes, prices, stamps = columns
    integers = int in classes[2] or int in classes[3]  # size, price
    return Trades(markets, sides, sizes, prices, stamps, domains, integers)


def trades_from_rows(
    rows: list[tuple[Any, ...]], domains: Mapping[Any, Any], *, ordered: bool = False
) -> Trades:
    """``trades_from_window`` for rows that start with their id: (id, condition_id, side, size,
    price, timestamp), sorted here into (timestamp, id) order unless ``ordered``.

    Raises FeatureError naming the first offending row in the order given, by its id.
    """
    try:
        trades = trades_from_window([row[1:] for row in rows], domains)
    except BadTradeRow as bad:
        raise bad.naming(rows[bad.index][0]) from None
    if ordered:
        return trades
    return trades_from_window([row[1:] for row in sorted(rows, key=itemgetter(5, 0))], domains)


@dataclass(frozen=True, slots=True)
class WalletInputs:
    """Everything the features of one wallet are computed from (read by ``store``)."""

    wallet: str
    trades: Trades
    settled_paper_trades: int  # paper trades with status != 'open' inside the window
    settled_paper_pnl: float | None  # their SUM(pnl), as SQLite sums it
    snapshot_pnl: float | None  # SUM(cash_pnl) of the latest window snapshot per market
    active_positions: int


@dataclass(frozen=True, slots=True)
class Features:
    """The feature vector of SPEC section 4."""

    trade_count: int = 0
    unique_markets: int = 0
    avg_position_size: float = 0.0
    size_cv: float = 0.0
    win_count: int = 0
    loss_count: int = 0
    avg_hold_time_hours: float = 0.0
    total_pnl: float = 0.0
    active_positions: int = 0
    concentration_ratio: float = 0.0
    buy_sell_balance: float = 0.0
    mid_fill_ratio: float = 0.0
    extreme_price_ratio: float = 0.0
    burstiness_top_1h_ratio: float = 0.0
    top_domain: str | None = None
    top_domain_ratio: float = 0.0
    trades_per_week: float = 0.0
    trades_per_day: float = 0.0
    max_drawdown_pct: float = 0.0
    sharpe_ratio: float = 0.0

    @property
    def avg_trade_size_usdc(self) -> float:
        return self.avg_position_size

    @property
    def pairs(self) -> int:
        return self.win_count + self.loss_count


if sys.version_info >= (3, 12):

    def seqsum(values: Iterable[float]) -> float:
        """``values`` added left to right from 0.0, as production's loops add them.

        Not ``sum()``: from Python 3.12 it compensates float rounding (Neumaier), which changes
        the last bit of some sums.
        """
        total = 0.0
        for value in values:
            total += value
        return total

else:

    def seqsum(values: Iterable[float]) -> float:
        """``values`` added left to right from 0.0, as production's loops add them.

        Before Python 3.12, ``sum()`` adds floats (and ints, as doubles) in exactly this way.
        """
        return sum(values, 0.0)


def _gather(column: tuple[Any, ...], idx: list[int]) -> tuple[Any, ...]:
    """``column``'s values at ``idx`` (not empty), in that order."""
    return itemgetter(*idx)(column) if len(idx) > 1 else (column[idx[0]],)


def compute_features(inputs: WalletInputs, now: int, window_days: int) -> Features:
    """All features of one wallet at ``now`` (window trades already selected by the store)."""
    t = inputs.trades
    total_pnl = _total_pnl(inputs)
    n = len(t.markets)
    if n == 0:
        return Features(total_pnl=total_pnl, active_positions=inputs.active_positions)

    groups = _market_groups(t.markets)
    if t.integers:
        # An INTEGER size or price (a database without production's REAL columns): the sums
        # production computes in SQL follow SQLite's integer arithmetic; its typed reads see
        # floats everywhere else.
        mean_x = sqlmath.avg_product(t.sizes, t.prices)
        concentration = sqlmath.concentration(t.markets, t.sizes)
        kinds = map(t.categories.get, t.markets, repeat("unknown"))
        top_domain, top_ratio = sqlmath.top_share(kinds, t.sizes)
        t = t._replace(sizes=tuple(map(float, t.sizes)), prices=tuple(map(float, t.prices)))
        notionals = list(map(mul, t.sizes, t.prices))
    else:
        notionals = list(map(mul, t.sizes, t.prices))
        mean_x = seqsum(notionals) / n
        if not math.isfinite(mean_x):
            mean_x = _sql_avg(notionals)
        sizes = t.sizes
        concentration = _concentration(
            {m: seqsum(_gather(sizes, idx)) for m, idx in groups.items()}
        )
        top_domain, top_ratio = _top_share(_domain_sums(groups, t.categories, t.sizes))
    mean_x2 = seqsum(map(mul, notionals, notionals)) / n
    size_cv = math.sqrt(max(mean_x2 - mean_x * mean_x, 0.0)) / mean_x if mean_x > 0 else 0.0

    buys, sells = t.sides.count("BUY"), t.sides.count("SELL")
    balance = 1 - abs(buys - sells) / (buys + sells) if buys + sells else 0.0

    prices = t.prices
    mid_fills = sum(map(le, map(abs, map(sub, prices, repeat(0.5))), repeat(0.05)))
    # a price is never both >= 0.9 and <= 0.1: the two counts add up to production's OR
    extremes = sum(map(ge, prices, repeat(0.9))) + sum(map(le, prices, repeat(0.1)))

    pairing = _pair(t, groups)
    drawdown, sharpe = _drawdown_and_sharpe(pairing.sell_ts, pairing.pnl)
    return Features(
        trade_count=n,
        unique_markets=len(groups),
        avg_position_size=mean_x,
        size_cv=size_cv,
        win_count=pairing.wins,
        loss_count=pairing.losses,
        avg_hold_time_hours=pairing.mean_hold_s / 3600,
        total_pnl=total_pnl,
        active_positions=inputs.active_positions,
        concentration_ratio=concentration,
        buy_sell_balance=balance,
        mid_fill_ratio=mid_fills / n,
        extreme_price_ratio=extremes / n,
        burstiness_top_1h_ratio=_max_in_span(t.timestamps, BURST_SPAN_S) / n,
        top_domain=top_domain,
        top_domain_ratio=top_ratio,
        trades_per_week=n / (window_days / 7),
        trades_per_day=n / window_days,
        max_drawdown_pct=drawdown,
        sharpe_ratio=sharpe,
    )


def _market_groups(markets: tuple[str, ...]) -> dict[str, list[int]]:
    """Each market's trade indices, in trade order."""
    groups: dict[str, list[int]] = {}
    get = groups.get
    for i, market in enumerate(markets):
        idx = get(market)
        if idx is None:
            groups[market] = [i]
        else:
            idx.append(i)
    return groups


def _sql_avg(values: list[float]) -> float:
    """``COALESCE(AVG(x), 0.0)`` as SQLite computes it when some x is not finite.

    SQLite stores a NaN result as NULL: a NaN product (inf * 0) is skipped by AVG, and a NaN
    average (inf + -inf) reads as 0.0.
    """
    kept = [v for v in values if not math.isnan(v)]
    mean = seqsum(kept) / len(kept) if kept else 0.0
    return 0.0 if math.isnan(mean) else mean


def _nan_to_none(value: float) -> float | None:
    """SQLite stores a NaN arithmetic result as NULL."""
    return None if math.isnan(value) else value


def _total_pnl(inputs: WalletInputs) -> float:
    """Settled paper trades win over snapshots, even when every pnl is NULL."""
    if inputs.settled_paper_trades > 0:
        return float(inputs.settled_paper_pnl or 0.0)
    return float(inputs.snapshot_pnl or 0.0)


@dataclass(frozen=True, slots=True)
class _Pairing:
    wins: int
    losses: int
    mean_hold_s: float
    # each closed pair's sell timestamp and pnl, in pairing order
    sell_ts: tuple[int, ...]
    pnl: list[float]


_NO_PAIRS = _Pairing(0, 0, 0.0, (), [])


def _pair(t: Trades, groups: dict[str, list[int]]) -> _Pairing:
    """Count-based FIFO pairing per market: the i-th BUY with the i-th SELL.

    Pairs are taken market by market (ascending), each market's in trade order; then each
    pair's figures are computed column-wise over all pairs at once, in that order.
    """
    all_sides = t.sides
    buy_at: list[int] = []
    sell_at: list[int] = []
    for market in sorted(groups):
        idx = groups[market]
        if len(idx) < 2:
            continue  # a pair needs a BUY and a SELL
        sides = _gather(all_sides, idx)
        buys = list(compress(idx, map(eq, sides, repeat("BUY"))))
        if buys:
            sells = list(compress(idx, map(eq, sides, repeat("SELL"))))
            k = min(len(buys), len(sells))
            buy_at += buys[:k]
            sell_at += sells[:k]
    if not buy_at:
        return _NO_PAIRS
    sizes, prices, stamps = t.sizes, t.prices, t.timestamps
    # min(buy size, sell size), as min() picks: the first unless the second is smaller
    size = [
        s if s < b else b
        for b, s in zip(_gather(sizes, buy_at), _gather(sizes, sell_at), strict=True)
    ]
    if any(map(le, size, repeat(0))):
        # a pair of size <= 0 is skipped, yet still uses up its BUY and its SELL
        kept = list(map(not_, map(le, size, repeat(0))))
        buy_at = list(compress(buy_at, kept))
        sell_at = list(compress(sell_at, kept))
        size = list(compress(size, kept))
        if not buy_at:
            return _NO_PAIRS
    sell_ts = _gather(stamps, sell_at)
    price_moves = map(sub, _gather(prices, sell_at), _gather(prices, buy_at))
    pnl = list(map(mul, price_moves, size))
    pairs = len(pnl)
    wins = sum(map(gt, pnl, repeat(0)))
    hold_total = seqsum(map(sub, sell_ts, _gather(stamps, buy_at)))
    return _Pairing(wins, pairs - wins, hold_total / pairs, sell_ts, pnl)


def _drawdown_and_sharpe(sell_ts: tuple[int, ...], pnls: list[float]) -> tuple[float, float]:
    """Max drawdown (%) and annualised Sharpe of the daily closed-PnL equity curve."""
    # integer division truncating toward zero, as production's i64 division
    if not sell_ts or min(sell_ts) >= 0:
        day_of: Iterable[int] = map(floordiv, sell_ts, repeat(SECONDS_PER_DAY))
    else:
        day_of = (ts // SECONDS_PER_DAY if ts >= 0 else -(-ts // SECONDS_PER_DAY) for ts in sell_ts)
    by_day: dict[int, float] = {}
    get = by_day.get
    for day, pnl in zip(day_of, pnls, strict=True):
        by_day[day] = get(day, 0.0) + pnl
    days = [by_day[d] for d in sorted(by_day)]

    equity = peak = max_dd = 0.0
    curve: list[float] = []
    for pnl in days:
        equity += pnl
        curve.append(equity)
        peak = max(peak, equity)
        if peak > 0:
            max_dd = max(max_dd, 100 * (peak - equity) / peak)

    if len(days) < 2:
        return max_dd, 0.0
    returns = [
        days[i] / curve[i - 1] if abs(curve[i - 1]) > SHARPE_EPS else 0.0
        for i in range(1, len(days))
    ]
    mean = seqsum(returns) / len(returns)
    std = math.sqrt(seqsum((r - mean) ** 2 for r in returns) / len(returns))
    return max_dd, (mean / std * ANNUALISATION if std > SHARPE_EPS else 0.0)


def _concentration(per_market: dict[str, float]) -> float:
    """Share of the 3 largest per-market size sums in the total (0 unless total > 0).

    As SQLite evaluates production's query: a NaN sum (inf + -inf) is NULL, which sorts last and
    which SUM skips; a NULL or NaN share reads as 0.0.
    """
    sums = [per_market[m] for m in sorted(per_market)]
    total = seqsum(sums)
    if math.isfinite(total):  # every sum is finite: the plain reading
        if not total > 0:
            return 0.0
        return seqsum(sorted(sums, reverse=True)[:3]) / total
    known = [v for v in sums if not math.isnan(v)]
    total = seqsum(known)
    if not known or not total > 0:
        return 0.0
    share = seqsum(sorted(known, reverse=True)[:3]) / total  # NULLs sort after every number
    return 0.0 if math.isnan(share) else share


def _domain_sums(
    groups: dict[str, list[int]], categories: Mapping[Any, Any], sizes: tuple[float, ...]
) -> dict[Any, float]:
    """Each domain's size sum over its trades in trade order (a market has one domain)."""
    by_domain: dict[Any, list[list[int]]] = {}
    for market, idx in groups.items():
        by_domain.setdefault(categories.get(market, "unknown"), []).append(idx)
    return {
        domain: seqsum(_gather(sizes, lists[0] if len(lists) == 1 else sorted(chain(*lists))))
        for domain, lists in by_domain.items()
    }


def _top_share(per_domain: dict[Any, float]) -> tuple[str, float]:
    """The domain with the largest size sum (ties: first in SQLite's order) and its share.

    Domains are grouped as SQLite groups them and taken in its order (str order is code point
    order, i.e. UTF-8 byte order). Raises FeatureError where production's read of the top row
    fails: a top domain that is not TEXT, or a share that is NULL (a NaN size sum).
    """
    try:
        names = sorted(per_domain)
    except TypeError:  # several storage classes
        names = sorted(per_domain, key=sqlmath.sqlite_key)
    volumes = [_nan_to_none(per_domain[d]) for d in names]
    top, top_volume = names[0], volumes[0]
    for name, volume in zip(names, volumes, strict=True):
        if volume is not None and (top_volume is None or volume > top_volume):
            top, top_volume = name, volume
    known = [v for v in volumes if v is not None]
    total = _nan_to_none(seqsum(known)) if known else 0.0
    if total is None:
        total = 0.0  # COALESCE(SUM(volume), 0.0) of a NaN sum
    ratio: float | None = 0.0
    if total > 0:
        ratio = None if top_volume is None else _nan_to_none(top_volume / total)
    if type(top) is not str:
        raise FeatureError(f"the top domain is {describe(top)} (expected TEXT)")
    if ratio is None:
        raise FeatureError(f"the share of the top domain {top!r} is NULL (a NaN size sum)")
    return top, ratio


def _max_in_span(timestamps: tuple[int, ...], span: int) -> int:
    """Most timestamps (sorted) inside any closed interval of length ``span``.

    Such an interval can always be moved to end at a timestamp: for each one, count those from
    ``ts - span`` to it (one pass, the window's start only moves forward).
    """
    best = 0
    start = 0
    for end, ts in enumerate(timestamps):
        floor = ts - span
        while timestamps[start] < floor:
            start += 1
        if end - start >= best:
            best = end - start + 1
    return best
