"""A second, deliberately plain implementation of SPEC sections 1 to 6, for tests only.

It reads ../shared/SPEC.md and nothing of ``classifier/``: one wallet at a time, a few simple
queries per wallet and Python loops. ``run_oracle`` writes the four output tables exactly as
SPEC says (job_status included), so the test suite can compare them row for row with the real
classifier's. Where SPEC is open, the reading taken is listed in ``docs/oracle.md``.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from tests.oracle.oracle_features import FeatureError, compute_features

JOB_NAME = "persona_classification"
DAY = 86400

# SPEC section 6: defaults when no file is given (in a file, all but four keys are required)
DEFAULTS: dict[str, Any] = {
    "stage1_min_wallet_age_days": 45,
    "stage1_min_total_trades": 10,
    "stage1_max_inactive_days": 45,
    "known_bots": [],
    "parallel_enabled": True,
    "parallel_tasks": 8,
    "specialist_max_active_positions": 5,
    "specialist_min_concentration": 0.60,
    "specialist_min_win_rate": 0.60,
    "generalist_min_markets": 20,
    "generalist_min_win_rate": 0.52,
    "generalist_max_win_rate": 0.60,
    "generalist_max_drawdown": 15.0,
    "generalist_min_sharpe": 1.0,
    "accumulator_min_hold_hours": 48.0,
    "accumulator_max_trades_per_week": 5.0,
    "accumulator_min_roi": 0.05,
    "execution_master_pnl_ratio": 0.70,
    "tail_risk_min_win_rate": 0.80,
    "tail_risk_loss_multiplier": 5.0,
    "noise_max_trades_per_week": 50.0,
    "noise_max_abs_roi": 0.02,
    "sniper_max_age_days": 30,
    "sniper_min_win_rate": 0.85,
    "sniper_max_trades": 20,
    "trust_30_90_multiplier": 0.8,
    "obscurity_bonus_multiplier": 1.2,
    "news_sniper_max_burstiness_top_1h_ratio": 0.70,
    "liquidity_provider_min_buy_sell_balance": 0.45,
    "liquidity_provider_min_mid_fill_ratio": 0.60,
    "bot_swarm_min_trades_per_day": 200.0,
    "bot_swarm_max_avg_trade_size_usdc": 5.0,
    "jackpot_min_pnl_top1_share": 0.60,
    "jackpot_max_win_rate": 0.45,
    "topic_lane_min_top_domain_ratio": 0.65,
    "bonder_min_extreme_price_ratio": 0.60,
    "whale_min_avg_trade_size_usdc": 100.0,
    "stage2_min_roi": 0.03,
    "chunk_size": 100,
    "window_days": 180,
}

# SPEC section 1, output tables "with the constraints shown"
OUTPUT_DDL = (
    """CREATE TABLE IF NOT EXISTS wallet_personas (
        id INTEGER PRIMARY KEY AUTOINCREMENT, proxy_wallet TEXT NOT NULL, persona TEXT NOT NULL,
        confidence REAL NOT NULL, feature_values_json TEXT, classified_at TEXT NOT NULL,
        UNIQUE(proxy_wallet, classified_at))""",
    """CREATE TABLE IF NOT EXISTS wallet_exclusions (
        id INTEGER PRIMARY KEY AUTOINCREMENT, proxy_wallet TEXT NOT NULL, reason TEXT NOT NULL,
        metric_value REAL, threshold REAL, excluded_at TEXT NOT NULL,
        UNIQUE(proxy_wallet, reason))""",
    """CREATE TABLE IF NOT EXISTS wallet_persona_traits (
        id INTEGER PRIMARY KEY AUTOINCREMENT, proxy_wallet TEXT NOT NULL,
        trait_key TEXT NOT NULL, trait_value TEXT NOT NULL, computed_at TEXT NOT NULL,
        UNIQUE(proxy_wallet, trait_key))""",
    """CREATE TABLE IF NOT EXISTS job_status (
        job_name TEXT PRIMARY KEY, status TEXT NOT NULL, last_run_at TEXT,
        duration_ms INTEGER, last_error TEXT, metadata TEXT, updated_at TEXT NOT NULL)""",
)


class OracleAbort(Exception):
    """The run stopped at the chunk of an active wallet that is not valid text (SPEC 2.7)."""


COUNTERS = (
    "processed",
    "stage1_no_trades",
    "stage1_other",
    "stage2_excluded",
    "suitable",
    "unclassified",
    "errors",
)


def effective_config(config: dict[str, Any]) -> dict[str, Any]:
    """The [personas] values with SPEC's optional keys filled in (no validation: tests only)."""
    cfg = dict(DEFAULTS)
    cfg["stage2_min_roi"] = 0.0  # absent from a file means 0.0, not 0.03 (SPEC section 6)
    cfg.update(config)
    if "topic_lane_min_top_category_ratio" in config:
        cfg["topic_lane_min_top_domain_ratio"] = config["topic_lane_min_top_category_ratio"]
    return cfg


