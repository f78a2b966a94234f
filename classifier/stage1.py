"""Stage 1: the all-time trade summary of one wallet -> excluded (with a reason) or passed.

Pure: no SQL here. ``store.stage1_summaries`` builds the summaries, set-based, a chunk at a time,
and computes the two day counts in SQL exactly as production does (SPEC 3): SQLite's ``MIN`` and
``MAX`` over every storage class, then ``julianday`` arithmetic cast to an integer. Huge,
non-finite, text or blob timestamps give NULL there, never an exception here.
"""

from __future__ import annotations

from dataclasses import dataclass

from classifier.config import PersonaConfig

NO_TRADES_DAYS = 2_147_483_647  # days_since_last without a usable last trade (SPEC 3): i32::MAX


@dataclass(frozen=True, slots=True)
class WalletSummary:
    """All-time trade figures of one wallet: every ``trades_raw`` row counts.

    ``first_days``/``last_days`` are the raw SQL results for the first and last trade (whole
    days before ``now``, possibly negative), None when SQLite's date math gives NULL (no trades,
    or a first/last value that is not a time).
    """

    wallet: str
    total_trades: int  # counted up to the store's cap (the config's minimum): exact below it
    first_days: int | None
    last_days: int | None


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


def age_days(summary: WalletSummary) -> int:
    """Days since the first trade: 0 when NULL, never negative."""
    return max(0, summary.first_days or 0)


def days_since_last(summary: WalletSummary) -> int:
    """Days since the last trade: 2147483647 when NULL, clamped to [0, 2147483647]."""
    if summary.last_days is None:
        return NO_TRADES_DAYS
    return min(max(0, summary.last_days), NO_TRADES_DAYS)


def stage1(summary: WalletSummary, now: int, cfg: PersonaConfig) -> Stage1Outcome:
    """Apply the Stage 1 checks in SPEC order; the first failing one wins.

    ``now`` is not used: the summary's day counts were computed against it in SQL.
    """
    age = age_days(summary)
    counter = "stage1_no_trades" if summary.total_trades == 0 else "stage1_other"

    def excluded(reason: str, metric: float, threshold: float, ctr: str = counter) -> Stage1Outcome:
        return Stage1Outcome(summary.wallet, age, reason, float(metric), float(threshold), ctr)

    if summary.wallet in cfg.known_bots_set:
        return excluded("KNOWN_BOT", 1.0, 0.0, "stage1_other")
    if age < cfg.stage1_min_wallet_age_days:
        return excluded("STAGE1_TOO_YOUNG", age, cfg.stage1_min_wallet_age_days)
    if summary.total_trades < cfg.stage1_min_total_trades:
        return excluded("STAGE1_TOO_FEW_TRADES", summary.total_trades, cfg.stage1_min_total_trades)
    inactive = days_since_last(summary)
    if inactive > cfg.stage1_max_inactive_days:
        return excluded("STAGE1_INACTIVE", inactive, cfg.stage1_max_inactive_days)
    return Stage1Outcome(summary.wallet, age)
