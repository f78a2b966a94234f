"""Wallet shapes for ``random_db``: each adds one wallet's trades and side rows to a ``Draft``.

The shapes aim at SPEC's boundaries (Stage-1 thresholds to the second, the window cutoff, exact
ratios such as 7/10 against 0.70) and at every Stage-2 outcome, so most wallets pass Stage 1.
Amounts are mostly multiples of 1/4, so sums are exact whatever order an implementation adds them.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

DAY = 86400
WINDOW_DAYS = 180  # generator edge cases assume SPEC's default window


def text_time(ts: int, suffix: str = "") -> str:
    """`ts` as 'YYYY-MM-DD HH:MM:SS' plus an optional suffix ('.000', ...)."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts)) + suffix


@dataclass
class Draft:
    """Rows to insert, collected first (trades get shuffled, so ids do not follow time)."""

    rng: random.Random
    now: int
    markets: list[str]
    domains: dict[str, str]  # market -> the domain SPEC gives it ('unknown' without a row)
    wallets: list[tuple[str, Any]] = field(default_factory=list)
    trades: list[tuple[str, str, Any, Any, Any, Any]] = field(default_factory=list)
    paper_trades: list[tuple[str, str, str, Any, str]] = field(default_factory=list)
    positions: list[tuple[str, str]] = field(default_factory=list)
    snapshots: list[tuple[str, str, Any, str]] = field(default_factory=list)

    @property
    def cutoff(self) -> int:
        return self.now - WINDOW_DAYS * DAY

    def trade(self, w: str, cond: str, side: Any, size: Any, price: Any, ts: Any) -> None:
        self.trades.append((w, cond, side, size, price, ts))

    def pair(
        self, w: str, cond: str, t_buy: float, hold: float, p_buy: float, p_sell: float, size: float
    ) -> None:
        self.trade(w, cond, "BUY", size, p_buy, t_buy)
        self.trade(w, cond, "SELL", size, p_sell, t_buy + hold)

    def window_time(self, lo_days: float = 1, hi_days: float = 170) -> int:
        return self.now - int(self.rng.uniform(lo_days, hi_days) * DAY)

    def quarter(self, lo: float, hi: float) -> float:
        """A random multiple of 0.25 in [lo, hi]: exact in binary, so sums are order-free."""
        return self.rng.randint(int(lo * 4), int(hi * 4)) / 4


def _anchors(d: Draft, w: str, first_days: float = 0, last_days: float = 0) -> None:
    """An old trade (Stage-1 age) and a recent one (activity), in random markets."""
    rng = d.rng
    first = first_days or rng.uniform(50, 400)
    last = last_days or rng.uniform(0.5, 40)
    d.trade(w, rng.choice(d.markets), "BUY", d.quarter(1, 20), 0.25, d.now - int(first * DAY))
    d.trade(w, rng.choice(d.markets), "SELL", d.quarter(1, 20), 0.75, d.now - int(last * DAY))


def _volume(d: Draft, w: str) -> float:
    total = 0.0
    for tw, _, _, size, price, ts in d.trades:
        numbers = all(isinstance(v, float | int) for v in (size, price, ts))
        if tw == w and numbers and ts >= d.cutoff:
            total += size * price
    return total


