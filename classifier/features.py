"""Feature math (SPEC section 4): one wallet's window rows -> ``Features``. Pure, no SQL.

Every sum runs in an order this module fixes (trades in (timestamp, id) order, markets and days
ascending), so the same rows give bit-identical features in any process, on any path.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

SECONDS_PER_DAY = 86_400
BURST_SPAN_S = 3_600
SHARPE_EPS = 1e-12
ANNUALISATION = math.sqrt(252)


class FeatureError(Exception):
    """A window trade's size, price or timestamp is not a number: the wallet is skipped."""


@dataclass(frozen=True, slots=True)
class Trade:
    """One window trade; ``domain`` is its market's category, or 'unknown'."""

    id: int
    condition_id: str
    side: str | None
    size: float
    price: float
    timestamp: float
    domain: str


@dataclass(frozen=True, slots=True)
class WalletInputs:
    """Everything the features of one wallet are computed from (read by ``store``)."""

    wallet: str
    trades: tuple[Trade, ...]
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


def check_trade_row(row: tuple[object, ...]) -> None:
    """Raise FeatureError when size, price or timestamp of a raw row is not a number.

    ``row`` is (id, condition_id, side, size, price, timestamp, ...): SQLite keeps text in a REAL
    or INTEGER column, and production's typed read fails on it.
    """
    for name, value in (("size", row[3]), ("price", row[4]), ("timestamp", row[5])):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FeatureError(f"trades_raw id {row[0]}: {name} is not a number (got {value!r})")


def compute_features(inputs: WalletInputs, now: int, window_days: int) -> Features:
    """All features of one wallet at ``now`` (window trades already selected by the store)."""
    trades = sorted(inputs.trades, key=lambda t: (t.timestamp, t.id))
    total_pnl = _total_pnl(inputs)
    n = len(trades)
    if n == 0:
        return Features(total_pnl=total_pnl, active_positions=inputs.active_positions)

    notionals = [t.size * t.price for t in trades]
    mean_x = sum(notionals) / n
    mean_x2 = sum(x * x for x in notionals) / n
    size_cv = math.sqrt(max(mean_x2 - mean_x * mean_x, 0.0)) / mean_x if mean_x != 0 else 0.0

    buys = sum(1 for t in trades if t.side == "BUY")
    sells = sum(1 for t in trades if t.side == "SELL")
    balance = 1 - abs(buys - sells) / (buys + sells) if buys + sells else 0.0

    pairing = _pair(trades)
    drawdown, sharpe = _drawdown_and_sharpe(pairing.closed)
    top_domain, top_ratio = _top_share(trades)
    return Features(
        trade_count=n,
        unique_markets=len({t.condition_id for t in trades}),
        avg_position_size=mean_x,
        size_cv=size_cv,
        win_count=pairing.wins,
        loss_count=pairing.losses,
        avg_hold_time_hours=pairing.mean_hold_s / 3600,
        total_pnl=total_pnl,
        active_positions=inputs.active_positions,
        concentration_ratio=_concentration(trades),
        buy_sell_balance=balance,
        mid_fill_ratio=sum(1 for t in trades if abs(t.price - 0.5) <= 0.05) / n,
        extreme_price_ratio=sum(1 for t in trades if t.price >= 0.9 or t.price <= 0.1) / n,
        burstiness_top_1h_ratio=_max_in_span([t.timestamp for t in trades], BURST_SPAN_S) / n,
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


def _pair(trades: list[Trade]) -> _Pairing:
    """Count-based FIFO pairing per market: the i-th BUY with the i-th SELL."""
    buys: dict[str, list[Trade]] = defaultdict(list)
    sells: dict[str, list[Trade]] = defaultdict(list)
    for t in trades:  # already in (timestamp, id) order
        if t.side == "BUY":
            buys[t.condition_id].append(t)
        elif t.side == "SELL":
            sells[t.condition_id].append(t)
    wins = losses = 0
    hold_total = 0.0
    closed: list[tuple[float, float]] = []
    for market in sorted(buys.keys() & sells.keys()):
        for buy, sell in zip(buys[market], sells[market], strict=False):
            size = min(buy.size, sell.size)
            if size <= 0:
                continue  # a skipped pair still uses up its BUY and its SELL
            pnl = (sell.price - buy.price) * size
            if pnl > 0:
                wins += 1
            else:
                losses += 1
            hold_total += sell.timestamp - buy.timestamp
            closed.append((sell.timestamp, pnl))
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


def _concentration(trades: list[Trade]) -> float:
    """Share of the 3 largest per-market size sums in the total (0 unless total > 0)."""
    per_market: dict[str, float] = defaultdict(float)
    for t in trades:
        per_market[t.condition_id] += t.size
    sums = [per_market[m] for m in sorted(per_market)]
    total = sum(sums)
    if not total > 0:
        return 0.0
    return sum(sorted(sums, reverse=True)[:3]) / total


def _top_share(trades: list[Trade]) -> tuple[str, float]:
    """The domain with the largest size sum (ties: smallest name) and its share of the total."""
    per_domain: dict[str, float] = defaultdict(float)
    for t in trades:
        per_domain[t.domain] += t.size
    names = sorted(per_domain)  # str order is code point order, i.e. UTF-8 byte order
    top = min(names, key=lambda d: (-per_domain[d], d))
    total = sum(per_domain[d] for d in names)
    return top, (per_domain[top] / total if total > 0 else 0.0)


def _max_in_span(timestamps: list[float], span: float) -> int:
    """Most timestamps (sorted) inside any closed interval of length ``span``."""
    best = start = 0
    for end, ts in enumerate(timestamps):
        while ts - timestamps[start] > span:
            start += 1
        best = max(best, end - start + 1)
    return best
