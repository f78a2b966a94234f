"""The oracle's features (SPEC section 4) and the two Stage-2 ratios (section 5), per wallet.

Plain Python over the wallet's window trades for pairing, holds, balance and burstiness. What
SPEC defines as production's SQL computes it (the mean notional, per-market and per-domain size
sums, total_pnl, active_positions) comes from SQL here, so that SQLite's SUM(), AVG(), NaN-as-NULL
and ordering of storage classes apply as the production build applies them. Storage classes are
checked with typeof() and CAST(... AS BLOB) (SPEC 2.7).
"""

from __future__ import annotations

import math
import sqlite3
import time
from typing import Any

DAY = 86400


class FeatureError(Exception):
    """A window trade or the top domain is not what production's typed reads accept."""


def _text(kind: str, raw: bytes | None) -> str:
    """A value that must be TEXT and valid UTF-8 (SPEC 2.7), else FeatureError."""
    if kind != "text" or raw is None:
        raise FeatureError(f"not text: {kind}")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise FeatureError("text that is not valid UTF-8") from None


def _sum(conn: sqlite3.Connection, sql: str, args: tuple[Any, ...]) -> Any:
    """A SUM query; an integer overflow reads as 0.0, as in production."""
    try:
        return conn.execute(sql, args).fetchone()[0]
    except sqlite3.OperationalError as exc:
        if "overflow" not in str(exc):
            raise
        return 0.0


def _total_pnl(conn: sqlite3.Connection, wallet: str, cutoff_text: str) -> float:
    """Settled paper trades in the window win; otherwise the latest window snapshots."""
    (n,) = conn.execute(
        "SELECT COUNT(*) FROM paper_trades"
        " WHERE proxy_wallet = ? AND status != 'open' AND created_at >= ?",
        (wallet, cutoff_text),
    ).fetchone()
    if n > 0:
        pnl = _sum(
            conn,
            "SELECT SUM(pnl) FROM paper_trades"
            " WHERE proxy_wallet = ? AND status != 'open' AND created_at >= ?",
            (wallet, cutoff_text),
        )
        return 0.0 if pnl is None else float(pnl)
    snap = _sum(
        conn,
        "SELECT SUM(s.cash_pnl) FROM positions_snapshots s"
        " WHERE s.proxy_wallet = ? AND s.snapshot_at >= ?"
        " AND s.snapshot_at = (SELECT MAX(s2.snapshot_at) FROM positions_snapshots s2"
        "   WHERE s2.proxy_wallet = s.proxy_wallet AND s2.condition_id = s.condition_id"
        "   AND s2.snapshot_at >= ?)",
        (wallet, cutoff_text, cutoff_text),
    )
    return 0.0 if snap is None else float(snap)


def _pairs(rows: list[tuple]) -> list[tuple[int, float, int]]:
    """Count-based BUY/SELL pairing per market: (sell ts, pnl, hold seconds) per kept pair."""
    markets = sorted({r[1] for r in rows})
    out = []
    for market in markets:
        mine = sorted((r for r in rows if r[1] == market), key=lambda r: (r[5], r[0]))
        buys = [r for r in mine if r[2] == "BUY"]
        sells = [r for r in mine if r[2] == "SELL"]
        for buy, sell in zip(buys, sells, strict=False):
            size = min(buy[3], sell[3])
            if size <= 0:
                continue
            pnl = (sell[4] - buy[4]) * size
            out.append((sell[5], pnl, sell[5] - buy[5]))
    return out


def _drawdown_sharpe(closed: list[tuple[int, float, int]]) -> tuple[float, float]:
    day_pnl: dict[int, float] = {}
    for ts, pnl, _ in closed:
        day = int(ts / DAY) if ts < 0 else ts // DAY  # toward zero, as production divides
        day_pnl[day] = day_pnl.get(day, 0.0) + pnl
    days = sorted(day_pnl)
    equity = 0.0
    peak = 0.0
    max_dd = 0.0
    equities = []
    for d in days:
        equity += day_pnl[d]
        equities.append(equity)
        if equity > peak:
            peak = equity
        if peak > 0:
            max_dd = max(max_dd, 100 * (peak - equity) / peak)
    if len(days) < 2:
        return max_dd, 0.0
    returns = []
    for i in range(1, len(days)):
        prev = equities[i - 1]
        returns.append(day_pnl[days[i]] / prev if abs(prev) > 1e-12 else 0.0)
    mean = sum(returns) / len(returns)
    std = math.sqrt(sum((r - mean) ** 2 for r in returns) / len(returns))
    sharpe = 0.0 if std <= 1e-12 else mean / std * math.sqrt(252)
    return max_dd, sharpe


