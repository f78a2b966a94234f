"""A wallet being drafted for a fixture: its rows, and helpers that place trades for the rules.

The archetypes (``harness/archetypes.py``) are written with these helpers: prices from clusters
that keep clear of the SPEC's float edges, round trips that pair as planned (SPEC section 4),
non-overlapping schedules, and paper trades or snapshots whose window total gives a chosen roi.

Pure: a ``random.Random`` and plain values in, plain tuples out. Only arithmetic on
``Random.random()`` and ``math.sqrt`` (correctly rounded) is used, never the platform's
``log``/``exp``/``pow``, so one seed gives bit-identical floats on every machine.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
import time
from dataclasses import dataclass, field

DAY = 86400
HOUR = 3600
WINDOW = 180 * DAY  # SPEC section 4: window_days

# condition_id, side, size, price (text for the feature-error wallets), timestamp, outcome_index
Trade = tuple[str, str | None, float, float | str, int, int]
# condition_id, side, size_usdc, entry_price, exit_price, status, pnl, created_at, settled_at
PaperTrade = tuple[str, str, float, float, float | None, str, float | None, str, str | None]
Position = tuple[str, float, str]  # condition_id, size_usdc, opened_at
Snapshot = tuple[str, float, float, float | None, str]  # cid, size, avg_price, cash_pnl, at

# price clusters (inclusive bounds): Polymarket prices crowd near 0, 1 and 0.5. Bounds keep
# clear of the SPEC's float edges (abs(0.55 - 0.5) > 0.05 in binary; 0.1 and 0.9 themselves).
_CLUSTERS = {
    "lo": (0.005, 0.095),
    "hi": (0.905, 0.995),
    "mid": (0.46, 0.54),
    "wide_lo": (0.11, 0.42),
    "wide_hi": (0.58, 0.89),
}


@dataclass(frozen=True)
class Weights:
    """Names with integer weights, picked with one ``random()`` and a bisection."""

    names: tuple[str, ...]
    cumulative: tuple[int, ...]

    @classmethod
    def of(cls, *pairs: tuple[str, int]) -> Weights:
        return cls(tuple(n for n, _ in pairs), tuple(itertools.accumulate(w for _, w in pairs)))

    def pick(self, rng: random.Random) -> str:
        x = int(rng.random() * self.cumulative[-1])
        return self.names[bisect.bisect_right(self.cumulative, x)]


MIXED = Weights.of(("lo", 20), ("hi", 20), ("mid", 25), ("wide_lo", 17), ("wide_hi", 18))
NONMID = Weights.of(("lo", 25), ("hi", 25), ("wide_lo", 25), ("wide_hi", 25))
EXTREME = Weights.of(("lo", 50), ("hi", 50))
LONGSHOT = Weights.of(("lo", 1))


def fmt_time(ts: int) -> str:
    """``ts`` as production's text timestamps: 'YYYY-MM-DD HH:MM:SS' UTC."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


def heavy(rng: random.Random, lo: int, hi: int, tail: int = 1) -> int:
    """An integer in [lo, hi] with a Pareto tail (tail=1: P(X > x) ~ 1/x; tail=2: ~ 1/sqrt x)."""
    if hi <= lo:
        return lo
    u = rng.random()
    if tail == 2:
        y = 1.0 - u * (1.0 - math.sqrt(lo / hi))
        x = lo / (y * y)  # not ** 2: that is libm's pow()
    else:
        x = lo / (1.0 - u * (1.0 - lo / hi))
    return min(hi, max(lo, int(x)))


@dataclass(frozen=True)
class Catalogue:
    """The markets wallets trade, by domain; 'unknown' holds unlisted and NULL-category ones."""

    all_ids: tuple[str, ...]
    lanes: dict[str, tuple[str, ...]]


