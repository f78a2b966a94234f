"""Small random production databases, heavy on SPEC's edge cases, for the oracle agreement test.

``make_random_db(path, seed, now)`` builds ``fixtures/schema.sql`` in WAL mode: mixed-case
addresses (some differing only in case), inactive wallets, wallets at every Stage-1 threshold,
every Stage-2 shape (``random_wallets``), markets with NULL, '' or no category, and the rows a
previous run leaves (old STAGE1_ exclusions, traits, personas, a job_status row). The same seed
gives the same database.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

from tests.helpers import new_db
from tests.oracle.random_wallets import DAY, Draft, shaped, stage1_edge, text_time

# Known-bot addresses every database holds (the second only in lower case, the third no trades)
BOT_WALLETS = ("0xB07aaaa0000000001", "0xb07bbbb0000000002", "0xB07cccc0000000003")
KNOWN_BOTS_CONFIG = [
    "0xB07aaaa0000000001",
    "0xB07BBBB0000000002",
    "0xB07cccc0000000003",
    "0xnot-a-wallet",
]

STAGE2_KINDS = {
    "random": 10,
    "specialist": 4,
    "generalist": 3,
    "accumulator": 3,
    "news": 2,
    "lp": 2,
    "tail": 2,
    "jackpot": 2,
    "sniper": 2,
    "swarm": 1,
    "domain_tie": 1,
    "noise": 0.3,
}
EDGE_KINDS = {
    "no_trades": 2,
    "age": 2,
    "count": 2,
    "inactive": 2,
    "future": 0.5,
    "error": 0.7,
    "error_old": 0.5,
    "error_size": 0.3,
    "short_window": 1,
    "text_ts": 0.4,
    "real_ts": 0.6,
    "sharpe_edge": 1,
    "chaos": 4,
}
CATEGORIES = ["Sports", "Politics", "Crypto", "Economics", "sports", "", None, "unknown"]
OLD_REASONS = [
    "STAGE1_TOO_YOUNG",
    "STAGE1_INACTIVE",
    "stage1_too_few_trades",
    "STAGE1XOLD",
    "STAGE1",
    "KNOWN_BOT",
    "NOISE_TRADER",
    "INSUFFICIENT_PNL",
    "NEWS_SNIPER",
]


def _address(rng: random.Random) -> str:
    """A short hex address with random letter case (SPEC: no case folding anywhere)."""
    digits = f"{rng.getrandbits(48):012x}"
    return "0x" + "".join(c.upper() if rng.random() < 0.4 else c for c in digits)


def _draft(rng: random.Random, now: int, n_wallets: int) -> Draft:
    markets = [f"0x{'C' if i % 3 == 0 else 'c'}{i:03x}" for i in range(36)]
    domains = {
        m: "unknown" if i % 7 == 6 or CATEGORIES[i % 8] is None else str(CATEGORIES[i % 8])
        for i, m in enumerate(markets)
    }
    d = Draft(rng=rng, now=now, markets=markets, domains=domains)
    kinds = list(STAGE2_KINDS) + list(EDGE_KINDS)
    weights = list(STAGE2_KINDS.values()) + list(EDGE_KINDS.values())
    seen: set[str] = set()
    for i in range(n_wallets):
        w = _address(rng)
        if i % 15 == 7 and d.wallets:  # a twin that differs from an earlier wallet only in case
            w = d.wallets[-1][0].swapcase().replace("0X", "0x")
        if w in seen:
            continue
        seen.add(w)
        kind = rng.choices(kinds, weights)[0]
        # is_active = 1 in SQL: '1' and 1.0 are stored as 1; 2 and 'yes' are not active
        active = 1 if rng.random() < 0.88 else rng.choice([0, 0, 2, "1", 1.0, "yes"])
        d.wallets.append((w, active))
        if kind in STAGE2_KINDS:
            shaped(d, w, kind)
        else:
            stage1_edge(d, w, kind)
    for i, bot in enumerate(BOT_WALLETS):
        d.wallets.append((bot, 1))
        if i < 2:
            shaped(d, bot, "specialist" if i else "random")
    # trades of addresses with no wallets row, and of a case variant of a real wallet
    ghost = d.wallets[0][0].upper().replace("0X", "0x")
    for k in range(12):
        d.trade(ghost, markets[k % 5], "BUY", 1.0, 0.5, now - k * 7 * DAY)
    return d


def _previous_run(conn: sqlite3.Connection, d: Draft, rng: random.Random) -> None:
    """Output rows as an earlier run leaves them, with id gaps in the sequences."""
    old = text_time(d.now - 3 * DAY, ".000")
    same = text_time(d.now, ".000")  # an earlier run with the same clock
    for w, _ in d.wallets:
        if rng.random() < 0.5:
            for reason in rng.sample(OLD_REASONS, rng.randint(1, 3)):
                conn.execute(
                    "INSERT INTO wallet_exclusions (proxy_wallet, reason, metric_value,"
                    " threshold, excluded_at) VALUES (?, ?, ?, ?, ?)",
                    (w, reason, 3.0, 45.0, rng.choice([old, same])),
                )
        if rng.random() < 0.4:
            for key, value in rng.sample(
                [("TOPIC_LANE", "Sports"), ("BONDER", "1"), ("WHALE", "1"), ("OTHER", "x")], 2
            ):
                conn.execute(
                    "INSERT INTO wallet_persona_traits (proxy_wallet, trait_key, trait_value,"
                    " computed_at) VALUES (?, ?, ?, ?)",
                    (w, key, value, old),
                )
        if rng.random() < 0.3:
            conn.execute(
                "INSERT INTO wallet_personas (proxy_wallet, persona, confidence,"
                " feature_values_json, classified_at) VALUES (?, ?, ?, ?, ?)",
                (w, "PATIENT_ACCUMULATOR", 0.5, '{"old": true}', rng.choice([old, same])),
            )
    for table in ("wallet_exclusions", "wallet_persona_traits", "wallet_personas"):
        conn.execute(f"DELETE FROM {table} WHERE id % 7 = 3")  # sequence stays ahead of max(id)
    if rng.random() < 0.6:
        conn.execute(
            "INSERT INTO job_status VALUES ('persona_classification', 'failed', ?, 1234,"
            " 'boom: disk I/O error', '{\"processed\": 5}', ?)",
            (old, old),
        )
    conn.execute(
        "INSERT INTO job_status VALUES ('other_job', 'idle', ?, 10, NULL, '{}', ?)", (old, old)
    )


def make_random_db(path: Path, seed: int, now: int, n_wallets: int = 60) -> None:
    """Write a new database at `path` (WAL mode) from `seed`; `now` is the run's clock."""
    rng = random.Random(seed)
    d = _draft(rng, now, n_wallets)
    conn = new_db(path, isolation_level=None)
    try:
        conn.execute("BEGIN")
        for i, cond in enumerate(d.markets):
            if i % 7 == 6:
                continue  # no markets row: domain 'unknown'
            conn.execute(
                "INSERT INTO markets (condition_id, title, category) VALUES (?, ?, ?)",
                (cond, f"market {i}", CATEGORIES[i % 8]),
            )
        for w, active in d.wallets:
            conn.execute(
                "INSERT INTO wallets (proxy_wallet, discovered_from, discovered_at, is_active)"
                " VALUES (?, 'leaderboard', ?, ?)",
                (w, text_time(now - 400 * DAY), active),
            )
        trades = list(d.trades)
        rng.shuffle(trades)  # ids must not follow time: (timestamp, id) order is tested
        for n, (w, cond, side, size, price, ts) in enumerate(trades):
            conn.execute(
                "INSERT INTO trades_raw (proxy_wallet, condition_id, side, size, price,"
                " timestamp, transaction_hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (w, cond, side, size, price, ts, f"0xtx{n}"),
            )
        conn.executemany(
            "INSERT INTO paper_trades (proxy_wallet, condition_id, status, pnl, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            d.paper_trades,
        )
        conn.executemany(
            "INSERT INTO paper_positions (proxy_wallet, condition_id) VALUES (?, ?)", d.positions
        )
        conn.executemany(
            "INSERT INTO positions_snapshots (proxy_wallet, condition_id, cash_pnl, snapshot_at)"
            " VALUES (?, ?, ?, ?)",
            d.snapshots,
        )
        if seed % 5 == 4:  # a database where the job has never run: outputs must be created
            for table in ("wallet_personas", "wallet_exclusions", "wallet_persona_traits"):
                conn.execute(f"DROP TABLE {table}")
            conn.execute("DROP TABLE job_status")
        else:
            _previous_run(conn, d, rng)
        conn.execute("COMMIT")
    finally:
        conn.close()
