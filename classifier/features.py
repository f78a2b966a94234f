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
from operator import itemgetter
from typing import Any, NamedTuple

SECONDS_PER_DAY = 86_400
BURST_SPAN_S = 3_600
SHARPE_EPS = 1e-12
ANNUALISATION = math.sqrt(252)


class FeatureError(Exception):
    """A window trade's size, price or timestamp is not a number: the wallet is skipped."""


class Trades(NamedTuple):
    """A wallet's window trades as columns, in (timestamp, id) order; ``domains`` holds each
    trade's market category, or 'unknown'. Columns keep the per-trade Python work small."""

    ids: tuple[int, ...]
    markets: tuple[str, ...]
    sides: tuple[str | None, ...]
    sizes: tuple[float, ...]
    prices: tuple[float, ...]
    timestamps: tuple[float, ...]
    domains: tuple[str, ...]


NO_TRADES = Trades((), (), (), (), (), (), ())
_NUMERIC = frozenset({int, float})
_CHECKED = ((3, "size"), (4, "price"), (5, "timestamp"))


def trades_from_rows(rows: list[tuple[Any, ...]], domains: Mapping[str, str]) -> Trades:
    """Check raw rows (id, condition_id, side, size, price, timestamp) and transpose them.

    ``domains`` maps a market to its category; a market missing from it is 'unknown'.

    Raises FeatureError, naming the first offending row in the order given, when a size, price
    or timestamp is not a number: SQLite keeps text in a REAL or INTEGER column, and
    production's typed read fails on it.
    """
    if not rows:
        return NO_TRADES
    columns = list(zip(*rows, strict=True))
    for index, name in _CHECKED:
        if not set(map(type, columns[index])) <= _NUMERIC:
            bad = next(r for r in rows if type(r[index]) not in _NUMERIC)
            raise FeatureError(
                f"trades_raw id {bad[0]}: {name} is not a number (got {bad[index]!r})"
            )
    ids, markets, sides, sizes, prices, stamps = zip(
        *sorted(rows, key=itemgetter(5, 0)), strict=True
    )
    kinds = tuple(domains.get(m, "unknown") for m in markets)
    return Trades(ids, markets, sides, sizes, prices, stamps, kinds)


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

    notionals = list(map(operator.mul, t.sizes, t.prices))
    mean_x = sum(notionals) / n
    mean_x2 = sum(map(operator.mul, notionals, notionals)) / n
    size_cv = math.sqrt(max(mean_x2 - mean_x * mean_x, 0.0)) / mean_x if mean_x != 0 else 0.0

    buys, sells = t.sides.count("BUY"), t.sides.count("SELL")
    balance = 1 - abs(buys - sells) / (buys + sells) if buys + sells else 0.0

    pairing = _pair(t)
    drawdown, sharpe = _drawdown_and_sharpe(pairing.closed)
    top_domain, top_ratio = _top_share(t.domains, t.sizes)
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
        concentration_ratio=_concentration(t.markets, t.sizes),
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
    closed: list[tuple[float, float]]  # (sell ts, pnl) in pairing order


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
    closed: list[tuple[float, float]] = []
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


def _drawdown_and_sharpe(closed: list[tuple[float, float]]) -> tuple[float, float]:
    """Max drawdown (%) and annualised Sharpe of the daily closed-PnL equity curve."""
    by_day: dict[int, float] = {}
    for ts, pnl in closed:
        day = math.floor(ts / SECONDS_PER_DAY)
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
    """Share of the 3 largest per-market size sums in the total (0 unless total > 0)."""
    per_market: dict[str, float] = defaultdict(float)
    for market, size in zip(markets, sizes, strict=True):
        per_market[market] += size
    sums = [per_market[m] for m in sorted(per_market)]
    total = sum(sums)
    if not total > 0:
        return 0.0
    return sum(sorted(sums, reverse=True)[:3]) / total


def _top_share(domains: tuple[str, ...], sizes: tuple[float, ...]) -> tuple[str, float]:
    """The domain with the largest size sum (ties: smallest name) and its share of the total."""
    per_domain: dict[str, float] = defaultdict(float)
    for domain, size in zip(domains, sizes, strict=True):
        per_domain[domain] += size
    names = sorted(per_domain)  # str order is code point order, i.e. UTF-8 byte order
    top = min(names, key=lambda d: (-per_domain[d], d))
    total = sum(per_domain[d] for d in names)
    return top, (per_domain[top] / total if total > 0 else 0.0)


def _max_in_span(timestamps: tuple[float, ...], span: float) -> int:
    """Most timestamps (sorted) inside any closed interval of length ``span``."""
    return max(bisect_right(timestamps, ts + span, lo=i) - i for i, ts in enumerate(timestamps))