def format_ts(now: int) -> str:
    """The run's timestamp in the row tables: `now` as 'YYYY-MM-DD HH:MM:SS.000' UTC."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now)) + ".000"


def format_status_ts(now: int) -> str:
    """The run's timestamp in job_status: 'YYYY-MM-DD HH:MM:SS' UTC (SPEC 2.1)."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now))


def stage1(
    wallet: str, total: int, first: int | None, last: int | None, cfg: dict[str, Any]
) -> tuple[str, float, float, int] | None:
    """The first failing Stage-1 check as (reason, metric, threshold, age_days), else None.

    `first`/`last` are SQLite's whole days since the first/last trade, None when NULL.
    """
    age_days = max(0, first or 0)
    since_last = 2147483647 if last is None else min(max(0, last), 2147483647)
    if wallet in cfg["known_bots"]:
        return ("KNOWN_BOT", 1.0, 0.0, age_days)
    if age_days < cfg["stage1_min_wallet_age_days"]:
        return ("STAGE1_TOO_YOUNG", age_days, cfg["stage1_min_wallet_age_days"], age_days)
    if total < cfg["stage1_min_total_trades"]:
        return ("STAGE1_TOO_FEW_TRADES", total, cfg["stage1_min_total_trades"], age_days)
    if since_last > cfg["stage1_max_inactive_days"]:
        return ("STAGE1_INACTIVE", since_last, cfg["stage1_max_inactive_days"], age_days)
    return None


def stage2_exclusion(
    f: dict[str, Any], age_days: int, cfg: dict[str, Any]
) -> tuple[str, float, float] | None:
    """SPEC section 5 exclusions 1 to 7, first match: (reason, metric_value, threshold)."""
    win_rate = f["win_rate"]
    if (
        age_days < cfg["sniper_max_age_days"]
        and win_rate > cfg["sniper_min_win_rate"]
        and f["trade_count"] < cfg["sniper_max_trades"]
    ):
        return ("SNIPER_INSIDER", win_rate, cfg["sniper_min_win_rate"])
    if (
        f["trades_per_week"] > cfg["noise_max_trades_per_week"]
        and abs(f["roi"]) < cfg["noise_max_abs_roi"]
    ):
        return ("NOISE_TRADER", f["trades_per_week"], cfg["noise_max_trades_per_week"])
    burst = f["burstiness_top_1h_ratio"]
    if burst > cfg["news_sniper_max_burstiness_top_1h_ratio"]:
        return ("NEWS_SNIPER", burst, cfg["news_sniper_max_burstiness_top_1h_ratio"])
    if (
        f["buy_sell_balance"] >= cfg["liquidity_provider_min_buy_sell_balance"]
        and f["mid_fill_ratio"] >= cfg["liquidity_provider_min_mid_fill_ratio"]
    ):
        return ("LIQUIDITY_PROVIDER", f["mid_fill_ratio"], 0.0)
    if (
        f["trades_per_day"] >= cfg["bot_swarm_min_trades_per_day"]
        and f["avg_trade_size_usdc"] <= cfg["bot_swarm_max_avg_trade_size_usdc"]
    ):
        return ("BOT_SWARM_MICRO", f["trades_per_day"], 0.0)
    wins = f["win_count"]
    avg_win = max(f["total_pnl"], 1.0) / wins if wins > 0 else 1.0
    max_loss = f["max_drawdown_pct"] * f["avg_position_size"] / 100
    loss_ratio = max_loss / avg_win if avg_win > 0 else 0.0
    if win_rate > cfg["tail_risk_min_win_rate"] and loss_ratio > cfg["tail_risk_loss_multiplier"]:
        return ("TAIL_RISK_SELLER", win_rate, cfg["tail_risk_loss_multiplier"])
    if (
        f["concentration_ratio"] >= cfg["jackpot_min_pnl_top1_share"]
        and win_rate <= cfg["jackpot_max_win_rate"]
    ):
        return ("JACKPOT_GAMBLER", f["concentration_ratio"], 0.0)
    return None


