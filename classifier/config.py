"""The ``[personas]`` configuration: a frozen dataclass that validates itself (SPEC section 6).

``PersonaConfig()`` holds production's values. ``load_config(path)`` reads a TOML file the way
production does: every key must be present except the few with defaults, unknown keys are
refused, and every value is type- and range-checked with a message naming the key, what was
expected and what was given.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from persona_bench.kernel.errors import UserError

BACKENDS = ("process", "thread")


class ConfigError(UserError):
    """A ``[personas]`` value is missing, unknown, of the wrong type or out of range."""


@dataclass(frozen=True, kw_only=True)
class PersonaConfig:
    """Every knob of the job. Defaults are production's ``config/default.toml``."""

    stage1_min_wallet_age_days: int = 45
    stage1_min_total_trades: int = 10
    stage1_max_inactive_days: int = 45
    known_bots: tuple[str, ...] = ()
    parallel_enabled: bool = True
    parallel_tasks: int = 8
    specialist_max_active_positions: int = 5
    specialist_min_concentration: float = 0.60
    specialist_min_win_rate: float = 0.60
    generalist_min_markets: int = 20
    generalist_min_win_rate: float = 0.52
    generalist_max_win_rate: float = 0.60
    generalist_max_drawdown: float = 15.0
    generalist_min_sharpe: float = 1.0
    accumulator_min_hold_hours: float = 48.0
    accumulator_max_trades_per_week: float = 5.0
    accumulator_min_roi: float = 0.05
    tail_risk_min_win_rate: float = 0.80
    tail_risk_loss_multiplier: float = 5.0
    noise_max_trades_per_week: float = 50.0
    noise_max_abs_roi: float = 0.02
    sniper_max_age_days: int = 30
    sniper_min_win_rate: float = 0.85
    sniper_max_trades: int = 20
    news_sniper_max_burstiness_top_1h_ratio: float = 0.70
    liquidity_provider_min_buy_sell_balance: float = 0.45
    liquidity_provider_min_mid_fill_ratio: float = 0.60
    bot_swarm_min_trades_per_day: float = 200.0
    bot_swarm_max_avg_trade_size_usdc: float = 5.0
    jackpot_min_pnl_top1_share: float = 0.60
    jackpot_max_win_rate: float = 0.45
    topic_lane_min_top_domain_ratio: float = 0.65
    bonder_min_extreme_price_ratio: float = 0.60
    whale_min_avg_trade_size_usdc: float = 100.0
    # SPEC 6: 0.03 in production's file and without a file, but 0.0 when a file omits it.
    stage2_min_roi: float = 0.03
    # Ours, all optional (hard-coded in production).
    chunk_size: int = 100
    window_days: int = 180
    parallel_backend: str = "process"
    known_bots_set: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if f.init:
                _check_value(f.name, getattr(self, f.name), f.type)
                if f.type == "float":  # an integer is fine for a float key; store it as float
                    object.__setattr__(self, f.name, float(getattr(self, f.name)))
        object.__setattr__(self, "known_bots", tuple(self.known_bots))
        object.__setattr__(self, "known_bots_set", frozenset(self.known_bots))

    def result_hash(self) -> str:
        """sha256 of the values that decide the output rows (not how the work is scheduled).

        Serial and parallel runs, and a resumed run with another chunk size, share this hash.
        """
        values = {k: v for k, v in self.as_dict().items() if k not in _EXECUTION_KEYS}
        blob = json.dumps(values, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def as_dict(self) -> dict[str, Any]:
        """Every effective value, JSON-ready."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        out["known_bots"] = list(self.known_bots)
        return out


_EXECUTION_KEYS = frozenset(
    {"parallel_enabled", "parallel_tasks", "parallel_backend", "chunk_size"}
)
_OPTIONAL_IN_FILE = frozenset(
    {
        "known_bots",
        "parallel_enabled",
        "parallel_tasks",
        "stage2_min_roi",
        "chunk_size",
        "window_days",
        "parallel_backend",
    }
)
_UNUSED_PRODUCTION_KEYS = frozenset(
    {"execution_master_pnl_ratio", "trust_30_90_multiplier", "obscurity_bonus_multiplier"}
)
_ALIASES = {"topic_lane_min_top_category_ratio": "topic_lane_min_top_domain_ratio"}
_MAY_BE_NEGATIVE = frozenset({"stage2_min_roi", "accumulator_min_roi"})
_AT_LEAST_ONE = frozenset({"parallel_tasks", "chunk_size", "window_days"})


def _check_value(key: str, value: Any, kind: Any) -> None:
    """Raise ConfigError unless ``value`` fits ``kind`` (an annotation string) and its range."""
    where = f"personas.{key}"
    if kind in ("int", int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be an integer (got {value!r})")
    elif kind in ("float", float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where} must be a number (got {value!r})")
        if not math.isfinite(value):
            raise ConfigError(f"{where} must be a finite number (got {value!r})")
    elif kind in ("bool", bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false (got {value!r})")
        return
    elif kind == "str":
        if value not in BACKENDS:
            raise ConfigError(f"{where} must be one of {', '.join(BACKENDS)} (got {value!r})")
        return
    else:  # known_bots
        if not isinstance(value, tuple | list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where} must be a list of wallet addresses (got {value!r})")
        return
    if key in _AT_LEAST_ONE and value < 1:
        raise ConfigError(f"{where} must be >= 1 (got {value!r})")
    if key not in _MAY_BE_NEGATIVE and value < 0:
        raise ConfigError(f"{where} must be >= 0 (got {value!r})")


def config_from_mapping(table: dict[str, Any], source: str = "config") -> PersonaConfig:
    """Build a config from a ``[personas]`` table read from a file (production's rules)."""
    table = dict(table)
    for alias, key in _ALIASES.items():
        if alias in table:
            if key in table:
                raise ConfigError(
                    f"{source}: personas.{key} and its alias personas.{alias} are both given"
                    " (expected one)"
                )
            table[key] = table.pop(alias)
    for key in _UNUSED_PRODUCTION_KEYS:
        if key in table:
            _check_value(key, table.pop(key), "float")
        else:
            raise ConfigError(f"{source}: personas.{key} is missing (production requires it)")
    known = {f.name for f in dataclasses.fields(PersonaConfig) if f.init}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{source}: unknown key personas.{unknown[0]}")
    missing = sorted(known - _OPTIONAL_IN_FILE - set(table))
    if missing:
        raise ConfigError(f"{source}: personas.{missing[0]} is missing (expected a value)")
    table.setdefault("stage2_min_roi", 0.0)
    if isinstance(table.get("known_bots"), list):
        table["known_bots"] = tuple(table["known_bots"])
    return PersonaConfig(**table)


def load_config(path: str | Path | None) -> PersonaConfig:
    """Read ``[personas]`` from a TOML file; ``None`` gives production's values."""
    if path is None:
        return PersonaConfig()
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory (expected a TOML file)") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    table = data.get("personas")
    if not isinstance(table, dict):
        raise ConfigError(f"config file {path} has no [personas] table")
    return config_from_mapping(table, source=str(path))
