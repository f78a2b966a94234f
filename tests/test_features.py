"""Feature math on small hand-computed cases (SPEC section 4), pure functions only."""

from __future__ import annotations

import math

import pytest

from classifier.features import FeatureError, WalletInputs, compute_features, trades_from_rows
from classifier.store import InvalidText

NOW = 1_780_000_000
DAY = 86_400
T0 = NOW - 10 * DAY  # a UTC-day-aligned base is not needed: days are ts // 86400


def t(i, ts, side="BUY", size=10.0, price=0.5, market="m1", domain="Sports"):
    """One raw row as the store reads it (id, condition_id, side, size, price, ts), its domain."""
    return (i, market, side, size, price, ts), domain


def feats(trades, *, paper=(0, None), snap=None, positions=0):
    rows = trades_from_rows([r for r, _ in trades], {r[1]: d for r, d in trades})
    inputs = WalletInputs("0xw", rows, paper[0], paper[1], snap, positions)
    return compute_features(inputs, NOW, 180)


def test_no_window_trades_gives_zero_features_and_no_top_domain():
    """Zero trades: all-zero features, no top domain, but total_pnl and positions still count."""
    f = feats([], snap=12.5, positions=3)
    assert (f.trade_count, f.top_domain, f.top_domain_ratio, f.sharpe_ratio) == (0, None, 0.0, 0.0)
    assert (f.total_pnl, f.active_positions) == (12.5, 3)


def test_pairing_unequal_counts_and_zero_size_pair_uses_up_both_rows():
    """3 BUYs, 2 SELLs: pairs (b1,s1) skipped for size 0, (b2,s2) paired; b3 stays open."""
    trades = [
        t(1, T0, "BUY", size=0.0, price=0.2),
        t(2, T0 + 10, "BUY", size=5.0, price=0.4),
        t(3, T0 + 20, "BUY", size=7.0, price=0.1),
        t(4, T0 + 3600, "SELL", size=3.0, price=0.9),
        t(5, T0 + 7200, "SELL", size=8.0, price=0.3),
    ]
    f = feats(trades)
    # pair 1: min(0, 3) = 0 -> skipped; pair 2: b2 with s5: size min(5, 8) = 5,
    # pnl (0.3 - 0.4) * 5 = -0.5 -> loss; hold 7190 s
    assert (f.win_count, f.loss_count) == (0, 1)
    assert f.avg_hold_time_hours == pytest.approx(7190 / 3600)


def test_pairing_is_per_market_and_ignores_other_sides():
    """A SELL in another market does not close a BUY; 'buy' and '' sides are dropped."""
    trades = [
        t(1, T0, "BUY", price=0.4, market="a"),
        t(2, T0 + 5, "SELL", price=0.6, market="b"),
        t(3, T0 + 6, "buy", price=0.1, market="a"),
        t(4, T0 + 7, "", price=0.1, market="a"),
        t(5, T0 + 8, "SELL", price=0.6, market="a"),
    ]
    f = feats(trades)
    assert (f.win_count, f.loss_count) == (1, 0)  # (0.6 - 0.4) * 10 = 2 > 0
    assert f.buy_sell_balance == pytest.approx(1 - 1 / 3)  # b = 1, s = 2


def test_buy_sell_balance_counts_exact_sides_only():
    """b=1, s=2 gives 1 - 1/3; a lower-case side does not count."""
    trades = [t(1, T0, "BUY"), t(2, T0 + 1, "SELL"), t(3, T0 + 2, "SELL"), t(4, T0 + 3, "buy")]
    assert feats(trades).buy_sell_balance == pytest.approx(1 - 1 / 3)


def test_zero_pnl_pair_is_a_loss():
    """PnL exactly 0 counts as a loss."""
    f = feats([t(1, T0, "BUY", price=0.5), t(2, T0 + 1, "SELL", price=0.5)])
    assert (f.win_count, f.loss_count) == (0, 1)


def test_drawdown_after_a_peak():
    """Day PnLs 2, -6, 8 -> equity 2, -4, 4: from the peak 2, drawdown 300 %."""
    trades = []
    for day, pnl_price in enumerate([0.6, 0.2, 0.9]):  # sell prices vs buy 0.5, size 20
        base = T0 - T0 % DAY + day * DAY
        trades += [
            t(10 * day + 1, base + 100, "BUY", size=20.0, price=0.5, market=f"m{day}"),
            t(10 * day + 2, base + 200, "SELL", size=20.0, price=pnl_price, market=f"m{day}"),
        ]
    f = feats(trades)
    assert f.max_drawdown_pct == pytest.approx(300.0)


def test_drawdown_is_zero_when_equity_never_rises_above_zero():
    """Only losses: the peak stays 0, so drawdown is 0."""
    f = feats([t(1, T0, "BUY", price=0.6), t(2, T0 + 1, "SELL", price=0.5)])
    assert f.max_drawdown_pct == 0.0


