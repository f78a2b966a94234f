"""The oracle's features (SPEC section 4) and the two Stage-2 ratios (section 5), per wallet.

Plain Python over the wallet's window trades, read with one query; total_pnl and
active_positions come from SQL so that SQLite's SUM() and text comparison apply as SPEC says.
"""

from __future__ import annotations

import math
import sqlite3
import time
from typing import Any

DAY = 86400


class FeatureError(Exception):
    """A window trade's size, price or timestamp is not a number."""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _total_pnl(conn: sqlite3.Connection, wallet: str, cutoff_text: str) -> float:
    """Settled paper trades in the window win; otherwise the latest window snapshots."""
    n, pnl = conn.execute(
        "SELECT COUNT(*), SUM(pnl) FROM paper_trades"
        " WHERE proxy_wallet = ? AND status != 'open' AND created_at >= ?",
        (wallet, cutoff_text),
    ).fetchone()
    if n > 0:
        return 0.0 if pnl is None else float(pnl)
    (snap,) = conn.execute(
        "SELECT SUM(s.cash_pnl) FROM positions_snapshots s"
        " WHERE s.proxy_wallet = ? AND s.snapshot_at >= ?"
        " AND s.snapshot_at = (SELECT MAX(s2.snapshot_at) FROM positions_snapshots s2"
        "   WHERE s2.proxy_wallet = s.proxy_wallet AND s2.condition_id = s.condition_id"
        "   AND s2.snapshot_at >= ?)",
        (wallet, cutoff_text, cutoff_text),
    ).fetchone()
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
        day = ts // DAY
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
    rows = conn.execute(
        "SELECT t.id, t.condition_id, t.side, t.size, t.price, t.timestamp,"
        " CASE WHEN m.condition_id IS NULL OR m.category IS NULL THEN 'unknown'"
        " ELSE m.category END"
        " FROM trades_raw t LEFT JOIN markets m ON m.condition_id = t.condition_id"
        " WHERE t.proxy_wallet = ? AND t.timestamp >= ? ORDER BY t.timestamp, t.id",
        (wallet, cutoff),
    ).fetchall()
    for r in rows:
        if not (_is_number(r[3]) and _is_number(r[4]) and _is_number(r[5])):
            raise FeatureError(f"trade {r[0]}: size, price or timestamp is not a number")
    n = len(rows)
    f: dict[str, Any] = {"trade_count": n, "unique_markets": len({r[1] for r in rows})}

    values = [r[3] * r[4] for r in rows]
    mean_x = sum(values) / n if n else 0.0
    f["avg_position_size"] = f["avg_trade_size_usdc"] = mean_x
    mean_x2 = sum(v * v for v in values) / n if n else 0.0
    f["size_cv"] = math.sqrt(max(mean_x2 - mean_x**2, 0.0)) / mean_x if mean_x != 0 else 0.0

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

    per_market: dict[str, float] = {}
    per_domain: dict[str, float] = {}
    for r in rows:
        per_market[r[1]] = per_market.get(r[1], 0.0) + r[3]
        per_domain[r[6]] = per_domain.get(r[6], 0.0) + r[3]
    total_size = sum(per_market.values())
    top3 = sum(sorted(per_market.values(), reverse=True)[:3])
    f["concentration_ratio"] = top3 / total_size if total_size > 0 else 0.0

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

    if per_domain:
        top = min(per_domain, key=lambda d: (-per_domain[d], d.encode()))
        domain_total = sum(per_domain.values())
        f["top_domain"] = top
        f["top_domain_ratio"] = per_domain[top] / domain_total if domain_total > 0 else 0.0
    else:
        f["top_domain"], f["top_domain_ratio"] = None, 0.0

    f["trades_per_week"] = n / (window_days / 7)
    f["trades_per_day"] = n / window_days

    pairs = f["win_count"] + f["loss_count"]
    f["win_rate"] = f["win_count"] / pairs if pairs else 0.0
    volume = n * mean_x
    f["roi"] = f["total_pnl"] / volume if n > 0 and mean_x > 0 else 0.0
    return f