@dataclass
class Draft:
    """One wallet being built: its rows, with helpers that place trades where a rule needs them."""

    rng: random.Random
    now: int
    cat: Catalogue
    address: str
    is_active: int = 1
    trades: list[Trade] = field(default_factory=list)
    paper: list[PaperTrade] = field(default_factory=list)
    positions: list[Position] = field(default_factory=list)
    snapshots: list[Snapshot] = field(default_factory=list)

    @property
    def cutoff(self) -> int:
        return self.now - WINDOW

    def between(self, a: int, b: int) -> int:
        """A timestamp in [now - a, now - b] (a > b, both seconds before now)."""
        return self.now - a + self.rng.randint(0, a - b)

    def markets(self, k: int, lane: str | None = None) -> list[str]:
        """k distinct markets, from one domain when ``lane`` is given, else from all."""
        pool = self.cat.lanes[lane] if lane else self.cat.all_ids
        return self.rng.sample(pool, min(k, len(pool)))

    def price(self, clusters: Weights) -> float:
        name = clusters.pick(self.rng)
        lo, hi = _CLUSTERS[name]
        return round(lo + (hi - lo) * self.rng.random(), 3)

    def two_prices(self, cluster: str) -> tuple[float, float]:
        """Two distinct prices of one cluster, (low, high)."""
        lo, hi = _CLUSTERS[cluster]
        a = round(lo + (hi - lo) * self.rng.random(), 3)
        b = round(lo + (hi - lo) * self.rng.random(), 3)
        if a == b:
            b = round(a + 0.003, 3) if a + 0.003 <= hi else round(a - 0.003, 3)
        return (a, b) if a < b else (b, a)

    def size(self, base: float, spread: float = 0.6) -> float:
        """A trade size around ``base`` (ratio of extremes below 2 when spread=0.6)."""
        return round(base * (1.0 - spread / 2 + spread * self.rng.random()), 2)

    def trade(
        self, cid: str, side: str | None, size: float, price: float | str, ts: int, oi: int = 0
    ) -> None:
        self.trades.append((cid, side, size, price, ts, oi))

    def round_trip(
        self, cid: str, t_buy: int, t_sell: int, win: bool, cluster: str, size: float
    ) -> None:
        """A BUY then a SELL of one market: a win sells higher, a loss lower (SPEC pairing)."""
        low, high = self.two_prices(cluster)
        buy, sell = (low, high) if win else (high, low)
        sell_size = (
            size if self.rng.random() < 0.7 else round(size * (0.5 + 0.5 * self.rng.random()), 2)
        )
        oi = self.rng.randrange(2)
        self.trade(cid, "BUY", size, buy, t_buy, oi)
        self.trade(cid, "SELL", sell_size, sell, t_sell, oi)

    def schedule(
        self,
        k: int,
        t0: int,
        t1: int,
        hold: tuple[int, int],
        *,
        first: bool = False,
        last: bool = False,
    ) -> list[tuple[int, int]]:
        """k non-overlapping (buy, sell) times in [t0, t1], in order, so pairing stays as planned.

        ``first`` puts the first buy at t0, ``last`` the last sell at t1 (Stage 1's age and
        recency); holds keep their drawn length.
        """
        slot = max(4, (t1 - t0) // max(k, 1))
        out = []
        for j in range(k):
            s0 = t0 + j * slot
            h = self.rng.randint(min(hold[0], slot // 2), max(1, min(hold[1], slot - 2)))
            tb = s0 + self.rng.randint(0, max(0, slot - h - 2))
            out.append((tb, tb + h))
        if first and out:
            out[0] = (t0, t0 + out[0][1] - out[0][0])
        if last and out and not (first and k == 1):
            out[-1] = (t1 - (out[-1][1] - out[-1][0]), t1)
        return out

    def window_volume(self) -> float:
        """Sum of size*price over window trades: total_pnl = roi * this."""
        return sum(
            t[2] * t[3] for t in self.trades if t[4] >= self.cutoff and isinstance(t[3], float)
        )

    def window_markets(self) -> list[str]:
        seen: dict[str, None] = {}  # insertion-ordered, so the order is the trades' order
        for t in self.trades:
            if t[4] >= self.cutoff:
                seen.setdefault(t[0], None)
        return list(seen)

    def pnl_source(self, roi: float, mode: str) -> None:
        """Paper trades or position snapshots whose window total is ``roi`` times the volume."""
        target = roi * self.window_volume()
        cids = self.window_markets() or self.markets(1)
        if mode == "paper":
            self._paper(target, cids)
        elif mode == "snapshots":
            self._snapshots(target, cids)

    def _parts(self, total: float, k: int) -> list[float]:
        """k cent amounts of mixed sign summing to ``total`` (within a cent)."""
        weights = [0.2 + self.rng.random() for _ in range(k)]
        wsum = sum(weights)
        swing = abs(total) / k + 1.0
        noise = [swing * (self.rng.random() - 0.5) for _ in range(k)]
        nmean = sum(noise) / k
        parts = [
            round(total * w / wsum + n - nmean, 2) for w, n in zip(weights, noise, strict=True)
        ]
        parts[-1] = round(total - sum(parts[:-1]), 2)
        return parts

    def _paper(self, target: float, cids: list[str]) -> None:
        rng = self.rng
        k = rng.randint(2, 10)
        for pnl in self._parts(target, k):
            created = self.between(170 * DAY, 2 * DAY)
            entry = round(0.05 + 0.9 * rng.random(), 3)
            status = "settled_win" if pnl > 0 else "settled_loss"
            self.paper.append(
                (
                    rng.choice(cids),
                    "BUY",
                    round(5 + 200 * rng.random(), 2),
                    entry,
                    1.0 if pnl > 0 else 0.0,
                    status,
                    pnl,
                    fmt_time(created),
                    fmt_time(created + rng.randint(HOUR, 20 * DAY)),
                )
            )
        for _ in range(rng.randint(0, 3)):  # open copies: never counted
            created = self.between(30 * DAY, HOUR)
            self.paper.append(
                (
                    rng.choice(cids),
                    "BUY",
                    round(5 + 100 * rng.random(), 2),
                    round(rng.random(), 3),
                    None,
                    "open",
                    None,
                    fmt_time(created),
                    None,
                )
            )
        for _ in range(rng.randint(0, 2)):  # settled before the window: not counted
            created = self.between(400 * DAY, 185 * DAY)
            pnl = round(100 * (rng.random() - 0.5), 2)
            self.paper.append(
                (
                    rng.choice(cids),
                    "BUY",
                    20.0,
                    0.5,
                    1.0,
                    "settled_win",
                    pnl,
                    fmt_time(created),
                    fmt_time(created + DAY),
                )
            )
        for cid in cids[: rng.randint(0, 4)]:
            self.positions.append((cid, round(10 + 90 * rng.random(), 2), fmt_time(self.now - DAY)))

    def _snapshots(self, target: float, cids: list[str]) -> None:
        rng = self.rng
        chosen = cids[: rng.randint(1, 8)]
        for cid, last in zip(chosen, self._parts(target, len(chosen)), strict=True):
            times = sorted(
                rng.sample(range(self.now - 170 * DAY, self.now - HOUR, 600), rng.randint(1, 3))
            )
            for j, ts in enumerate(times):
                pnl = last if j == len(times) - 1 else round(50 * (rng.random() - 0.5), 2)
                size = round(10 + 500 * rng.random(), 2)
                self.snapshots.append((cid, size, round(rng.random(), 3), pnl, fmt_time(ts)))
        if rng.random() < 0.3:  # a position last seen before the window: not counted
            self.snapshots.append(
                (cids[0], 50.0, 0.4, round(100 * rng.random(), 2), fmt_time(self.now - 200 * DAY))
            )


def win_count(rng: random.Random, pairs: int, lo: float, hi: float) -> int:
    """A number of wins w with lo <= w/pairs <= hi (clamped to what ``pairs`` allows)."""
    candidates = [w for w in range(pairs + 1) if lo <= w / pairs <= hi] if pairs else [0]
    if not candidates:
        candidates = [min(range(pairs + 1), key=lambda w: abs(w / pairs - (lo + hi) / 2))]
    return rng.choice(candidates)


def avoid_band(rng: random.Random, pairs: int) -> int:
    """Wins whose rate is outside the generalist band (margin) and at most 0.78 (tail risk)."""
    options = [w for w in range(pairs + 1) if w / pairs < 0.5 or 0.62 < w / pairs <= 0.78]
    return rng.choice(options) if pairs else 0
