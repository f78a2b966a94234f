"""The classifier and an independent reading of SPEC (tests/oracle) write the same output rows.

Each case builds a random, edge-case-heavy database (``oracle.random_db``), copies it twice,
runs the oracle on one copy and ``persona-bench classify --serial`` on the other, and compares
the four output tables row for row, ids included (``oracle.compare``).
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import sqlite3
import tomllib
from pathlib import Path
from typing import Any

import pytest

from fixtures import DEFAULT_CONFIG
from persona_bench.cli import main
from tests.oracle.compare import diff_outputs
from tests.oracle.random_db import KNOWN_BOTS_CONFIG, make_random_db
from tests.oracle.spec_oracle import run_oracle

DEFAULT_TOML = DEFAULT_CONFIG
NOW = 1767225600 + 12345  # 2026-01-01 03:25:45 UTC: not on a day boundary
# more seeds for a longer hunt: PERSONA_ORACLE_SEEDS=500 pytest tests/test_oracle_agreement.py
SEEDS = range(int(os.environ.get("PERSONA_ORACLE_SEEDS", "12")))
DROP = object()  # an override that removes the key from the file

# lowered thresholds so that every exclusion, persona and trait fires somewhere
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "low": {
        "stage1_min_wallet_age_days": 20,
        "stage1_min_total_trades": 3,
        "sniper_max_age_days": 40,
        "noise_max_trades_per_week": 4.0,
        "noise_max_abs_roi": 0.05,
        "window_days": 30,
        "topic_lane_min_top_domain_ratio": 0.0,
        "known_bots": KNOWN_BOTS_CONFIG,
        "chunk_size": 7,
    },
    "rules": {
        "bot_swarm_min_trades_per_day": 0.5,
        "generalist_min_markets": 5,
        "whale_min_avg_trade_size_usdc": 20.0,
        "bonder_min_extreme_price_ratio": 0.3,
        "stage2_min_roi": DROP,  # absent from a file: 0.0, not 0.03
        "known_bots": KNOWN_BOTS_CONFIG[1:],
        "chunk_size": 1,
    },
}


INT_KEYS = ("generalist_min_markets", "sniper_max_age_days", "sniper_max_trades")
FLOAT_KEYS = (
    "specialist_min_concentration",
    "specialist_min_win_rate",
    "generalist_min_win_rate",
    "generalist_max_win_rate",
    "generalist_max_drawdown",
    "generalist_min_sharpe",
    "accumulator_min_hold_hours",
    "accumulator_max_trades_per_week",
    "accumulator_min_roi",
    "tail_risk_min_win_rate",
    "tail_risk_loss_multiplier",
    "noise_max_trades_per_week",
    "noise_max_abs_roi",
    "sniper_min_win_rate",
    "news_sniper_max_burstiness_top_1h_ratio",
    "liquidity_provider_min_buy_sell_balance",
    "liquidity_provider_min_mid_fill_ratio",
    "bot_swarm_min_trades_per_day",
    "bot_swarm_max_avg_trade_size_usdc",
    "jackpot_min_pnl_top1_share",
    "jackpot_max_win_rate",
    "topic_lane_min_top_domain_ratio",
    "bonder_min_extreme_price_ratio",
    "whale_min_avg_trade_size_usdc",
    "stage2_min_roi",
)


def jitter_overrides(seed: int) -> dict[str, Any]:
    """Thresholds scattered around production's, so decisions flip at many other points."""
    rng = random.Random(f"jitter{seed}")
    base = personas_config({})
    out: dict[str, Any] = {
        "stage1_min_wallet_age_days": rng.randint(0, 50),
        "stage1_min_total_trades": rng.randint(0, 12),
        "stage1_max_inactive_days": rng.randint(0, 60),
        "window_days": rng.choice([1, 7, 30, 90, 180, 365]),
        "chunk_size": rng.randint(1, 30),
        "specialist_max_active_positions": rng.randint(0, 8),
    }
    for key in INT_KEYS:
        out[key] = max(0, round(base[key] * rng.choice([0.25, 0.5, 1, 2])))
    for key in FLOAT_KEYS:
        out[key] = base[key] * rng.choice([0.0, 0.25, 0.5, 1.0, 1.0, 2.0])
    return out


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


