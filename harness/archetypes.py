"""Wallet archetypes: each builds one wallet so that it lands where its label says.

A label is the outcome a serial run at the profile's ``now`` with the default config gives
(../shared/SPEC.md sections 3 to 5): a Stage 1 reason, a Stage 2 exclusion, a persona,
``UNCLASSIFIED``, ``ERROR`` (features fail) or ``DORMANT`` (``is_active = 0``, never read). Each
threshold is met with a margin by construction (exact win counts, exact shares of mid prices, time
anchors), so a label holds whatever the random draws; the comment above each builder says which
rules it must pass and how.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness.draft import (
    DAY,
    EXTREME,
    HOUR,
    LONGSHOT,
    MIXED,
    NONMID,
    Draft,
    Weights,
    avoid_band,
    heavy,
    win_count,
)

KNOWN_BOT_ADDRESS = "0x" + "b07" * 13 + "b"  # the tiny profile's wallet for a known_bots config


@dataclass(frozen=True, kw_only=True)
class Knobs:
    """Trade-count bounds a profile can lighten (stress has many more Stage-1 passers)."""

    ordinary_pairs: tuple[int, int] = (12, 580)  # < 1,286 window trades: never NOISE_TRADER
    history: tuple[int, int] = (10, 40_000)  # pre-window trades of a passer (tail 2)
    history_share: float = 0.75
    young: tuple[int, int] = (5, 40_000)  # tail 2
    inactive: tuple[int, int] = (10, 40_000)  # tail 2
    noise_pairs: tuple[int, int] = (700, 4_500)  # >= 1,400 window trades: > 50 a week


Builder = Callable[[Draft, Knobs], str]


def scatter(d: Draft, n: int, t0: int, t1: int, clusters: Weights = MIXED) -> None:
    """n unplanned trades in [t0, t1] (history, Stage-1 failures): only count and times matter."""
    rng = d.rng
    cids = d.markets(max(1, min(60, n // 8)))
    base = float(heavy(rng, 5, 500))
    draw, span, k = rng.random, t1 - t0 + 1, len(cids)
    for _ in range(n):  # hot loop: plain random() arithmetic instead of randint/choice
        side = "BUY" if draw() < 0.55 else "SELL"
        cid = cids[int(draw() * k)]
        d.trade(cid, side, d.size(base), d.price(clusters), t0 + int(draw() * span))


def add_history(d: Draft, k: Knobs) -> None:
    if d.rng.random() < k.history_share:
        n = heavy(d.rng, *k.history, tail=2)
        scatter(d, n, d.now - 700 * DAY, d.cutoff - HOUR)


def add_pnl(d: Draft, roi: float, *, allow_none: bool = False) -> None:
    modes = ("paper", "snapshots", "none") if allow_none else ("paper", "snapshots")
    d.pnl_source(roi, d.rng.choice(modes))


def pairs_by_market(
    d: Draft, cids: list[str], pairs: int, t0: int, t1: int, hold: tuple[int, int]
) -> list[tuple[str, int, int]]:
    """``pairs`` round trips spread evenly over ``cids``, non-overlapping per market; the first
    buy is at t0 and the last sell at t1."""
    out: list[tuple[str, int, int]] = []
    last = 1 if len(cids) > 1 else 0
    for j, cid in enumerate(cids):
        k = pairs // len(cids) + (1 if j < pairs % len(cids) else 0)
        times = d.schedule(k, t0, t1, hold, first=j == 0, last=j == last)
        out.extend((cid, tb, ts) for tb, ts in times)
    return out


def play(
    d: Draft,
    slots: list[tuple[str, int, int]],
    wins: int,
    mids: int,
    base: float,
    clusters: Weights = NONMID,
) -> None:
    """Round trips on ``slots``: exactly ``wins`` win and exactly ``mids`` trade near 0.5."""
    rng = d.rng
    n = len(slots)
    winners = set(rng.sample(range(n), wins))
    middles = set(rng.sample(range(n), mids))
    for j, (cid, tb, ts) in enumerate(slots):
        cluster = "mid" if j in middles else clusters.pick(rng)
        d.round_trip(cid, tb, ts, j in winners, cluster, d.size(base))


# --- Stage 1 failures (all-time trade counts; SPEC section 3) -----------------------------


def no_trades(d: Draft, k: Knobs) -> str:
    """No trades at all: age 0 fails the age check first."""
    return "STAGE1_TOO_YOUNG"


def young(d: Draft, k: Knobs) -> str:
    """First trade at most 44 days ago: age_days <= 44 < 45, whatever the count."""
    first = d.between(44 * DAY, 2 * HOUR)
    d.trade(d.markets(1)[0], "BUY", 10.0, 0.5, first)
    scatter(d, heavy(d.rng, *k.young, tail=2) - 1, first, d.now - 60)
    return "STAGE1_TOO_YOUNG"


def few(d: Draft, k: Knobs) -> str:
    """Old enough, 1 to 9 trades in all."""
    first = d.between(400 * DAY, 46 * DAY)
    d.trade(d.markets(1)[0], "BUY", 25.0, 0.4, first)
    scatter(d, d.rng.randint(0, 8), first, d.now - HOUR)
    return "STAGE1_TOO_FEW_TRADES"


def inactive(d: Draft, k: Knobs) -> str:
    """Old, >= 10 trades, the last one at least 47 days ago (days_since_last > 45)."""
    first, last = d.between(700 * DAY, 120 * DAY), d.between(110 * DAY, 47 * DAY)
    cid = d.markets(1)[0]
    d.trade(cid, "BUY", 40.0, 0.3, first)
    d.trade(cid, "SELL", 40.0, 0.6, last)
    scatter(d, heavy(d.rng, *k.inactive, tail=2) - 2, first, last)
    return "STAGE1_INACTIVE"


def dormant(d: Draft, k: Knobs) -> str:
    """``is_active = 0``: never read, whatever its trades."""
    d.is_active = 0
    scatter(d, heavy(d.rng, 1, 2000, tail=2), d.now - 300 * DAY, d.now - HOUR)
    return "DORMANT"


# --- Stage 1 passers that stay unclassified --------------------------------------------


def ordinary(
    d: Draft,
    k: Knobs,
    *,
    t_a: int | None = None,
    t_b: int | None = None,
    anchor: int | None = None,
    history: bool = True,
    extras: bool = True,
) -> str:
    """A trader no rule catches.

    >= 12 markets with even volume (concentration < 0.6: no JACKPOT, no SPECIALIST); < 1,286
    window trades (no NOISE, no BOT_SWARM); trades spread over >= 20 days (no NEWS_SNIPER); at most
    30% of trades near 0.5 (no LIQUIDITY_PROVIDER); win rate <= 0.78 (no TAIL_RISK) and outside
    0.50..0.62 (no GENERALIST); holds under 36 h (no ACCUMULATOR). Some are TOPIC_LANE (one
    domain), BONDER (extreme prices) or WHALE (big sizes).
    """
    rng = d.rng
    t_a = d.between(175 * DAY, 50 * DAY) if t_a is None else t_a
    t_b = d.between(30 * DAY, HOUR) if t_b is None else t_b
    lane = rng.choice(sorted(d.cat.lanes)) if rng.random() < 0.2 else None
    bonder = rng.random() < 0.12
    base = float(rng.randint(400, 3000)) if rng.random() < 0.08 else float(heavy(rng, 5, 400))
    clusters = EXTREME if bonder else NONMID
    if anchor is not None:  # a lone first or last trade, in a market of its own
        d.trade(d.markets(1, "unknown")[0], "BUY", d.size(base), d.price(clusters), anchor)
    if rng.random() < 0.12:  # buys only: no pairs at all
        n = heavy(rng, 12, 400)
        cids = d.markets(max(12, min(60, n // 2)), lane)
        for j in range(n):
            side = "BUY" if rng.random() < 0.97 else rng.choice(("buy", None, "MERGE"))
            ts = t_a if j == 0 else t_b if j == 1 else rng.randint(t_a, t_b)
            d.trade(cids[j % len(cids)], side, d.size(base), d.price(clusters), ts)
    else:
        pairs = heavy(rng, *k.ordinary_pairs, tail=2)
        cids = d.markets(max(12, min(60, pairs // 2)), lane)
        pairs = max(pairs, len(cids))
        slots = pairs_by_market(d, cids, pairs, t_a, t_b, (15 * 60, 36 * HOUR))
        mids = 0 if bonder else (3 * pairs) // 10
        play(d, slots, avoid_band(rng, pairs), mids, base, clusters)
        # a few extra buys (open positions) after each market's last round trip: pairing unchanged
        ends = {cid: sell for cid, _, sell in slots}
        for cid in rng.sample(cids, min(len(cids), rng.randint(0, 40) if extras else 0)):
            ts = min(d.now - 60, ends[cid] + rng.randint(60, 5 * DAY))
            side = "BUY" if rng.random() < 0.9 else rng.choice(("buy", None, "MERGE"))
            d.trade(cid, side, d.size(base / 2), d.price(clusters), ts)
    if history:
        add_history(d, k)
    add_pnl(d, 0.6 * rng.random() - 0.3, allow_none=True)
    return "UNCLASSIFIED"


def feature_error(d: Draft, k: Knobs) -> str:
    """An ordinary trader with one window trade whose price is the text 'abc'."""
    ordinary(d, k)
    d.trade(d.markets(1)[0], "BUY", 12.0, "abc", d.between(20 * DAY, HOUR))
    return "ERROR"


# --- Stage 2 exclusions (first match wins; SNIPER_INSIDER cannot fire with defaults) ---------


def noise(d: Draft, k: Knobs) -> str:
    """>= 1,400 window trades (> 50 a week) and |roi| <= 0.012 < 0.02."""
    rng = d.rng
    pairs = heavy(rng, *k.noise_pairs)
    cids = d.markets(rng.randint(30, 150))
    slots = pairs_by_market(d, cids, pairs, d.now - 178 * DAY, d.now - HOUR, (600, 10 * HOUR))
    play(d, slots, win_count(rng, pairs, 0.4, 0.6), pairs // 4, float(heavy(rng, 10, 300)))
    add_history(d, k)
    add_pnl(d, 0.024 * rng.random() - 0.012)
    return "NOISE_TRADER"


def news(d: Draft, k: Knobs) -> str:
    """>= 83% of the window trades inside 50 minutes; age and recency from two anchor trades."""
    rng = d.rng
    n = heavy(rng, 12, 250)
    rest = max(2, (12 * n) // 100)
    cids = d.markets(rng.randint(1, 3))
    base = float(heavy(rng, 10, 800))
    burst = d.between(170 * DAY, 2 * DAY)
    for _ in range(n - rest):
        side = "BUY" if rng.random() < 0.8 else "SELL"
        d.trade(rng.choice(cids), side, d.size(base), d.price(MIXED), burst + rng.randint(0, 3000))
    anchors = [d.between(175 * DAY, 50 * DAY), d.between(30 * DAY, HOUR)]
    for j in range(rest):
        ts = anchors[j] if j < 2 else d.between(178 * DAY, HOUR)
        d.trade(rng.choice(cids), "BUY", d.size(base), d.price(MIXED), ts)
    add_history(d, k)
    add_pnl(d, rng.random() - 0.5, allow_none=True)
    return "NEWS_SNIPER"


def liquidity(d: Draft, k: Knobs) -> str:
    """Balanced round trips (balance ~1), 80% of them near 0.5; < 1,286 trades, spread out."""
    rng = d.rng
    pairs = heavy(rng, 60, 540)
    cids = d.markets(rng.randint(5, 40))
    t0, t1 = d.between(175 * DAY, 150 * DAY), d.between(10 * DAY, HOUR)
    slots = pairs_by_market(d, cids, pairs, t0, t1, (300, 6 * HOUR))
    play(
        d,
        slots,
        win_count(rng, pairs, 0.4, 0.7),
        (8 * pairs + 9) // 10,
        float(heavy(rng, 20, 2000)),
    )
    add_history(d, k)
    add_pnl(d, 0.4 * rng.random() - 0.2, allow_none=True)
    return "LIQUIDITY_PROVIDER"


def bot_swarm(d: Draft, k: Knobs) -> str:
    """36,600+ window trades (> 200 a day) of 1 to 8 shares (<= 5 USDC each), |roi| >= 0.04."""
    rng = d.rng
    pairs = rng.randint(18_300, 22_000)
    cids = d.markets(rng.randint(40, 200))
    slots = pairs_by_market(d, cids, pairs, d.now - 179 * DAY, d.now - 600, (60, 1800))
    winners = rng.random()
    for cid, tb, ts in slots:
        cluster = "mid" if rng.random() < 0.2 else NONMID.pick(rng)
        d.round_trip(cid, tb, ts, rng.random() < winners, cluster, round(1 + 7 * rng.random(), 2))
    roi = 0.04 + 0.16 * rng.random()
    add_pnl(d, roi if rng.random() < 0.5 else -roi)
    return "BOT_SWARM_MICRO"


def tail_risk(d: Draft, k: Knobs) -> str:
    """Win rate >= 11/12 on near-certain outcomes, then a big loss late: loss_ratio >> 5."""
    rng = d.rng
    pairs = heavy(rng, 12, 120)
    cids = d.markets(rng.randint(3, 25))
    # one global sequence of non-overlapping round trips keeps every market's pairing as planned
    times = d.schedule(
        pairs, d.between(175 * DAY, 150 * DAY), d.between(20 * DAY, HOUR), (HOUR, 3 * DAY)
    )
    losers = set(rng.sample(range(pairs // 2, pairs), max(1, pairs // 12)))
    base = float(heavy(rng, 20, 2000))
    for j, (tb, ts) in enumerate(times):
        buy = round(0.905 + 0.055 * rng.random(), 3)
        sell = (
            round(0.02 + 0.18 * rng.random(), 3)
            if j in losers
            else round(buy + 0.005 + 0.025 * rng.random(), 3)
        )
        cid, size = rng.choice(cids), d.size(base)
        d.trade(cid, "BUY", size, buy, tb, 1)
        d.trade(cid, "SELL", size, sell, ts, 1)
    add_history(d, k)
    add_pnl(d, -0.3 * rng.random())
    return "TAIL_RISK_SELLER"


def jackpot(d: Draft, k: Knobs) -> str:
    """Long-shot buys in 1 to 3 markets hold >= 78% of the size; at most 1 win in the pairs."""
    rng = d.rng
    losses = rng.randint(0, 4)
    wins = 1 if losses >= 3 and rng.random() < 0.5 else 0
    n_main, n_minor = rng.randint(1, 3), wins + losses + rng.randint(0, 2)
    picked = d.markets(n_main + n_minor)
    main, minor = picked[:n_main], picked[n_main:]
    base = float(heavy(rng, 50, 20_000))
    t_a, t_b = d.between(175 * DAY, 60 * DAY), d.between(30 * DAY, HOUR)
    n = heavy(rng, 8, 150)
    for j in range(n):
        ts = t_a if j == 0 else t_b if j == 1 else rng.randint(t_a, t_b)
        d.trade(rng.choice(main), "BUY", d.size(base), d.price(LONGSHOT), ts)
    for j, cid in enumerate(minor):
        if j < wins + losses:
            tb = rng.randint(t_a, t_b - DAY)
            d.round_trip(
                cid, tb, tb + rng.randint(HOUR, DAY), j < wins, "wide_lo", d.size(base / 10)
            )
        else:
            d.trade(cid, "BUY", d.size(base / 10), d.price(NONMID), rng.randint(t_a, t_b))
    add_history(d, k)
    add_pnl(d, -rng.random(), allow_none=True)
    return "JACKPOT_GAMBLER"
