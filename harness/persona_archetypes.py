"""Persona archetypes: wallets built to be suitable, or to match a persona and fail the roi gate.

Like ``harness/archetypes.py``, each builder returns the label a serial run at ``now`` with the
default config gives (../shared/SPEC.md section 5: traits, exclusions, then the personas in
order, each gated by ``stage2_min_roi``). Every persona archetype must first pass all seven
exclusions; the docstrings say how.
"""

from __future__ import annotations

from harness.archetypes import Knobs, add_history, add_pnl, pairs_by_market, play
from harness.draft import DAY, HOUR, NONMID, Draft, heavy, win_count


def specialist(d: Draft, k: Knobs, *, suitable: bool = True, pnl: bool = True) -> str:
    """3 markets hold >= 90% of the size, 8 to 20 pairs, win rate 0.64 to 0.78, <= 4 positions.

    Win rate <= 0.78 keeps it off TAIL_RISK, > 0.45 off JACKPOT; no price near 0.5. Suitable
    with roi 0.08 to 0.30, else INSUFFICIENT_PNL with roi <= 0.015.
    """
    rng = d.rng
    lane = rng.choice(sorted(d.cat.lanes)) if rng.random() < 0.5 else None
    main = d.markets(3, lane)
    minor = [c for c in d.markets(rng.randint(0, 3)) if c not in main]
    pairs = rng.randint(8, 20)
    t_a, t_b = d.between(175 * DAY, 60 * DAY), d.between(25 * DAY, HOUR)
    base = float(heavy(rng, 50, 5000))
    slots = pairs_by_market(d, main, pairs, t_a, t_b, (2 * HOUR, 4 * DAY))
    play(d, slots, win_count(rng, pairs, 0.64, 0.78), 0, base)
    for cid in minor:
        d.trade(cid, "BUY", d.size(base / 10), d.price(NONMID), rng.randint(t_a, t_b))
    add_history(d, k)
    if pnl:
        add_pnl(d, 0.08 + 0.22 * rng.random() if suitable else 0.015 - 0.265 * rng.random())
    return "INFORMED_SPECIALIST" if suitable else "INSUFFICIENT_PNL"


def generalist(d: Draft, k: Knobs, *, suitable: bool = True) -> str:
    """24 to 36 markets, one pair each, win rate 0.54 to 0.58, every closing day in profit.

    Equity only rises (drawdown 0) and every daily return is positive (Sharpe far above 1).
    Suitable with roi 0.06 to 0.25, else INSUFFICIENT_PNL with roi <= 0.015.
    """
    rng = d.rng
    pairs = rng.randint(24, 36)
    wins = win_count(rng, pairs, 0.54, 0.58)
    cids = d.markets(pairs)
    today = d.now // DAY
    first, last = today - rng.randint(60, 170), today - rng.randint(1, 20)
    days = [first, *sorted(rng.sample(range(first + 1, last), wins - 2)), last]
    base = float(heavy(rng, 20, 3000))
    for j, cid in enumerate(cids):
        day = days[j] if j < wins else days[j - wins]  # a loss shares a day with a bigger win
        sell_ts = day * DAY + rng.randint(2 * HOUR, 20 * HOUR)
        buy_ts = sell_ts - rng.randint(2 * HOUR, 30 * HOUR)
        if j < wins:
            buy = round(0.12 + 0.18 * rng.random(), 3)
            sell = round(buy + 0.06 + 0.04 * rng.random(), 3)
        else:
            buy = round(0.60 + 0.2 * rng.random(), 3)
            sell = round(buy - 0.005 - 0.015 * rng.random(), 3)
        size = d.size(base)
        d.trade(cid, "BUY", size, buy, buy_ts)
        d.trade(cid, "SELL", size, sell, sell_ts)
    add_history(d, k)
    add_pnl(d, 0.06 + 0.19 * rng.random() if suitable else 0.015 - 0.215 * rng.random())
    return "CONSISTENT_GENERALIST" if suitable else "INSUFFICIENT_PNL"


def accumulator(d: Draft, k: Knobs) -> str:
    """8 to 12 pairs held 3 to 12 days, <= 30 window trades, 12 to 18 markets, roi >= 0.08.

    Even volume (concentration < 0.6) keeps it off SPECIALIST, < 20 markets off GENERALIST.
    """
    rng = d.rng
    pairs, extra = rng.randint(8, 12), rng.randint(4, 6)
    cids = d.markets(pairs + extra)
    winners = set(rng.sample(range(pairs), pairs // 2))
    base = float(heavy(rng, 50, 3000))
    for j in range(pairs):
        tb = d.between(170 * DAY, 60 * DAY) if j == 0 else d.between(170 * DAY, 30 * DAY)
        d.round_trip(
            cids[j],
            tb,
            tb + rng.randint(3 * DAY, 12 * DAY),
            j in winners,
            NONMID.pick(rng),
            d.size(base),
        )
    for j, cid in enumerate(cids[pairs:]):
        ts = d.between(20 * DAY, HOUR) if j == 0 else d.between(100 * DAY, HOUR)
        d.trade(cid, "BUY", d.size(base), d.price(NONMID), ts)
    add_history(d, k)
    add_pnl(d, 0.08 + 0.22 * rng.random())
    return "PATIENT_ACCUMULATOR"


def insufficient(d: Draft, k: Knobs) -> str:
    """A specialist or a generalist whose roi is below the 0.03 gate."""
    if d.rng.random() < 0.5:
        return specialist(d, k, suitable=False)
    return generalist(d, k, suitable=False)