def personas_config(overrides: dict[str, Any]) -> dict[str, Any]:
    """Production's full [personas] table with `overrides` applied (DROP removes a key)."""
    with DEFAULT_TOML.open("rb") as fh:
        cfg: dict[str, Any] = tomllib.load(fh)["personas"]
    for key, value in overrides.items():
        if value is DROP:
            cfg.pop(key, None)
        else:
            cfg[key] = value
    return cfg


def write_config(path: Path, cfg: dict[str, Any]) -> Path:
    lines = ["[personas]"] + [f"{k} = {_toml_value(v)}" for k, v in cfg.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def now_for(seed: int) -> int:
    """The run clock for a seed: on a UTC midnight for every third seed, else within a day."""
    return 1767225600 + (0 if seed % 3 == 0 else (seed * 7919) % 86400)


def run_both(src: Path, tmp_path: Path, overrides: dict[str, Any], now: int = NOW) -> list[str]:
    """Oracle on one copy, classifier on another; the differences (oracle = expected)."""
    cfg = personas_config(overrides)
    cfg_path = write_config(tmp_path / "personas.toml", cfg)
    expected, got = tmp_path / "oracle.db", tmp_path / "classifier.db"
    for copy in (expected, got):  # the generator closed its connection: no -wal to copy
        shutil.copy(src, copy)
    run_oracle(expected, now, cfg)
    argv = ["classify", "--db", str(got), "--now", str(now), "--config", str(cfg_path)]
    code = main([*argv, "--json", "--serial"])
    assert code == 0, f"classify exited {code}"
    return diff_outputs(expected, got)


@pytest.fixture(scope="module")
def random_dbs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """One generated database per seed, shared by every config variant."""
    base = tmp_path_factory.mktemp("random_dbs")
    out = {}
    for seed in SEEDS:
        out[seed] = base / f"seed{seed}.db"
        make_random_db(out[seed], seed, now_for(seed))
    return out


@pytest.mark.parametrize("variant", [*sorted(VARIANTS), "jitter"])
@pytest.mark.parametrize("seed", SEEDS)
def test_classifier_agrees_with_oracle(
    random_dbs: dict[int, Path], tmp_path: Path, seed: int, variant: str, capsys: Any
) -> None:
    """On random edge-case databases the classifier writes exactly the oracle's rows."""
    overrides = jitter_overrides(seed) if variant == "jitter" else VARIANTS[variant]
    diffs = run_both(random_dbs[seed], tmp_path, overrides, now_for(seed))
    capsys.readouterr()
    assert not diffs, f"seed {seed}, config {variant}:\n" + "\n".join(diffs)


@pytest.mark.parametrize(
    "gate", ["no wallets", "insufficient trade history", "exactly 7 days", "7 days less 1 s"]
)
def test_readiness_gate_agrees_with_oracle(tmp_path: Path, gate: str, capsys: Any) -> None:
    """Around the readiness gate both write the same rows (job_status alone when it stops)."""
    now = now_for(1)
    src = tmp_path / "gate.db"
    make_random_db(src, 1, now)
    with contextlib.closing(sqlite3.connect(src)) as conn, conn:
        if gate == "no wallets":
            conn.execute("UPDATE wallets SET is_active = 0")
        else:  # nobody has 7 days of history, except one wallet at the edge
            conn.execute("DELETE FROM trades_raw WHERE timestamp <= ?", (now - 604800,))
        if gate in ("exactly 7 days", "7 days less 1 s"):
            first = now - 604800 + (gate != "exactly 7 days")
            conn.execute(
                "INSERT INTO wallets (proxy_wallet, discovered_from, discovered_at)"
                " VALUES ('0xEdge', 'x', 'y')"
            )
            conn.executemany(
                "INSERT INTO trades_raw (proxy_wallet, condition_id, side, size, price,"
                " timestamp) VALUES ('0xEdge', '0xc001', 'BUY', 1.0, 0.5, ?)",
                [(first,)] * 10,
            )
    conn.close()
    diffs = run_both(src, tmp_path, {}, now)
    capsys.readouterr()
    assert not diffs, f"gate {gate}:\n" + "\n".join(diffs)
