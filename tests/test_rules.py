"""Stage 1 and Stage 2 rules at their boundaries (pure functions, SPEC sections 3 and 5)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from classifier.config import PersonaConfig
from classifier.features import Features
from classifier.stage1 import NO_TRADES_DAYS, WalletSummary, days_since_last, stage1
from classifier.stage2 import TraitChange, classify, loss_ratio, roi, traits, win_rate

NOW = 1_780_000_000
DAY = 86_400
CFG = PersonaConfig()


def summary(trades=20, first_days=100, last_days=1, wallet="0xw"):
    return WalletSummary(wallet, trades, first_days, last_days)


@pytest.mark.parametrize(
    ("kw", "reason", "metric", "threshold"),
    [
        ({"first_days": 44}, "STAGE1_TOO_YOUNG", 44.0, 45.0),
        ({"first_days": 45}, None, None, None),
        ({"trades": 9}, "STAGE1_TOO_FEW_TRADES", 9.0, 10.0),
        ({"trades": 10}, None, None, None),
        ({"last_days": 46}, "STAGE1_INACTIVE", 46.0, 45.0),
        ({"last_days": 45}, None, None, None),
        ({"first_days": 10, "trades": 1, "last_days": 90}, "STAGE1_TOO_YOUNG", 10.0, 45.0),
        ({"trades": 1, "last_days": 90}, "STAGE1_TOO_FEW_TRADES", 1.0, 10.0),
    ],
)
def test_stage1_checks_and_their_boundaries(kw, reason, metric, threshold):
    """Each check fails one step across its threshold, passes at it; the first failure wins."""
    out = stage1(summary(**kw), NOW, CFG)
    assert (out.reason, out.metric_value, out.threshold) == (reason, metric, threshold)
    if reason:
        assert out.counter == "stage1_other"


def test_null_day_counts_give_age_0_and_the_inactive_sentinel():
    """A first/last value SQLite cannot date (NULL): age 0, days since last 2147483647."""
    cfg = PersonaConfig(stage1_min_wallet_age_days=0)
    out = stage1(WalletSummary("0xw", 20, None, None), NOW, cfg)
    assert (out.age_days, out.reason, out.metric_value, out.counter) == (
        0,
        "STAGE1_INACTIVE",
        float(NO_TRADES_DAYS),
        "stage1_other",
    )
    assert days_since_last(WalletSummary("0xw", 1, 3, 2**40)) == NO_TRADES_DAYS


def test_wallet_without_trades_is_too_young_and_counts_as_no_trades():
    """No trades: age 0 -> STAGE1_TOO_YOUNG, counter stage1_no_trades."""
    out = stage1(WalletSummary("0xw", 0, None, None), NOW, CFG)
    assert (out.reason, out.metric_value, out.counter) == (
        "STAGE1_TOO_YOUNG",
        0.0,
        "stage1_no_trades",
    )


def test_without_trades_and_zero_thresholds_the_inactive_check_uses_the_sentinel():
    """With age and count minimums at 0, a trade-less wallet is inactive for 2147483647 days."""
    cfg = PersonaConfig(stage1_min_wallet_age_days=0, stage1_min_total_trades=0)
    out = stage1(WalletSummary("0xw", 0, None, None), NOW, cfg)
    assert (out.reason, out.metric_value, out.counter) == (
        "STAGE1_INACTIVE",
        float(NO_TRADES_DAYS),
        "stage1_no_trades",
    )


def test_known_bot_wins_first_and_is_exact_string_match():
    """known_bots is checked before anything, with no case folding; always stage1_other."""
    cfg = PersonaConfig(known_bots=("0xBot",))
    bot = stage1(WalletSummary("0xBot", 0, None, None), NOW, cfg)
    assert (bot.reason, bot.metric_value, bot.threshold, bot.counter) == (
        "KNOWN_BOT",
        1.0,
        0.0,
        "stage1_other",
    )
    assert stage1(summary(wallet="0xbot"), NOW, cfg).passed


def test_future_trades_never_give_negative_days():
    """A last trade in the future counts as 0 days since last trade."""
    s = WalletSummary("0xw", 20, 100, -5)
    assert days_since_last(s) == 0
    assert stage1(s, NOW, CFG).passed


# -- Stage 2 ----------------------------------------------------------------------------------

BASE = Features(
    trade_count=30,
    unique_markets=5,
    avg_position_size=10.0,
    win_count=3,
    loss_count=7,
    total_pnl=0.0,
    trades_per_week=30 / (180 / 7),
    trades_per_day=30 / 180,
    concentration_ratio=0.5,
    top_domain="Sports",
    top_domain_ratio=0.5,
)


def decide(age=100, cfg=CFG, **kw):
    return classify(replace(BASE, **kw), age, cfg)


def test_base_wallet_is_unclassified():
    """The base feature vector matches no rule."""
    d = decide()
    assert (d.kind, d.counter) == ("unclassified", "unclassified")


def test_sniper_needs_all_three_conditions():
    """SNIPER_INSIDER: age < 30, win_rate > 0.85, trade_count < 20."""
    kw = {"win_count": 9, "loss_count": 1, "trade_count": 19}
    d = decide(age=29, **kw)
    assert (d.label, d.value, d.threshold) == ("SNIPER_INSIDER", 0.9, 0.85)
    assert decide(age=30, **kw).label != "SNIPER_INSIDER"
    assert decide(age=29, **{**kw, "trade_count": 20}).label != "SNIPER_INSIDER"
    assert decide(age=29, **{**kw, "win_count": 85, "loss_count": 15}).label != "SNIPER_INSIDER"


def test_noise_trader_boundaries():
    """NOISE_TRADER: trades_per_week > 50 strictly and |roi| < 0.02 strictly."""
    tpw = 50.0 + 1e-9
    d = decide(trades_per_week=tpw, total_pnl=0.0)
    assert (d.label, d.value, d.threshold) == ("NOISE_TRADER", tpw, 50.0)
    assert decide(trades_per_week=50.0).label != "NOISE_TRADER"
    notional = BASE.trade_count * BASE.avg_position_size
    assert decide(trades_per_week=tpw, total_pnl=0.02 * notional).label != "NOISE_TRADER"
    assert decide(trades_per_week=tpw, total_pnl=-0.019 * notional).label == "NOISE_TRADER"


def test_news_sniper_is_strictly_above_threshold():
    """NEWS_SNIPER: burstiness > 0.70; exactly 0.70 does not fire."""
    d = decide(burstiness_top_1h_ratio=0.71)
    assert (d.label, d.value, d.threshold) == ("NEWS_SNIPER", 0.71, 0.70)
    assert decide(burstiness_top_1h_ratio=0.70).kind == "unclassified"


def test_liquidity_provider_at_its_thresholds():
    """LIQUIDITY_PROVIDER fires at balance 0.45 and mid fills 0.60 exactly; threshold 0.0."""
    d = decide(buy_sell_balance=0.45, mid_fill_ratio=0.60)
    assert (d.label, d.value, d.threshold) == ("LIQUIDITY_PROVIDER", 0.60, 0.0)
    assert decide(buy_sell_balance=0.44, mid_fill_ratio=0.60).kind == "unclassified"
    assert decide(buy_sell_balance=0.45, mid_fill_ratio=0.59).kind == "unclassified"


def test_bot_swarm_at_its_thresholds():
    """BOT_SWARM_MICRO: trades_per_day >= 200 and avg size <= 5 (not a noise trader: roi high)."""
    kw = {
        "trades_per_day": 200.0,
        "trades_per_week": 1400.0,
        "avg_position_size": 5.0,
        "total_pnl": 10_000.0,
    }
    d = decide(**kw)
    assert (d.label, d.value, d.threshold) == ("BOT_SWARM_MICRO", 200.0, 0.0)
    assert decide(**{**kw, "avg_position_size": 5.01}).label != "BOT_SWARM_MICRO"


def test_tail_risk_seller_uses_loss_ratio():
    """TAIL_RISK_SELLER: win_rate > 0.8 and loss_ratio > 5 (metric win_rate, threshold 5)."""
    f = replace(
        BASE,
        win_count=9,
        loss_count=1,
        max_drawdown_pct=100.0,
        avg_position_size=60.0,
        total_pnl=90.0,
        concentration_ratio=0.0,
    )
    # avg_win = max(90, 1) / 9 = 10; max_loss = 100 * 60 / 100 = 60; ratio 6
    assert loss_ratio(f) == 6.0
    d = classify(f, 100, CFG)
    assert (d.label, d.value, d.threshold) == ("TAIL_RISK_SELLER", 0.9, 5.0)
    assert classify(replace(f, avg_position_size=50.0), 100, CFG).label != "TAIL_RISK_SELLER"


def test_loss_ratio_without_wins_uses_one():
    """avg_win is 1.0 without wins."""
    f = replace(BASE, win_count=0, max_drawdown_pct=10.0, avg_position_size=20.0)
    assert loss_ratio(f) == 2.0


def test_jackpot_gambler_boundaries():
    """JACKPOT_GAMBLER: concentration >= 0.60 and win_rate <= 0.45 (inclusive both)."""
    d = decide(concentration_ratio=0.60, win_count=45, loss_count=55)
    assert (d.label, d.value, d.threshold) == ("JACKPOT_GAMBLER", 0.60, 0.0)
    assert decide(concentration_ratio=0.60, win_count=46, loss_count=54).label != "JACKPOT_GAMBLER"


def test_exclusions_take_precedence_in_order():
    """A wallet matching NEWS_SNIPER and LIQUIDITY_PROVIDER is a NEWS_SNIPER."""
    d = decide(burstiness_top_1h_ratio=0.9, buy_sell_balance=1.0, mid_fill_ratio=1.0)
    assert d.label == "NEWS_SNIPER"


def specialist(**kw):
    base = {
        "active_positions": 5,
        "concentration_ratio": 0.60,
        "win_count": 6,
        "loss_count": 4,
        "total_pnl": 30.0,
    }
    return decide(**{**base, **kw})


def test_informed_specialist_boundaries_and_confidence():
    """INFORMED_SPECIALIST at 5 positions, concentration 0.60, win rate 0.60 (= confidence)."""
    d = specialist()
    assert (d.kind, d.label, d.value) == ("suitable", "INFORMED_SPECIALIST", 0.6)
    assert specialist(active_positions=6).kind == "unclassified"
    assert specialist(win_count=59, loss_count=41).kind == "unclassified"


def test_roi_gate_turns_a_persona_into_insufficient_pnl():
    """roi < stage2_min_roi writes INSUFFICIENT_PNL (metric roi, threshold the minimum)."""
    # roi = 8.9 / (30 * 10) < 0.03
    d = specialist(total_pnl=8.9)
    assert (d.kind, d.label, d.threshold) == ("excluded", "INSUFFICIENT_PNL", 0.03)
    assert d.value == pytest.approx(8.9 / 300)
    assert specialist(total_pnl=9.0).kind == "suitable"  # roi exactly 0.03 passes


def test_consistent_generalist_boundaries():
    """CONSISTENT_GENERALIST: 20 markets, 0.52 <= win rate <= 0.60, drawdown <= 15, sharpe >= 1."""
    kw = {
        "unique_markets": 20,
        "win_count": 52,
        "loss_count": 48,
        "max_drawdown_pct": 15.0,
        "sharpe_ratio": 1.0,
        "total_pnl": 100.0,
    }
    assert decide(**kw).label == "CONSISTENT_GENERALIST"
    assert decide(**{**kw, "win_count": 60, "loss_count": 40}).label == "CONSISTENT_GENERALIST"
    assert decide(**{**kw, "win_count": 51, "loss_count": 49}).kind == "unclassified"
    assert decide(**{**kw, "unique_markets": 19}).kind == "unclassified"
    assert decide(**{**kw, "max_drawdown_pct": 15.01}).kind == "unclassified"
    assert decide(**{**kw, "sharpe_ratio": 0.99}).kind == "unclassified"


def test_patient_accumulator_boundaries():
    """PATIENT_ACCUMULATOR: hold >= 48 h, <= 5 trades/week, roi >= 0.05."""
    kw = {"avg_hold_time_hours": 48.0, "trades_per_week": 5.0, "total_pnl": 15.0}
    assert decide(**kw).label == "PATIENT_ACCUMULATOR"  # roi = 15 / 300 = 0.05
    assert decide(**{**kw, "avg_hold_time_hours": 47.9}).kind == "unclassified"
    assert decide(**{**kw, "total_pnl": 14.9}).kind == "unclassified"


def test_win_rate_and_roi_without_pairs_or_notional_are_zero():
    """win_rate is 0 without pairs; roi is 0 without trades or notional, negative on a loss."""
    assert win_rate(replace(BASE, win_count=0, loss_count=0)) == 0.0
    assert roi(replace(BASE, trade_count=0)) == 0.0
    assert roi(replace(BASE, avg_position_size=0.0, total_pnl=5.0)) == 0.0
    assert roi(replace(BASE, total_pnl=-30.0)) == -0.1


def test_traits_thresholds_and_deletions():
    """TOPIC_LANE at 0.65, BONDER at 0.60, WHALE at 100: set at the threshold, deleted below."""
    at = replace(BASE, top_domain_ratio=0.65, extreme_price_ratio=0.60, avg_position_size=100.0)
    assert traits(at, CFG) == (
        TraitChange("TOPIC_LANE", "Sports"),
        TraitChange("BONDER", "1"),
        TraitChange("WHALE", "1"),
    )
    below = replace(BASE, top_domain_ratio=0.64, extreme_price_ratio=0.59, avg_position_size=99.9)
    assert traits(below, CFG) == (
        TraitChange("TOPIC_LANE", None),
        TraitChange("BONDER", None),
        TraitChange("WHALE", None),
    )


def test_topic_lane_left_alone_without_top_domain():
    """Ratio passes (threshold 0) but no window trades: TOPIC_LANE is neither set nor deleted."""
    cfg = PersonaConfig(topic_lane_min_top_domain_ratio=0.0)
    keys = [c.key for c in traits(Features(), cfg)]
    assert keys == ["BONDER", "WHALE"]
