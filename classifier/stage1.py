"""Stage 1: the all-time trade summary of one wallet -> excluded (with a reason) or passed.

Pure: no SQL here. ``store.stage1_summaries`` builds the summaries, set-based, a chunk at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from classifier.config import PersonaConfig

SECONDS_PER_DAY = 86_400
NO_TRADES_DAYS = 2_147_483_647  # days_since_last without trades (SPEC 3)


@dataclass(frozen=True, slots=True)
class WalletSummary:
    """All-time trade figures of one wallet: every ``trades_raw`` row counts."""

    wallet: str
    total_trades: int
    first_ts: float | None  # None without (numeric) trades
    last_ts: float | None


@dataclass(frozen=True, slots=True)
class Stage1Outcome:
    """What Stage 1 decided: ``reason`` is None when the wallet passed."""

    wallet: str
    age_days: int
    reason: str | None = None
    metric_value: float | None = None
    threshold: float | None = None
    counter: str | None = None  # "stage1_no_trades" | "stage1_other" when excluded

    @property
    def passed(self) -> bool:
        return self.reason is None


def age_days(summary: WalletSummary, now: int) -> int:
    """floor((now - first trade) / 86400), 0 without trades, never negative."""
    if summary.first_ts is None:
        return 0
    return max(0, math.floor((now - summary.first_ts) / SECONDS_PER_DAY))


def days_since_last(summary: WalletSummary, now: int) -> int:
    """floor((now - last trade) / 86400), never negative, 2147483647 without trades."""
    if summary.last_ts is None:
        return NO_TRADES_DAYS
    return max(0, math.floor((now - summary.last_ts) / SECONDS_PER_DAY))


def stage1(summary: WalletSummary, now: int, cfg: PersonaConfig) -> Stage1Outcome:
    """Apply the Stage 1 checks in SPEC order; the first failing one wins."""
    age = age_days(summary, now)
    counter = "stage1_no_trades" if summary.total_trades == 0 else "stage1_other"

    def excluded(reason: str, metric: float, threshold: float, ctr: str = counter) -> Stage1Outcome:
        return Stage1Outcome(summary.wallet, age, reason, float(metric), float(threshold), ctr)

    if summary.wallet in cfg.known_bots_set:
        return excluded("KNOWN_BOT", 1.0, 0.0, "stage1_other")
    if age < cfg.stage1_min_wallet_age_days:
        return excluded("STAGE1_TOO_YOUNG", age, cfg.stage1_min_wallet_age_days)
    if summary.total_trades < cfg.stage1_min_total_trades:
        return excluded("STAGE1_TOO_FEW_TRADES", summary.total_trades, cfg.stage1_min_total_trades)
    inactive = days_since_last(summary, now)
    if inactive > cfg.stage1_max_inactive_days:
        return excluded("STAGE1_INACTIVE", inactive, cfg.stage1_max_inactive_days)
    return Stage1Outcome(summary.wallet, age)