def pnl_sources(d: Draft, w: str, roi: float) -> None:
    """Paper trades and/or position snapshots whose total_pnl gives roughly `roi`."""
    rng = d.rng
    target = round(roi * max(_volume(d, w), 1.0) * 4) / 4
    mode = rng.choice(["paper", "paper", "snap", "snap", "both", "null_paper", "none", "old"])
    cut = d.cutoff
    if mode in ("paper", "both", "null_paper"):
        k = rng.randint(1, 4)
        for i in range(k):
            when = rng.choice(
                [
                    text_time(cut),
                    text_time(cut, ".000"),
                    text_time(cut).replace(" ", "T"),  # 'T' sorts after ' ': in the window
                    text_time(cut - 1).replace(" ", "T"),
                    text_time(d.window_time()),
                ]
            )
            pnl: Any = (
                None
                if mode == "null_paper"
                else (target / k if i else target - target / k * (k - 1))
            )
            status = rng.choice(["settled_win", "settled_loss", "OPEN"])
            d.paper_trades.append((w, rng.choice(d.markets), status, pnl, when))
        # open or out-of-window rows never count
        d.paper_trades.append((w, rng.choice(d.markets), "open", 999.0, text_time(d.now)))
        d.paper_trades.append((w, rng.choice(d.markets), "settled_win", 777.0, text_time(cut - 1)))
        if rng.random() < 0.2:
            d.paper_trades.append((w, rng.choice(d.markets), "settled_win", "1.5x", text_time(cut)))
    if mode in ("snap", "both", "null_paper", "old"):
        conds = rng.sample(d.markets, rng.randint(1, 3))
        for i, cond in enumerate(conds):
            share = target if i == 0 else 0.0
            latest = d.window_time(0.5, 100)
            d.snapshots.append((w, cond, share, text_time(latest)))
            d.snapshots.append((w, cond, 5000.0, text_time(latest - 3600)))  # superseded
            d.snapshots.append((w, cond, 333.0, text_time(cut - 60)))  # outside the window
            if rng.random() < 0.4:  # a tie on the latest snapshot_at: both rows count
                d.snapshots.append((w, cond, d.quarter(-3, 3), text_time(latest)))
            if rng.random() < 0.3:
                d.snapshots.append((w, cond, None, text_time(latest)))
    if mode == "old":  # settled, but created before the cutoff: snapshots decide
        d.paper_trades.append((w, rng.choice(d.markets), "settled_win", 50.0, text_time(cut - 1)))


def positions(d: Draft, w: str, distinct: int) -> None:
    for cond in d.rng.sample(d.markets, distinct):
        d.positions.append((w, cond))
        if d.rng.random() < 0.3:
            d.positions.append((w, cond))  # duplicates count once


def spice(d: Draft, w: str) -> None:
    """Sprinkle SPEC's awkward values over a Stage-2 wallet's window trades."""
    rng = d.rng
    m = rng.choice(d.markets)
    picks = rng.sample(range(9), rng.randint(1, 3))
    t = d.window_time(2, 40)
    if 0 in picks:  # sides that are neither BUY nor SELL
        for side in ("buy", None, "MERGE", "Sell"):
            d.trade(w, m, side, d.quarter(1, 10), 0.5, t)
    if 1 in picks:  # exactly at the cutoff (in) and one second before (out)
        d.trade(w, m, "BUY", 3.0, 0.45, d.cutoff)
        d.trade(w, m, "SELL", 4.0, 0.55, d.cutoff - 1)
    if 2 in picks:  # zero and negative sizes: skipped pairs still use up their trades
        d.pair(w, m, t, 7200, 0.3, 0.6, 0.0)
        d.trade(w, m, "BUY", -2.0, 0.4, t + 10)
        d.trade(w, m, "SELL", 5.0, 0.7, t + 20)
    if 3 in picks:  # the exact price edges
        for p in (0.0, 1.0, 0.5, 0.45, 0.55, 0.9, 0.1, 1.5, -0.25):
            d.trade(w, m, rng.choice(["BUY", "SELL"]), d.quarter(1, 8), p, t + rng.randint(0, 9))
    if 4 in picks:  # timestamps in the future are window trades
        d.pair(w, m, d.now + 3600, DAY, 0.25, 0.5, 2.0)
    if 5 in picks:  # same timestamp: id decides the order
        d.trade(w, m, "SELL", 2.0, 0.8, t)
        d.trade(w, m, "SELL", 3.0, 0.2, t)
        d.trade(w, m, "BUY", 2.5, 0.5, t)
    if 6 in picks:  # gaps of exactly 3600 s
        for k in range(4):
            d.trade(w, m, "BUY", 1.0, 0.3, t + 3600 * k)
    if 7 in picks:  # a trade in a market with no markets row
        d.trade(w, "0xNoSuchMarket", "BUY", 2.0, 0.35, t)
    if 8 in picks:  # a pair whose SELL comes before its BUY (negative hold)
        d.trade(w, m, "SELL", 2.0, 0.6, t - 5 * DAY)
        d.trade(w, m, "BUY", 2.0, 0.4, t)


