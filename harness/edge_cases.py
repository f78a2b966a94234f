"""Edge-case wallets of the tiny profile: Stage 1 boundaries, SQL semantics, odd inputs.

Each builder, like an archetype (``harness/archetypes.py``), returns the label a serial run
with the default config must give. They pin down the readings of ../shared/SPEC.md that are
easy to get wrong: the Stage 1 boundaries (exactly 45 days old, exactly 10 trades, exactly 45
days since the last trade), ties among the latest snapshots, settled paper trades with NULL
pnl, sides other than exactly BUY/SELL, and an address with upper-case hex (byte order, no
case folding).
"""

from __future__ import annotations

from harness.archetypes import Knobs, ordinary, scatter
from harness.draft import DAY, HOUR, NONMID, Draft, fmt_time
from harness.persona_archetypes import specialist


def age_exactly_45(d: Draft, k: Knobs) -> str:
    """First trade exactly 45 days before now: age_days = 45 passes (the check is age < 45)."""
    ordinary(d, k, t_a=d.now - 45 * DAY + HOUR, anchor=d.now - 45 * DAY, history=False)
    return "UNCLASSIFIED"


def age_44(d: Draft, k: Knobs) -> str:
    """First trade one second short of 45 days: age_days = 44, too young."""
    first = d.now - 45 * DAY + 1
    d.trade(d.markets(1)[0], "BUY", 30.0, 0.3, first)
    scatter(d, 24, first, d.now - HOUR)
    return "STAGE1_TOO_YOUNG"


def ten_trades(d: Draft, k: Knobs) -> str:
    """Exactly 10 trades (the minimum), 10 markets, buys only: passes Stage 1, no rule fires."""
    cids = d.markets(10)
    for j, cid in enumerate(cids):
        ts = d.between(170 * DAY, 60 * DAY) if j == 0 else d.between(40 * DAY, HOUR)
        d.trade(cid, "BUY", d.size(80.0), d.price(NONMID), ts)
    return "UNCLASSIFIED"


def last_trade_45_days(d: Draft, k: Knobs) -> str:
    """Last trade 45 days and one hour ago: days_since_last = 45 is not > 45."""
    last = d.now - 45 * DAY - HOUR
    ordinary(d, k, t_a=d.now - 170 * DAY, t_b=last - 2 * HOUR, anchor=last, extras=False)
    return "UNCLASSIFIED"


def last_trade_46_days(d: Draft, k: Knobs) -> str:
    """Last trade exactly 46 days ago: inactive."""
    last = d.now - 46 * DAY
    d.trade(d.markets(1)[0], "SELL", 30.0, 0.7, last)
    scatter(d, 20, d.now - 150 * DAY, last)
    return "STAGE1_INACTIVE"


def odd_sides(d: Draft, k: Knobs) -> str:
    """An ordinary trader with 'buy', NULL and 'MERGE' sides. The text ones are dropped from
    pairing and balance; the NULL one fails the features (SPEC 2.7): labelled ERROR in profiles."""
    ordinary(d, k)
    for side in ("buy", None, "MERGE", "sell"):
        d.trade(d.markets(1)[0], side, d.size(30.0), d.price(NONMID), d.between(60 * DAY, HOUR))
    return "UNCLASSIFIED"


def snapshot_ties(d: Draft, k: Knobs) -> str:
    """roi 0.05 only if both rows tied at a market's latest snapshot_at count (SPEC: all ties)."""
    specialist(d, k, pnl=False)
    target = 0.05 * d.window_volume()
    a, b = d.window_markets()[:2]
    t_old, t_new = fmt_time(d.now - 20 * DAY), fmt_time(d.now - 2 * DAY)
    d.snapshots += [
        (a, 100.0, 0.5, 9999.0, t_old),  # not the latest: ignored
        (a, 100.0, 0.5, round(target / 2, 2), t_new),
        (a, 50.0, 0.5, round(target - round(target / 2, 2), 2), t_new),
        (b, 10.0, 0.5, 5000.0, t_old),  # not the latest: ignored
        (b, 10.0, 0.5, None, t_new),  # NULL adds nothing
    ]
    return "INFORMED_SPECIALIST"


def paper_null_pnl(d: Draft, k: Knobs) -> str:
    """Settled window paper trades with NULL pnl still win over snapshots: total_pnl 0, roi 0."""
    specialist(d, k, pnl=False)
    cid = d.window_markets()[0]
    for days in (30, 10):
        created = fmt_time(d.now - days * DAY)
        d.paper.append((cid, "BUY", 50.0, 0.4, None, "settled_win", None, created, created))
    d.snapshots.append((cid, 100.0, 0.5, round(0.3 * d.window_volume(), 2), fmt_time(d.now - DAY)))
    return "INSUFFICIENT_PNL"


def paper_outside_window(d: Draft, k: Knobs) -> str:
    """Paper trades only open or settled before the window: snapshots decide (roi 0.15)."""
    specialist(d, k, pnl=False)
    cid = d.window_markets()[0]
    old = fmt_time(d.now - 190 * DAY)
    d.paper.append((cid, "BUY", 50.0, 0.4, 0.0, "settled_loss", -1e6, old, old))
    d.paper.append((cid, "BUY", 50.0, 0.4, None, "open", 1e6, fmt_time(d.now - 5 * DAY), None))
    d.snapshots.append((cid, 100.0, 0.5, round(0.15 * d.window_volume(), 2), fmt_time(d.now - DAY)))
    return "INFORMED_SPECIALIST"


EDGE_BUILDERS = {
    "age_exactly_45": age_exactly_45,
    "age_44": age_44,
    "ten_trades": ten_trades,
    "last_trade_45_days": last_trade_45_days,
    "last_trade_46_days": last_trade_46_days,
    "odd_sides": odd_sides,
    "snapshot_ties": snapshot_ties,
    "paper_null_pnl": paper_null_pnl,
    "paper_outside_window": paper_outside_window,
}