def test_sharpe_on_three_days():
    """Day PnLs 2, 1, 3: r = [1/2, 3/3] -> mean 0.75, std 0.25 -> 3 * sqrt(252)."""
    trades = []
    for day, (price, market) in enumerate([(0.6, "a"), (0.55, "b"), (0.65, "c")]):
        base = T0 - T0 % DAY + day * DAY
        trades += [
            t(10 * day + 1, base + 10, "BUY", size=20.0, price=0.5, market=market),
            t(10 * day + 2, base + 20, "SELL", size=20.0, price=price, market=market),
        ]
    f = feats(trades)
    assert f.sharpe_ratio == pytest.approx(3 * math.sqrt(252))


def test_sharpe_zero_with_one_day_or_flat_returns():
    """Fewer than two days, or returns with zero spread, give Sharpe 0."""
    one_day = [t(1, T0, "BUY", price=0.4), t(2, T0 + 1, "SELL", price=0.6)]
    assert feats(one_day).sharpe_ratio == 0.0


def test_burstiness_span_of_exactly_3600_s_is_inclusive():
    """Trades at 0, 3600 and 3601 s: at most 2 inside any 3600 s span that includes both ends."""
    trades = [
        t(1, T0, price=0.3),
        t(2, T0 + 3600, price=0.3),
        t(3, T0 + 7201, price=0.3),
        t(4, T0 + 7202, price=0.3),
    ]
    f = feats(trades)
    assert f.burstiness_top_1h_ratio == 0.5
    f3 = feats([*trades[:2], t(3, T0 + 3600, price=0.3), t(4, T0 + 3601, price=0.3)])
    assert f3.burstiness_top_1h_ratio == 0.75  # [0, 3600] holds 3 of 4


def test_top_domain_tie_goes_to_smallest_name_and_unknown_counts():
    """Equal size sums: the byte-smallest name wins; 'unknown' and '' are domains."""
    trades = [
        t(1, T0, domain="Sports", size=5.0, market="a"),
        t(2, T0 + 1, domain="Crypto", size=5.0, market="b"),
        t(3, T0 + 2, domain="unknown", size=2.0, market="c"),
        t(4, T0 + 3, domain="", size=1.0, market="d"),
    ]
    f = feats(trades)
    assert (f.top_domain, f.top_domain_ratio) == ("Crypto", 5.0 / 13.0)
    upper = feats(
        [t(1, T0, domain="b", size=1.0, market="x"), t(2, T0 + 1, domain="B", size=1.0, market="y")]
    )
    assert upper.top_domain == "B"  # byte order: upper case first


def test_concentration_top_three_markets():
    """Sizes per market 5, 4, 3, 2, 1 -> (5 + 4 + 3) / 15."""
    trades = [t(i, T0 + i, size=float(s), market=f"m{i}") for i, s in enumerate([5, 4, 3, 2, 1])]
    assert feats(trades).concentration_ratio == pytest.approx(12 / 15)
    assert feats([t(1, T0, size=0.0)]).concentration_ratio == 0.0


def test_price_ratios_at_their_boundaries():
    """mid fills: |p - 0.5| <= 0.05; extremes: p >= 0.9 or p <= 0.1."""
    prices = [0.5, 0.46, 0.9, 0.1, 0.11, 0.89, 0.7, 0.3]
    f = feats([t(i, T0 + i, price=p) for i, p in enumerate(prices)])
    assert f.mid_fill_ratio == 2 / 8
    assert f.extreme_price_ratio == 2 / 8


def test_rates_and_average_size():
    """trades per week = n / (180 / 7); per day = n / 180; avg size = mean(size * price)."""
    f = feats([t(1, T0, size=10.0, price=0.5), t(2, T0 + 1, size=30.0, price=0.5)])
    assert (f.trades_per_week, f.trades_per_day) == (2 / (180 / 7), 2 / 180)
    assert f.avg_position_size == 10.0
    assert f.size_cv == pytest.approx(0.5)


def test_settled_paper_trades_win_over_snapshots_even_with_null_pnl():
    """Settled paper trades decide total_pnl, 0 when their pnl are all NULL."""
    assert feats([], paper=(2, 7.5), snap=100.0).total_pnl == 7.5
    assert feats([], paper=(1, None), snap=100.0).total_pnl == 0.0
    assert feats([], paper=(0, None), snap=100.0).total_pnl == 100.0