def shaped(d: Draft, w: str, kind: str) -> None:
    """Add a wallet of the given Stage-2 shape (all pass Stage 1 under the defaults)."""
    rng = d.rng
    q = d.quarter
    if kind == "specialist":
        _anchors(d, w)
        ms = rng.sample(d.markets, rng.randint(1, 3))
        n = rng.randint(6, 14)
        wins = rng.randint(n * 6 // 10, n)
        for i in range(n):
            t = d.window_time(2, 160)
            d.pair(
                w,
                rng.choice(ms),
                t,
                rng.randint(3600, 9 * DAY),
                0.3,
                0.7 if i < wins else 0.2,
                q(5, 60),
            )
        positions(d, w, rng.randint(0, 6))
        pnl_sources(d, w, rng.choice([0.2, 0.5, 0.02, -0.1]))
    elif kind == "generalist":
        _anchors(d, w)
        ms = rng.sample(d.markets, rng.randint(20, min(26, len(d.markets))))
        n = len(ms)
        wins = round(n * rng.choice([0.52, 0.56, 0.6, 0.64]))
        order = list(range(n))
        rng.shuffle(order)
        for j, i in enumerate(order):
            t = d.now - (150 - 5 * j) * DAY
            win = i < wins
            d.pair(w, ms[i], t, DAY, 0.25, 0.75 if win else 0.24, 8.0 if win else 1.0)
        positions(d, w, rng.randint(3, 9))
        pnl_sources(d, w, rng.choice([0.1, 0.3]))
    elif kind == "accumulator":
        _anchors(d, w, last_days=rng.uniform(1, 40))
        ms = rng.sample(d.markets, rng.randint(6, 9))
        hold = rng.choice([2 * DAY, 2 * DAY - 1, 5 * DAY])
        for m in ms:
            d.pair(w, m, d.window_time(10, 160), hold, 0.3, rng.choice([0.6, 0.2]), 10.0)
        positions(d, w, rng.randint(0, 8))
        pnl_sources(d, w, rng.choice([0.05, 0.2, 0.04]))
    elif kind == "news":
        _anchors(d, w, first_days=rng.uniform(190, 300), last_days=100)
        t = d.window_time(1, 40)
        inside = rng.choice([7, 8, 11])  # the last one exactly 3600 s after the first
        for k in range(inside):
            d.trade(w, rng.choice(d.markets), "BUY", q(1, 9), 0.35, t + k * 3600 // (inside - 1))
        for k in range(3):  # 3 outside the hour: 7/10 is exactly the threshold, 8/11 above
            d.trade(w, rng.choice(d.markets), "SELL", q(1, 9), 0.65, t + 3601 + k * DAY)
        pnl_sources(d, w, 0.3)
    elif kind == "lp":
        _anchors(d, w)
        n = rng.randint(8, 20)
        for _ in range(n):
            p = rng.choice([0.5, 0.46, 0.54, 0.45, 0.55, 0.3])
            d.pair(w, rng.choice(d.markets), d.window_time(2, 150), 3 * 3600, p, p, q(1, 30))
        pnl_sources(d, w, rng.choice([0.1, 0.0]))
    elif kind == "tail":
        _anchors(d, w, last_days=30)
        five = rng.sample(d.markets, 5)
        for j in range(9):
            d.pair(w, five[j % 5], d.now - (120 - j) * DAY, 3600, 0.9, 0.95, 20.0)
        d.pair(w, five[0], d.now - 100 * DAY, 3600, 0.95, 0.05, 60.0)
        pnl_sources(d, w, rng.choice([0.0, 0.1]))
    elif kind == "jackpot":
        _anchors(d, w)
        m = rng.choice(d.markets)
        for i in range(rng.randint(5, 10)):
            d.pair(w, m, d.window_time(2, 150), DAY, 0.05, 0.9 if i == 0 else 0.01, q(5, 50))
        pnl_sources(d, w, rng.choice([0.5, -0.5]))
    elif kind == "noise":
        _anchors(d, w)
        for _ in range(rng.randint(660, 700)):
            d.pair(w, rng.choice(d.markets), d.window_time(1, 178), 600, 0.25, 0.25, q(1, 4))
        pnl_sources(d, w, 0.0)
    elif kind == "swarm":
        _anchors(d, w)
        for _ in range(rng.randint(100, 160)):
            d.trade(
                w,
                rng.choice(d.markets),
                rng.choice(["BUY", "SELL"]),
                q(1, 8),
                rng.choice([0.2, 0.8, 0.5]),
                d.window_time(1, 178),
            )
        pnl_sources(d, w, 0.0)
    elif kind == "sniper":  # passes Stage 1 only with a lowered minimum age
        _anchors(d, w, first_days=rng.uniform(25, 38), last_days=1)
        for _ in range(rng.randint(5, 8)):
            d.pair(w, rng.choice(d.markets), d.window_time(2, 20), 3600, 0.2, 0.8, q(1, 9))
        pnl_sources(d, w, 0.5)
    elif kind == "domain_tie":  # equal per-domain size sums: the smaller name in byte order
        _anchors(d, w, first_days=200, last_days=200)
        pair = rng.choice([("Sports", "sports"), ("", "unknown"), ("Crypto", "Politics")])
        tied = [next(m for m in d.markets if d.domains[m] == name) for name in pair]
        for _ in range(6):
            for m in tied:
                d.pair(w, m, d.window_time(2, 40), 3600, 0.3, 0.4, 5.0)
        pnl_sources(d, w, 0.1)
    else:  # "random"
        _anchors(d, w)
        ms = rng.sample(d.markets, rng.randint(1, 12))
        for _ in range(rng.randint(4, 40)):
            m = rng.choice(ms)
            if rng.random() < 0.7:
                d.pair(
                    w,
                    m,
                    d.window_time(1, 178),
                    rng.randint(-DAY, 6 * DAY),
                    rng.choice([0.05, 0.2, 0.5, 0.7, 0.95]),
                    rng.choice([0.1, 0.5, 0.8, 0.97]),
                    rng.choice([q(0.25, 40), rng.uniform(0.1, 300)]),
                )
            else:
                d.trade(
                    w,
                    m,
                    rng.choice(["BUY", "SELL"]),
                    q(0.25, 300),
                    rng.choice([0.02, 0.5, 0.93, rng.random()]),
                    d.window_time(0, 178),
                )
        positions(d, w, rng.randint(0, 7))
        pnl_sources(d, w, rng.uniform(-0.3, 0.6))
    if kind not in ("domain_tie", "news") and rng.random() < 0.5:
        spice(d, w)


def stage1_edge(d: Draft, w: str, kind: str) -> None:
    """Wallets at the Stage-1 thresholds (SPEC defaults), to the second."""
    rng = d.rng
    now = d.now
    m = rng.choice(d.markets)
    if kind == "no_trades":
        return
    if kind == "age":  # first trade 45 days ago (age 45: passes) or one second later (age 44)
        first = now - 45 * DAY + rng.choice([0, 1, -1])
        d.trade(w, m, "BUY", 2.0, 0.4, first)
        for k in range(11):
            d.trade(w, rng.choice(d.markets), rng.choice(["BUY", "SELL"]), 2.0, 0.3, now - k * DAY)
    elif kind == "count":  # exactly 10 trades, or 9 (any side, size and timestamp count)
        n = rng.choice([9, 10])
        d.trade(w, m, "BUY", 2.0, 0.4, now - 100 * DAY)
        sides: list[Any] = ["BUY", "SELL", None, "MERGE", "buy"]
        for k in range(n - 1):
            d.trade(w, m, sides[k % 5], rng.choice([0.0, -1.0, 3.0]), 0.5, now - k * 3 * DAY)
    elif kind == "inactive":  # last trade exactly 45 days ago (passes), 46 days, 46 days - 1 s
        last = now - rng.choice([45 * DAY, 46 * DAY, 46 * DAY - 1, 45 * DAY + 1])
        for k in range(12):
            d.trade(w, rng.choice(d.markets), "BUY", 2.0, 0.3, last - k * 5 * DAY)
    elif kind == "future":  # every trade in the future: age 0, too young
        for k in range(12):
            d.trade(w, m, "BUY", 2.0, 0.3, now + 1 + k * 60)
    elif kind == "error":  # a price stored as text inside the window: a feature error
        shaped(d, w, "random")
        d.trade(w, m, "BUY", 2.0, rng.choice(["n/a", "", "0.5x"]), now - 3 * DAY)
    elif kind == "error_old":  # the same outside the window: no error
        shaped(d, w, "random")
        d.trade(w, m, "BUY", "big", "n/a", d.cutoff - DAY)
    elif kind == "error_size":
        shaped(d, w, "specialist")
        d.trade(w, m, "SELL", "lots", 0.5, now - DAY)
    elif kind == "text_ts":  # a text timestamp: counted by Stage 1, a feature error after
        shaped(d, w, "random")
        d.trade(w, m, "SELL", 2.0, 0.5, rng.choice(["soon", "2025-12-01 00:00:00"]))
    elif kind == "real_ts":  # fractional timestamps, the first one just under 45 days old
        first_real = now - 45 * DAY + rng.choice([0.5, -0.5])
        d.trade(w, m, "BUY", 2.0, 0.4, first_real)
        for k in range(11):
            d.pair(w, rng.choice(d.markets), now - k * 3 * DAY - 0.25, DAY + 0.5, 0.3, 0.6, 4.0)
        pnl_sources(d, w, 0.2)
    elif kind == "sharpe_edge":  # equity back to exactly 0, then on; days split at midnight
        _anchors(d, w, first_days=200, last_days=200)
        day0 = (now // DAY - 120) * DAY
        for k, pnl_sign in enumerate([1, -1, 1, 1, -1, 1, 1]):
            sell_ts = day0 + k * DAY - rng.choice([0, 1])  # 00:00:00 or 23:59:59 the day before
            p_sell = 0.75 if pnl_sign > 0 else 0.25
            d.pair(w, rng.choice(d.markets[:3]), sell_ts - 3600, 3600, 0.5, p_sell, 8.0)
        pnl_sources(d, w, rng.choice([0.1, 0.5]))
    elif kind == "chaos":  # anything SPEC allows, in no particular shape
        _anchors(d, w)
        any_side: list[Any] = ["BUY", "SELL", "BUY", "SELL", "buy", None, "MERGE"]
        prices = [0.0, 1.0, 0.5, 0.45, 0.55, 0.9, 0.1, 1.5, -0.25]
        for _ in range(rng.randint(8, 60)):
            ts = rng.choice(
                [d.window_time(0, 179), d.cutoff, d.cutoff - 1, now, now + 5, (now // DAY) * DAY]
            )
            size = rng.choice([0.0, -1.0, d.quarter(0.25, 50), rng.uniform(0, 500), 7])
            price = rng.choice([*prices, rng.random(), rng.uniform(-1, 2)])
            d.trade(w, rng.choice(d.markets), rng.choice(any_side), size, price, ts)
        positions(d, w, rng.randint(0, 9))
        pnl_sources(d, w, rng.uniform(-1, 1))
    elif kind == "short_window":  # in the window only under the default 180 days
        _anchors(d, w, first_days=300, last_days=rng.uniform(31, 44))
        for _ in range(10):
            d.pair(w, m, now - int(rng.uniform(31, 170) * DAY), DAY, 0.3, 0.6, 4.0)
        pnl_sources(d, w, 0.2)
