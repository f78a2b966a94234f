"""Feature math (SPEC section 4): one wallet's window rows -> ``Features``. Pure, no SQL.

Every sum runs in an order this module fixes (trades in (timestamp, id) order, markets and days
ascending), so the same rows give bit-identical features in any process, on any path.
"""

from __future__ import annotations

import math
import operator
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from typing import Any, NamedTuple

from classifier import sqlmath
from classifier.sqlmath import FeatureError, describe

SECONDS_PER_DAY = 86_400
BURST_SPAN_S = 3_600
SHARPE_EPS = 1e-12
ANNUALISATION = math.sqrt(252)


class Trades(NamedTuple):
    """A wallet's window trades as columns, in (timestamp, id) order; ``domains`` holds each
    trade's market category (any storage class), or 'unknown'. Columns keep the per-trade Python
    work small."""

    ids: tuple[int, ...]
    markets: tuple[str, ...]
    sides: tuple[str, ...]
    sizes: tuple[float, ...]
    prices: tuple[float, ...]
    timestamps: tuple[int, ...]
    domains: tuple[Any, ...]
    # an INTEGER size or price (never with production's REAL columns): SQLite's integer
    # arithmetic applies to the sums production computes in SQL (``_sqlmath``)
    integers: bool = False


NO_TRADES = Trades((), (), (), (), (), (), ())
# What production's typed reads of a window trade accept (SPEC 2.7): TEXT for condition_id and
# side (not NULL, valid UTF-8: the store reads invalid UTF-8 as a non-str marker), INTEGER or
# REAL for size and price, INTEGER for timestamp.
_ACCEPTED: tuple[tuple[int, str, frozenset[type], str], ...] = (
    (1, "condition_id", frozenset({str}), "TEXT"),
    (2, "side", frozenset({str}), "TEXT"),
    (3, "size", frozenset({int, float}), "INTEGER or REAL"),
    (4, "price", frozenset({int, float}), "INTEGER or REAL"),
    (5, "timestamp", frozenset({int}), "INTEGER"),
)


def trades_from_rows(
    rows: list[tuple[Any, ...]], domains: Mapping[Any, Any], *, ordered: bool = False
) -> Trades:
    """Check raw rows (id, condition_id, side, size, price, timestamp) and transpose them.

    ``domains`` maps a market to its category; a market missing from it is 'unknown'.
    ``ordered``: the rows already come in (timestamp, id) order (the store's ``ORDER BY
    timestamp, id``, which orders INTEGER timestamps and ids as Python does), so they are not
    sorted again: that sort, a second transposition and a per-trade generator were half of
    this function's time on the prod fixture.

    Raises FeatureError, naming the first offending row in the order given (and its first
    offending column), where production's typed read of the row fails.
    """
    if not rows:
        return NO_TRADES
    columns = list(zip(*rows, strict=True))
    classes = [set(map(type, columns[i])) for i, _, _, _ in _ACCEPTED]
    if not all(c <= ok for c, (_, _, ok, _) in zip(classes, _ACCEPTED, strict=True)):
        for row in rows:
            for i, name, ok, expected in _ACCEPTED:
                if type(row[i]) not in ok:
                    raise FeatureError(
                        f"trades_raw id {row[0]}: {name} is {describe(row[i])}"
                        f" (expected {expected})"
                    )
    if ordered:
        ids, markets, sides, sizes, prices, stamps = columns
    else:
        ids, markets, sides, sizes, prices, stamps = zip(
            *sorted(rows, key=itemgetter(5, 0)), strict=True
        )
    kinds = tuple(map(domains.get, markets, repeat("unknown")))
    integers = int in classes[2] or int in classes[3]  # size, price
    return Trades(ids, markets, sides, sizes, prices, stamps, kinds, integers)


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


def compute_features(inputs: WalletInputs, now: int, window_days: int) -> Features:
    """All features of one wallet at ``now`` (window trades already selected by the store)."""
    t = inputs.trades
    total_pnl = _total_pnl(inputs)
    n = len(t.ids)
    if n == 0:
        return Features(total_pnl=total_pnl, active_positions=inputs.active_positions)

    if t.integers:
        # An INTEGER size or price (a database without production's REAL columns): the sums
        # production computes in SQL follow SQLite's integer arithmetic; its typed reads see
        # floats everywhere else.
        mean_x = sqlmath.avg_product(t.sizes, t.prices)
        concentration = sqlmath.concentration(t.markets, t.sizes)
        top_domain, top_ratio = sqlmath.top_share(t.domains, t.sizes)
        t = t._replace(sizes=tuple(map(float, t.sizes)), prices=tuple(map(float, t.prices)))
        notionals = list(map(operator.mul, t.sizes, t.prices))
    else:
        notionals = list(map(operator.mul, t.sizes, t.prices))
        mean_x = sum(notionals) / n
        if not math.isfinite(mean_x):
            mean_x = _sql_avg(notionals)
        concentration = _concentration(t.markets, t.sizes)
        top_domain, top_ratio = _top_share(t.domains, t.sizes)
    mean_x2 = sum(map(operator.mul, notionals, notionals)) / n
    size_cv = math.sqrt(max(mean_x2 - mean_x * mean_x, 0.0)) / mean_x if mean_x > 0 else 0.0

    buys, sells = t.sides.count("BUY"), t.sides.count("SELL")
    balance = 1 - abs(buys - sells) / (buys + sells) if buys + sells else 0.0

    pairing = _pair(t)
    drawdown, sharpe = _drawdown_and_sharpe(pairing.closed)
    return Features(
        trade_count=n,
        unique_markets=len(set(t.markets)),
        avg_position_size=mean_x,
        size_cv=size_cv,
        win_count=pairing.wins,
        loss_count=pairing.losses,
        avg_hold_time_hours=pairing.mean_hold_s / 3600,
        total_pnl=total_pnl,
        active_positions=inputs.active_positions,
        concentration_ratio=concentration,
        buy_sell_balance=balance,
        mid_fill_ratio=sum(1 for p in t.prices if abs(p - 0.5) <= 0.05) / n,
        extreme_price_ratio=sum(1 for p in t.prices if p >= 0.9 or p <= 0.1) / n,
        burstiness_top_1h_ratio=_max_in_span(t.timestamps, BURST_SPAN_S) / n,
        top_domain=top_domain,
        top_domain_ratio=top_ratio,
        trades_per_week=n / (window_days / 7),
        trades_per_day=n / window_days,
        max_drawdown_pct=drawdown,
        sharpe_ratio=sharpe,
    )