def test_same_rows_in_another_order_give_identical_features():
    """The features do not depend on the order rows arrive in."""
    trades = [
        t(
            i,
            T0 + (i * 7919) % 5000,
            "BUY" if i % 2 else "SELL",
            size=1.0 + i / 3,
            price=(i % 10) / 10,
            market=f"m{i % 4}",
        )
        for i in range(40)
    ]
    assert feats(trades) == feats(list(reversed(trades)))


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        (1, None, "condition_id is NULL \\(expected TEXT\\)"),
        (1, b"m1", "condition_id is a blob of 2 bytes"),
        (1, InvalidText(b"m\\xff"), "condition_id is text that is not valid UTF-8"),
        (2, None, "side is NULL"),
        (2, b"BUY", "side is a blob"),
        (3, "abc", "size is text 'abc' \\(expected INTEGER or REAL\\)"),
        (3, None, "size is NULL"),
        (4, b"\\x00", "price is a blob"),
        (5, 1753858600.5, "timestamp is a real 1753858600.5 \\(expected INTEGER\\)"),
        (5, "2025-07-30", "timestamp is text"),
    ],
)
def test_values_production_cannot_read_raise_feature_error(column, value, expected):
    """Where production's typed read of a window trade fails, the features fail, naming the row."""
    good = (6, "m1", "BUY", 1.0, 0.5, NOW)
    row = [7, "m1", "BUY", 1.0, 0.5, NOW]
    row[column] = value
    with pytest.raises(FeatureError, match=rf"trades_raw id 7: {expected}"):
        trades_from_rows([good, tuple(row), good], {})


def test_values_production_reads_are_accepted():
    """Any TEXT side, integer size and price: no error (a side other than BUY/SELL is dropped)."""
    rows = [
        (1, "m1", "", 2, 1, NOW - 5),
        (2, "m1", "buy", 1.0, 0, NOW - 4),
        (3, "m1", "BUY", 1, 0.5, NOW),
    ]
    assert len(trades_from_rows(rows, {}).markets) == 3


def test_top_domain_that_is_not_text_fails_but_a_lesser_one_does_not():
    """A blob or invalid-UTF-8 top domain fails the wallet; a non-text domain below it is fine."""
    rows = [(1, "m1", "BUY", 3.0, 0.5, T0), (2, "m2", "BUY", 1.0, 0.5, T0 + 1)]

    def top(domains):
        inputs = WalletInputs("0xw", trades_from_rows(rows, domains), 0, None, None, 0)
        f = compute_features(inputs, NOW, 180)
        return f.top_domain, f.top_domain_ratio

    assert top({"m1": "Sports", "m2": b"blob"}) == ("Sports", 0.75)
    assert top({"m1": "Sports", "m2": InvalidText(b"\\xff")}) == ("Sports", 0.75)
    for bad in (b"blob", InvalidText(b"\\xff")):
        with pytest.raises(FeatureError, match="top domain is"):
            top({"m1": bad, "m2": "Sports"})


def test_top_domain_ties_follow_sqlite_order_across_storage_classes():
    """Equal sums: text sorts before blobs (SQLite's order), so the text domain wins the tie."""
    rows = [(1, "m1", "BUY", 2.0, 0.5, T0), (2, "m2", "BUY", 2.0, 0.5, T0 + 1)]
    inputs = WalletInputs("0xw", trades_from_rows(rows, {"m1": b"A", "m2": "z"}), 0, None, None, 0)
    assert compute_features(inputs, NOW, 180).top_domain == "z"


def test_non_finite_sizes_follow_sqlite_nan_as_null():
    """inf and -inf sizes: a NaN sum is NULL in SQLite: production reads 0.0, or fails."""
    rows = [(1, "m1", "BUY", math.inf, 0.5, T0), (2, "m2", "BUY", -math.inf, 0.5, T0 + 1)]
    inputs = WalletInputs("0xw", trades_from_rows(rows, {}), 0, None, None, 0)
    # both trades in domain 'unknown': its sum is NaN (NULL) and the total > 0 fails: share 0.0
    f = compute_features(inputs, NOW, 180)
    assert (f.avg_position_size, f.concentration_ratio, f.top_domain_ratio) == (0.0, 0.0, 0.0)
    split = WalletInputs("0xw", trades_from_rows(rows, {"m1": "A", "m2": "B"}), 0, None, None, 0)
    # two domains, inf and -inf: the total is NaN, COALESCE'd to 0.0, so the share is 0.0
    assert compute_features(split, NOW, 180).top_domain_ratio == 0.0
    rows[1] = (2, "m2", "BUY", 1.0, 0.5, T0 + 1)
    split = WalletInputs("0xw", trades_from_rows(rows, {"m1": "A", "m2": "B"}), 0, None, None, 0)
    with pytest.raises(FeatureError, match="share of the top domain 'A' is NULL"):
        compute_features(split, NOW, 180)  # inf / inf


def test_market_without_category_row_is_unknown():
    """A trade whose market has no markets row gets the domain 'unknown'."""
    rows = [(1, "gone", "BUY", 3.0, 0.5, T0), (2, "m1", "BUY", 2.0, 0.5, T0 + 1)]
    f = compute_features(
        WalletInputs("0xw", trades_from_rows(rows, {"m1": "Sports"}), 0, None, None, 0), NOW, 180
    )
    assert (f.top_domain, f.top_domain_ratio) == ("unknown", 0.6)