def persona(f: dict[str, Any], cfg: dict[str, Any]) -> str | None:
    """SPEC section 5 personas 8 to 10, first match (before the ROI gate), else None."""
    pairs = f["win_count"] + f["loss_count"]
    wr = f["win_rate"]
    if (
        f["active_positions"] <= cfg["specialist_max_active_positions"]
        and f["concentration_ratio"] >= cfg["specialist_min_concentration"]
        and pairs > 0
        and wr >= cfg["specialist_min_win_rate"]
    ):
        return "INFORMED_SPECIALIST"
    if (
        f["unique_markets"] >= cfg["generalist_min_markets"]
        and pairs > 0
        and cfg["generalist_min_win_rate"] <= wr <= cfg["generalist_max_win_rate"]
        and f["max_drawdown_pct"] <= cfg["generalist_max_drawdown"]
        and f["sharpe_ratio"] >= cfg["generalist_min_sharpe"]
    ):
        return "CONSISTENT_GENERALIST"
    if (
        f["avg_hold_time_hours"] >= cfg["accumulator_min_hold_hours"]
        and f["trades_per_week"] <= cfg["accumulator_max_trades_per_week"]
        and f["roi"] >= cfg["accumulator_min_roi"]
    ):
        return "PATIENT_ACCUMULATOR"
    return None


def _upsert_exclusion(
    conn: sqlite3.Connection, wallet: str, reason: str, metric: float, thr: float, ts: str
) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO wallet_exclusions"
        " (proxy_wallet, reason, metric_value, threshold, excluded_at) VALUES (?, ?, ?, ?, ?)",
        (wallet, reason, float(metric), float(thr), ts),
    )


def _set_trait(conn: sqlite3.Connection, wallet: str, key: str, value: str | None, ts: str) -> None:
    """Upsert the trait (id kept, computed_at refreshed), or delete it when value is None."""
    if value is None:
        conn.execute(
            "DELETE FROM wallet_persona_traits WHERE proxy_wallet = ? AND trait_key = ?",
            (wallet, key),
        )
        return
    conn.execute(
        "INSERT INTO wallet_persona_traits (proxy_wallet, trait_key, trait_value, computed_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT(proxy_wallet, trait_key) DO UPDATE SET"
        " trait_value = excluded.trait_value, computed_at = excluded.computed_at",
        (wallet, key, value, ts),
    )


def _stage2(
    conn: sqlite3.Connection, wallet: str, f: dict[str, Any], age_days: int, cfg: dict, ts: str
) -> str:
    """Traits, then exclusions, then personas; returns the counter to bump."""
    if f["top_domain_ratio"] >= cfg["topic_lane_min_top_domain_ratio"]:
        if f["top_domain"] is not None:  # no top domain: leave the trait as it is
            _set_trait(conn, wallet, "TOPIC_LANE", f["top_domain"], ts)
    else:
        _set_trait(conn, wallet, "TOPIC_LANE", None, ts)
    bonder = f["extreme_price_ratio"] >= cfg["bonder_min_extreme_price_ratio"]
    _set_trait(conn, wallet, "BONDER", "1" if bonder else None, ts)
    whale = f["avg_trade_size_usdc"] >= cfg["whale_min_avg_trade_size_usdc"]
    _set_trait(conn, wallet, "WHALE", "1" if whale else None, ts)

    excl = stage2_exclusion(f, age_days, cfg)
    if excl is not None:
        _upsert_exclusion(conn, wallet, excl[0], excl[1], excl[2], ts)
        return "stage2_excluded"
    name = persona(f, cfg)
    if name is None:
        return "unclassified"
    if f["roi"] < cfg["stage2_min_roi"]:
        _upsert_exclusion(conn, wallet, "INSUFFICIENT_PNL", f["roi"], cfg["stage2_min_roi"], ts)
        return "stage2_excluded"
    conn.execute(
        "INSERT OR REPLACE INTO wallet_personas"
        " (proxy_wallet, persona, confidence, feature_values_json, classified_at)"
        " VALUES (?, ?, ?, NULL, ?)",
        (wallet, name, float(f["win_rate"]), ts),
    )
    return "suitable"


def _write_status(
    conn: sqlite3.Connection, status: str, ts: str, meta: dict[str, Any], duration: int | None
) -> None:
    ts = ts.removesuffix(".000")  # job_status carries no milliseconds
    conn.execute(
        "INSERT OR REPLACE INTO job_status (job_name, status, last_run_at, duration_ms,"
        " last_error, metadata, updated_at) VALUES (?, ?, ?, ?, NULL, ?, ?)",
        (JOB_NAME, status, ts, duration, json.dumps(meta), ts),
    )


