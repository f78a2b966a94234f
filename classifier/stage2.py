"""Stage 2 (SPEC section 5): features -> traits, then an exclusion, a persona or nothing. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from classifier.config import PersonaConfig
from classifier.features import Features


@dataclass(frozen=True, slots=True)
class TraitChange:
    """Upsert ``key`` with ``value``, or delete it when ``value`` is None."""

    key: str
    value: str | None


@dataclass(frozen=True, slots=True)
class Decision:
    """What to write for a wallet that reached Stage 2.

    ``kind`` is "excluded" (``label`` is the reason), "suitable" (``label`` is the persona,
    ``value`` its confidence) or "unclassified".
    """

    traits: tuple[TraitChange, ...]
    kind: str
    label: str | None = None
    value: float | None = None
    threshold: float | None = None

    @property
    def counter(self) -> str:
        return {"excluded": "stage2_excluded"}.get(self.kind, self.kind)


def win_rate(f: Features) -> float:
    """win / (win + loss), 0 without pairs."""
    return f.win_count / f.pairs if f.pairs else 0.0


def roi(f: Features) -> float:
    """total_pnl over the traded notional, 0 without trades or notional."""
    if f.trade_count > 0 and f.avg_position_size > 0:
        return f.total_pnl / (f.trade_count * f.avg_position_size)
    return 0.0


def loss_ratio(f: Features) -> float:
    """Worst drawdown in money over the average win (TAIL_RISK_SELLER)."""
    avg_win = max(f.total_pnl, 1.0) / f.win_count if f.win_count > 0 else 1.0
    max_loss = f.max_drawdown_pct * f.avg_position_size / 100
    return max_loss / avg_win if avg_win > 0 else 0.0


def traits(f: Features, cfg: PersonaConfig) -> tuple[TraitChange, ...]:
    """TOPIC_LANE, BONDER and WHALE, in that order (the order decides new rows' ids)."""
    changes: list[TraitChange] = []
    if f.top_domain_ratio >= cfg.topic_lane_min_top_domain_ratio:
        if f.top_domain is not None:  # no top domain: leave the trait as it is
            changes.append(TraitChange("TOPIC_LANE", f.top_domain))
    else:
        changes.append(TraitChange("TOPIC_LANE", None))
    bonder = f.extreme_price_ratio >= cfg.bonder_min_extreme_price_ratio
    changes.append(TraitChange("BONDER", "1" if bonder else None))
    whale = f.avg_trade_size_usdc >= cfg.whale_min_avg_trade_size_usdc
    changes.append(TraitChange("WHALE", "1" if whale else None))
    return tuple(changes)


def _exclusion(f: Features, age_days: int, cfg: PersonaConfig) -> tuple[str, float, float] | None:
    """The first matching exclusion as (reason, metric_value, threshold), or None."""
    wr, r = win_rate(f), roi(f)
    if (
        age_days < cfg.sniper_max_age_days
        and wr > cfg.sniper_min_win_rate
        and f.trade_count < cfg.sniper_max_trades
    ):
        return "SNIPER_INSIDER", wr, cfg.sniper_min_win_rate
    if f.trades_per_week > cfg.noise_max_trades_per_week and abs(r) < cfg.noise_max_abs_roi:
        return "NOISE_TRADER", f.trades_per_week, cfg.noise_max_trades_per_week
    if f.burstiness_top_1h_ratio > cfg.news_sniper_max_burstiness_top_1h_ratio:
        return (
            "NEWS_SNIPER",
            f.burstiness_top_1h_ratio,
            cfg.news_sniper_max_burstiness_top_1h_ratio,
        )
    if (
        f.buy_sell_balance >= cfg.liquidity_provider_min_buy_sell_balance
        and f.mid_fill_ratio >= cfg.liquidity_provider_min_mid_fill_ratio
    ):
        return "LIQUIDITY_PROVIDER", f.mid_fill_ratio, 0.0
    if (
        f.trades_per_day >= cfg.bot_swarm_min_trades_per_day
        and f.avg_trade_size_usdc <= cfg.bot_swarm_max_avg_trade_size_usdc
    ):
        return "BOT_SWARM_MICRO", f.trades_per_day, 0.0
    if wr > cfg.tail_risk_min_win_rate and loss_ratio(f) > cfg.tail_risk_loss_multiplier:
        return "TAIL_RISK_SELLER", wr, cfg.tail_risk_loss_multiplier
    if f.concentration_ratio >= cfg.jackpot_min_pnl_top1_share and wr <= cfg.jackpot_max_win_rate:
        return "JACKPOT_GAMBLER", f.concentration_ratio, 0.0
    return None


def _persona(f: Features, cfg: PersonaConfig) -> str | None:
    """The first matching persona, before the ROI gate."""
    wr = win_rate(f)
    if (
        f.active_positions <= cfg.specialist_max_active_positions
        and f.concentration_ratio >= cfg.specialist_min_concentration
        and f.pairs > 0
        and wr >= cfg.specialist_min_win_rate
    ):
        return "INFORMED_SPECIALIST"
    if (
        f.unique_markets >= cfg.generalist_min_markets
        and f.pairs > 0
        and cfg.generalist_min_win_rate <= wr <= cfg.generalist_max_win_rate
        and f.max_drawdown_pct <= cfg.generalist_max_drawdown
        and f.sharpe_ratio >= cfg.generalist_min_sharpe
    ):
        return "CONSISTENT_GENERALIST"
    if (
        f.avg_hold_time_hours >= cfg.accumulator_min_hold_hours
        and f.trades_per_week <= cfg.accumulator_max_trades_per_week
        and roi(f) >= cfg.accumulator_min_roi
    ):
        return "PATIENT_ACCUMULATOR"
    return None


def classify(f: Features, age_days: int, cfg: PersonaConfig) -> Decision:
    """Traits first, then the exclusions, then the personas behind the ROI gate."""
    changes = traits(f, cfg)
    excluded = _exclusion(f, age_days, cfg)
    if excluded is not None:
        reason, metric, threshold = excluded
        return Decision(changes, "excluded", reason, metric, threshold)
    persona = _persona(f, cfg)
    if persona is None:
        return Decision(changes, "unclassified")
    r = roi(f)
    if r < cfg.stage2_min_roi:
        return Decision(changes, "excluded", "INSUFFICIENT_PNL", r, cfg.stage2_min_roi)
    return Decision(changes, "suitable", persona, win_rate(f))