def compute_features(
    conn: sqlite3.Connection, wallet: str, now: int, window_days: int
) -> dict[str, Any]:
    """Every feature SPEC section 4 names, plus win_rate and roi (section 5)."""
    cutoff = now - window_days * DAY
    cutoff_text = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(cutoff))
    raw = conn.execute(
        "SELECT id, typeof(condition_id), CAST(condition_id AS BLOB), typeof(side),"
        " CAST(side AS BLOB), size, price, timestamp, typeof(size), typeof(price),"
        " typeof(timestamp)"
        " FROM trades_raw WHERE proxy_wallet = ? AND timestamp >= ? ORDER BY timestamp, id",
        (wallet, cutoff),
    ).fetchall()
    rows = []
    for r in raw:
        if r[8] not in ("integer", "real") or r[9] not in ("integer", "real"):
            raise FeatureError(f"trade {r[0]}: size or price is {r[8]}/{r[9]}")
        if r[10] != "integer":
            raise FeatureError(f"trade {r[0]}: timestamp is {r[10]}")
        rows.append((r[0], _text(r[1], r[2]), _text(r[3], r[4]), r[5], r[6], r[7]))
    n = len(rows)
    f: dict[str, Any] = {"trade_count": n, "unique_markets": len({r[1] for r in rows})}

    # the mean notional as SQLite's AVG computes it (a NaN product or mean is NULL)
    (mean_x,) = conn.execute(
        "SELECT COALESCE(AVG(size * price), 0.0) FROM trades_raw"
        " WHERE proxy_wallet = ? AND timestamp >= ?",
        (wallet, cutoff),
    ).fetchone()
    f["avg_position_size"] = f["avg_trade_size_usdc"] = mean_x
    values = [r[3] * r[4] for r in rows]
    mean_x2 = sum(v * v for v in values) / n if n else 0.0
    f["size_cv"] = math.sqrt(max(mean_x2 - mean_x**2, 0.0)) / mean_x if mean_x > 0 else 0.0

    closed = _pairs(rows)
    f["win_count"] = sum(1 for _, pnl, _ in closed if pnl > 0)
    f["loss_count"] = len(closed) - f["win_count"]
    holds = [h for _, _, h in closed]
    f["avg_hold_time_hours"] = sum(holds) / len(holds) / 3600 if holds else 0.0
    f["max_drawdown_pct"], f["sharpe_ratio"] = _drawdown_sharpe(closed)

    f["total_pnl"] = _total_pnl(conn, wallet, cutoff_text)
    (f["active_positions"],) = conn.execute(
        "SELECT COUNT(DISTINCT condition_id) FROM paper_positions WHERE proxy_wallet = ?",
        (wallet,),
    ).fetchone()

    # per-market size sums in SQL: a NaN sum is NULL, sorts last and is skipped by SUM
    market_sums = [
        v
        for (v,) in conn.execute(
            "SELECT SUM(size) FROM trades_raw WHERE proxy_wallet = ? AND timestamp >= ?"
            " GROUP BY condition_id ORDER BY condition_id",
            (wallet, cutoff),
        )
    ]
    known = [v for v in market_sums if v is not None]
    total_size = sum(known) if known else None
    top3 = sum(sorted(known, reverse=True)[:3])
    share = top3 / total_size if total_size is not None and total_size > 0 else 0.0
    f["concentration_ratio"] = 0.0 if math.isnan(share) else share

    buys = sum(1 for r in rows if r[2] == "BUY")
    sells = sum(1 for r in rows if r[2] == "SELL")
    f["buy_sell_balance"] = 1 - abs(buys - sells) / (buys + sells) if buys + sells else 0.0
    f["mid_fill_ratio"] = sum(1 for r in rows if abs(r[4] - 0.5) <= 0.05) / n if n else 0.0
    extreme = sum(1 for r in rows if r[4] >= 0.9 or r[4] <= 0.1)
    f["extreme_price_ratio"] = extreme / n if n else 0.0

    stamps = sorted(r[5] for r in rows)
    best = 0
    for i, t in enumerate(stamps):
        best = max(best, sum(1 for u in stamps[i:] if u - t <= 3600))
    f["burstiness_top_1h_ratio"] = best / n if n else 0.0

    # domains: the markets row's category, 'unknown' without a row or for NULL; ties go to
    # the first in SQLite's order of values; a NaN sum is NULL (sorted last, skipped by SUM)
    domains = conn.execute(
        "SELECT typeof(d), CAST(d AS BLOB), v FROM (SELECT COALESCE(m.category, 'unknown') AS d,"
        " SUM(t.size) AS v FROM trades_raw t LEFT JOIN markets m ON m.condition_id ="
        " t.condition_id WHERE t.proxy_wallet = ? AND t.timestamp >= ? GROUP BY d)"
        " ORDER BY v IS NULL, v DESC, d",
        (wallet, cutoff),
    ).fetchall()
    if domains:
        known = [v for _, _, v in domains if v is not None]
        domain_total = sum(known) if known else 0.0
        if math.isnan(domain_total):
            domain_total = 0.0
        kind, raw_name, top_volume = domains[0]
        f["top_domain"] = _text(kind, raw_name)
        if domain_total > 0:
            if top_volume is None or math.isnan(top_volume / domain_total):
                raise FeatureError("the top domain's share is NULL")
            f["top_domain_ratio"] = top_volume / domain_total
        else:
            f["top_domain_ratio"] = 0.0
    else:
        f["top_domain"], f["top_domain_ratio"] = None, 0.0

    f["trades_per_week"] = n / (window_days / 7)
    f["trades_per_day"] = n / window_days

    pairs = f["win_count"] + f["loss_count"]
    f["win_rate"] = f["win_count"] / pairs if pairs else 0.0
    volume = n * mean_x
    f["roi"] = f["total_pnl"] / volume if n > 0 and mean_x > 0 else 0.0
    return f