def run_oracle(db_path: Path, now: int, config: dict[str, Any]) -> None:
    """Classify every active wallet of `db_path` at `now`, writing SPEC's four output tables."""
    started = time.monotonic()
    cfg = effective_config(config)
    ts = format_ts(now)
    conn = sqlite3.connect(str(db_path), isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        for ddl in OUTPUT_DDL:
            conn.execute(ddl)
        _run(conn, now, cfg, ts, started)
    finally:
        conn.close()


def _run(conn: sqlite3.Connection, now: int, cfg: dict[str, Any], ts: str, started: float) -> None:
    # A wallet that is not valid text stops the run at its chunk (SPEC 2.7): read as bytes.
    listed = conn.execute(
        "SELECT typeof(proxy_wallet), CAST(proxy_wallet AS BLOB) FROM wallets"
        " WHERE is_active = 1 ORDER BY proxy_wallet"
    ).fetchall()
    wallets: list[str] = []
    bad_at = None
    for i, (kind, raw) in enumerate(listed):
        try:
            if kind != "text":
                raise ValueError(kind)
            wallets.append(raw.decode("utf-8"))
        except ValueError:
            bad_at = i
            break
    if bad_at is not None:
        wallets = wallets[: bad_at - bad_at % cfg["chunk_size"]]
    # SPEC 3: SQLite's MIN/MAX over every storage class, then julianday arithmetic
    now_text = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now))
    summaries = {}
    for w in wallets:
        summaries[w] = conn.execute(
            "SELECT COUNT(*), CAST(julianday(?) - julianday(datetime(MIN(timestamp),"
            " 'unixepoch')) AS INTEGER), CAST(julianday(?) - julianday(datetime(MAX(timestamp),"
            " 'unixepoch')) AS INTEGER) FROM trades_raw WHERE proxy_wallet = ?",
            (now_text, now_text, w),
        ).fetchone()
    if not listed:
        _write_status(conn, "idle", ts, {"classified": 0, "skipped": "no wallets"}, 0)
        return
    min_trades = cfg["stage1_min_total_trades"]
    (ready,) = conn.execute(  # over every active row, readable or not
        "SELECT COUNT(*) FROM wallets w WHERE is_active = 1"
        " AND (SELECT COUNT(*) FROM trades_raw t WHERE t.proxy_wallet = w.proxy_wallet) >= ?"
        " AND (SELECT MIN(timestamp) FROM trades_raw t WHERE t.proxy_wallet = w.proxy_wallet)"
        " <= ?",
        (min_trades, now - 604800),
    ).fetchone()
    if not ready:
        meta = {
            "classified": 0,
            "skipped": "insufficient trade history",
            "total_wallets": len(listed),
            "min_trades_required": min_trades,
            "min_tracking_days": 7,
        }
        _write_status(conn, "idle", ts, meta, 0)
        return

    _write_status(conn, "running", ts, {}, None)
    counts = dict.fromkeys(COUNTERS, 0)
    chunk = cfg["chunk_size"]
    for start in range(0, len(wallets), chunk):
        conn.execute("BEGIN IMMEDIATE")
        for w in wallets[start : start + chunk]:
            _one_wallet(conn, w, summaries[w], now, cfg, ts, counts)
        meta = {**counts, "total": len(listed), "phase": "classifying"}
        conn.execute(
            "UPDATE job_status SET metadata = ?, updated_at = ? WHERE job_name = ?",
            (json.dumps(meta), format_status_ts(now), JOB_NAME),
        )
        conn.execute("COMMIT")
    if bad_at is not None:
        conn.execute(
            "UPDATE job_status SET status = 'failed', last_error = ? WHERE job_name = ?",
            (f"active wallet {bad_at + 1} cannot be read as text", JOB_NAME),
        )
        raise OracleAbort(bad_at)
    meta = {**counts, "total": len(listed), "classified": counts["processed"], "completed": True}
    duration = int((time.monotonic() - started) * 1000)
    conn.execute(
        "UPDATE job_status SET status = 'idle', duration_ms = ?, metadata = ?, updated_at = ?"
        " WHERE job_name = ?",
        (duration, json.dumps(meta), format_status_ts(now), JOB_NAME),
    )


def _one_wallet(
    conn: sqlite3.Connection,
    wallet: str,
    summary: tuple[int, Any, Any],
    now: int,
    cfg: dict[str, Any],
    ts: str,
    counts: dict[str, int],
) -> None:
    total, first, last = summary
    failed = stage1(wallet, total, first, last, cfg)
    if failed is not None:
        reason, metric, thr, _ = failed
        _upsert_exclusion(conn, wallet, reason, metric, thr, ts)
        no_trades = total == 0 and reason != "KNOWN_BOT"
        counts["stage1_no_trades" if no_trades else "stage1_other"] += 1
        counts["processed"] += 1
        return
    age_days = max(0, first or 0)
    conn.execute(
        "DELETE FROM wallet_exclusions WHERE proxy_wallet = ? AND reason LIKE 'STAGE1_%'",
        (wallet,),
    )
    try:
        f = compute_features(conn, wallet, now, cfg["window_days"])
    except FeatureError:
        counts["errors"] += 1
        return
    outcome = _stage2(conn, wallet, f, age_days, cfg, ts)
    counts[outcome] += 1
    if outcome != "unclassified":
        counts["processed"] += 1
