"""The feature math's column-wise passes keep production's arithmetic: left-to-right sums,
min() and pairing as production's loops do them, and the burst window on awkward timestamps."""

from __future__ import annotations

import math
import random
from bisect import bisect_right

from classifier.features import (
    WalletInputs,
    _market_groups,
    _max_in_span,
    _pair,
    compute_features,
    seqsum,
    trades_from_rows,
)

NOW = 1_780_000_000
# left to right: 1 is absorbed by 1e100, which then cancels; a compensated sum (Python 3.12's
# sum(), math.fsum) gives 2.0
CANCELLING = [1.0, 1e100, 1.0, -1e100]


def _loop_sum(values: list[float]) -> float:
    total = 0.0
    for v in values:
        total += v
    return total


def test_seqsum_adds_left_to_right_from_zero():
    assert seqsum(CANCELLING) == 0.0
    assert seqsum(iter(CANCELLING)) == 0.0
    assert seqsum([-0.0]) == 0.0 and math.copysign(1.0, seqsum([-0.0])) == 1.0
    assert seqsum([]) == 0.0
    assert seqsum([3, 2**53, 1]) == float(2**53 + 4)  # ints added as doubles, one at a time
    rng = random.Random(7)
    values = [rng.uniform(-1e6, 1e6) * 10 ** rng.randint(-8, 8) for _ in range(2000)]
    assert seqsum(values) == _loop_sum(values)


def _wallet(rows, domains=None):
    trades = trades_from_rows(rows, domains or {}, ordered=True)
    return compute_features(WalletInputs("0xw", trades, 0, None, None, 0), NOW, 180)


def test_average_notional_is_the_left_to_right_sum():
    """Notionals 1, 1e100, 1, -1e100 in trade order: production's AVG adds them in that order."""
    rows = [(i, "m", "BUY", size, 1.0, NOW - 100 + i) for i, size in enumerate(CANCELLING)]
    assert _wallet(rows).avg_position_size == 0.0


def test_market_and_domain_sums_are_left_to_right_in_trade_order():
    """Trades of one market interleaved with another's: each market's sizes add in trade order;
    two markets of one domain add as one sequence in trade order (not market by market)."""
    sizes = [1.0, 5.0, 1e100, 5.0, 1.0, 5.0, -1e100]
    markets = ["a", "b", "a", "c", "a", "b", "a"]
    pairs = enumerate(zip(sizes, markets, strict=True))
    rows = [(i, m, "BUY", s, 0.5, NOW - 100 + i) for i, (s, m) in pairs]
    f = _wallet(rows, {"a": "X", "b": "X", "c": "Y"})
    # market a: 1 + 1e100 + 1 - 1e100 = 0 left to right; b: 10; c: 5; total 15, top 3 = 15
    assert f.concentration_ratio == 1.0
    # domain X: a and b interleaved: 1, 5, 1e100, 1, 5, -1e100 -> 0.0; Y: 5. Top: Y, share 1.0
    assert (f.top_domain, f.top_domain_ratio) == ("Y", 1.0)


def _brute_span(ts: list[int], span: int) -> int:
    return max(bisect_right(ts, t + span) - i for i, t in enumerate(ts))


def test_burst_window_matches_a_brute_force_count():
    rng = random.Random(3)
    cases = [[0], [0, 3600], [0, 3600, 3601], [5, 5, 5, 5], [-7200, -3600, 0, 1, 3601]]
    cases.append([-(2**62), 0, 2**62])  # huge gaps: Python ints, no overflow
    for _ in range(200):
        n = rng.randint(1, 60)
        cases.append(sorted(rng.randint(-10_000, 10_000) for _ in range(n)))
    for ts in cases:
        assert _max_in_span(tuple(ts), 3600) == _brute_span(ts, 3600), ts


def _reference_pairs(rows):
    """Production's pairing loop, written plainly: per market ascending, i-th BUY with i-th
    SELL, a pair of size <= 0 skipped; min() as Python's (the first unless the second is less)."""
    buys: dict[str, list] = {}
    sells: dict[str, list] = {}
    for r in rows:
        if r[2] == "BUY":
            buys.setdefault(r[1], []).append(r)
        elif r[2] == "SELL":
            sells.setdefault(r[1], []).append(r)
    wins = losses = 0
    hold = 0.0
    for m in sorted(buys.keys() & sells.keys()):
        for b, s in zip(buys[m], sells[m], strict=False):
            size = min(b[3], s[3])
            if size <= 0:
                continue
            pnl = (s[4] - b[4]) * size
            if pnl > 0:
                wins += 1
            else:
                losses += 1
            hold += s[5] - b[5]
    pairs = wins + losses
    return wins, losses, (hold / pairs if pairs else 0.0)


def test_pairing_matches_the_plain_loop_with_zero_negative_and_nan_sizes():
    rng = random.Random(11)
    specials = [0.0, -1.0, math.nan, math.inf, 1e-300]
    for _ in range(300):
        n = rng.randint(1, 40)
        rows = []
        for i in range(n):
            size = rng.choice(specials) if rng.random() < 0.2 else rng.uniform(0.1, 50)
            side = rng.choice(["BUY", "SELL", "SELL", "BUY", "MERGE"])
            price = rng.choice([math.nan, 0.5]) if rng.random() < 0.05 else rng.random()
            rows.append((i, rng.choice("abcd"), side, size, price, NOW - 10_000 + 7 * i))
        trades = trades_from_rows(rows, {}, ordered=True)
        got = _pair(trades, _market_groups(trades.markets))
        assert (got.wins, got.losses, got.mean_hold_s) == _reference_pairs(rows), rows