def _sql_avg(values: list[float]) -> float:
    """``COALESCE(AVG(x), 0.0)`` as SQLite computes it when some x is not finite.

    SQLite stores a NaN result as NULL: a NaN product (inf * 0) is skipped by AVG, and a NaN
    average (inf + -inf) reads as 0.0.
    """
    kept = [v for v in values if not math.isnan(v)]
    mean = sum(kept) / len(kept) if kept else 0.0
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
    closed: list[tuple[int, float]]  # (sell ts, pnl) in pairing order


def _pair(t: Trades) -> _Pairing:
    """Count-based FIFO pairing per market: the i-th BUY with the i-th SELL."""
    buys: dict[str, list[int]] = defaultdict(list)
    sells: dict[str, list[int]] = defaultdict(list)
    for i, (side, market) in enumerate(zip(t.sides, t.markets, strict=True)):
        if side == "BUY":  # rows are in (timestamp, id) order
            buys[market].append(i)
        elif side == "SELL":
            sells[market].append(i)
    sizes, prices, stamps = t.sizes, t.prices, t.timestamps
    wins = losses = 0
    hold_total = 0.0
    closed: list[tuple[int, float]] = []
    for market in sorted(buys.keys() & sells.keys()):
        for b, s in zip(buys[market], sells[market], strict=False):
            size = min(sizes[b], sizes[s])
            if size <= 0:
                continue  # a skipped pair still uses up its BUY and its SELL
            pnl = (prices[s] - prices[b]) * size
            if pnl > 0:
                wins += 1
            else:
                losses += 1
            hold_total += stamps[s] - stamps[b]
            closed.append((stamps[s], pnl))
    pairs = wins + losses
    return _Pairing(wins, losses, hold_total / pairs if pairs else 0.0, closed)


def _drawdown_and_sharpe(closed: list[tuple[int, float]]) -> tuple[float, float]:
    """Max drawdown (%) and annualised Sharpe of the daily closed-PnL equity curve."""
    by_day: dict[int, float] = {}
    for ts, pnl in closed:
        # integer division truncating toward zero, as production's i64 division
        day = ts // SECONDS_PER_DAY if ts >= 0 else -(-ts // SECONDS_PER_DAY)
        by_day[day] = by_day.get(day, 0.0) + pnl
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
    mean = sum(returns) / len(returns)
    std = math.sqrt(sum((r - mean) ** 2 for r in returns) / len(returns))
    return max_dd, (mean / std * ANNUALISATION if std > SHARPE_EPS else 0.0)


def _concentration(markets: tuple[str, ...], sizes: tuple[float, ...]) -> float:
    """Share of the 3 largest per-market size sums in the total (0 unless total > 0).

    As SQLite evaluates production's query: a NaN sum (inf + -inf) is NULL, which sorts last and
    which SUM skips; a NULL or NaN share reads as 0.0.
    """
    per_market: dict[str, float] = defaultdict(float)
    for market, size in zip(markets, sizes, strict=True):
        per_market[market] += size
    sums = [per_market[m] for m in sorted(per_market)]
    total = sum(sums)
    if math.isfinite(total):  # every sum is finite: the plain reading
        if not total > 0:
            return 0.0
        return sum(sorted(sums, reverse=True)[:3]) / total
    known = [v for v in sums if not math.isnan(v)]
    total = sum(known)
    if not known or not total > 0:
        return 0.0
    share = sum(sorted(known, reverse=True)[:3]) / total  # NULLs sort after every number
    return 0.0 if math.isnan(share) else share


def _top_share(domains: tuple[Any, ...], sizes: tuple[float, ...]) -> tuple[str, float]:
    """The domain with the largest size sum (ties: first in SQLite's order) and its share.

    Domains are grouped as SQLite groups them and taken in its order (str order is code point
    order, i.e. UTF-8 byte order). Raises FeatureError where production's read of the top row
    fails: a top domain that is not TEXT, or a share that is NULL (a NaN size sum).
    """
    per_domain: dict[Any, float] = defaultdict(float)
    for domain, size in zip(domains, sizes, strict=True):
        per_domain[domain] += size
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
    total = _nan_to_none(sum(known)) if known else 0.0
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


def _max_in_span(timestamps: tuple[float, ...], span: float) -> int:
    """Most timestamps (sorted) inside any closed interval of length ``span``."""
    return max(bisect_right(timestamps, ts + span, lo=i) - i for i, ts in enumerate(timestamps))
