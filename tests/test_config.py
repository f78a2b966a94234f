"""The [personas] configuration: production's rules for files, SPEC section 6."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import pytest

from classifier.config import ConfigError, PersonaConfig, config_from_mapping, load_config
from tests.helpers import DEFAULT_CONFIG, classify_cli


def default_table() -> dict:
    with DEFAULT_CONFIG.open("rb") as fh:
        return dict(tomllib.load(fh)["personas"])


def write_config(path: Path, table: dict) -> Path:
    lines = ["[other]", 'ignored = "yes"', "[personas]"]
    for key, value in table.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str):
            text = f'"{value}"'
        elif isinstance(value, list):
            text = "[" + ", ".join(f'"{v}"' for v in value) + "]"
        elif isinstance(value, float) and math.isinf(value):
            text = "inf"
        elif isinstance(value, float) and math.isnan(value):
            text = "nan"
        else:
            text = repr(value)
        lines.append(f"{key} = {text}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_shipped_default_file_equals_builtin_defaults():
    """fixtures/config/default.toml holds exactly the values used without a file."""
    assert load_config(DEFAULT_CONFIG) == PersonaConfig()


def test_file_without_stage2_min_roi_means_zero():
    """A file that omits stage2_min_roi gets 0.0, not production's 0.03."""
    table = default_table()
    del table["stage2_min_roi"]
    assert config_from_mapping(table).stage2_min_roi == 0.0
    assert PersonaConfig().stage2_min_roi == 0.03


def test_optional_keys_take_their_defaults():
    """known_bots, parallel_enabled and parallel_tasks may be left out of a file."""
    table = default_table()
    for key in ("known_bots", "parallel_enabled", "parallel_tasks"):
        del table[key]
    cfg = config_from_mapping(table)
    assert (cfg.known_bots, cfg.parallel_enabled, cfg.parallel_tasks) == ((), True, 8)


def test_integer_accepted_for_float_key_and_stored_as_float():
    """An integer is fine for a float key, and hashes like the float it stands for."""
    table = default_table()
    table["generalist_max_drawdown"] = 15
    cfg = config_from_mapping(table)
    assert isinstance(cfg.generalist_max_drawdown, float)
    assert cfg.result_hash() == PersonaConfig().result_hash()


def test_alias_for_topic_lane_ratio():
    """topic_lane_min_top_category_ratio is production's alias; both at once is refused."""
    table = default_table()
    table["topic_lane_min_top_category_ratio"] = table.pop("topic_lane_min_top_domain_ratio")
    assert config_from_mapping(table).topic_lane_min_top_domain_ratio == 0.65
    table["topic_lane_min_top_domain_ratio"] = 0.5
    with pytest.raises(ConfigError, match="alias"):
        config_from_mapping(table)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("stage1_min_total_trades", 10.0, "stage1_min_total_trades must be an integer"),
        ("stage1_min_total_trades", True, "stage1_min_total_trades must be an integer"),
        ("noise_max_abs_roi", True, "noise_max_abs_roi must be a number"),
        ("noise_max_abs_roi", "0.02", "noise_max_abs_roi must be a number"),
        ("noise_max_abs_roi", math.inf, "must be a finite number"),
        ("noise_max_abs_roi", math.nan, "must be a finite number"),
        ("noise_max_abs_roi", -0.1, r"noise_max_abs_roi must be >= 0 \(got -0.1\)"),
        ("parallel_tasks", 0, r"parallel_tasks must be >= 1 \(got 0\)"),
        ("chunk_size", 0, r"chunk_size must be >= 1"),
        ("window_days", 0, r"window_days must be >= 1"),
        ("parallel_enabled", 1, "parallel_enabled must be true or false"),
        ("parallel_backend", "gpu", "parallel_backend must be one of process, thread"),
        ("known_bots", "0xabc", "known_bots must be a list"),
        ("execution_master_pnl_ratio", "x", "execution_master_pnl_ratio must be a number"),
        ("surprise", 1, "unknown key personas.surprise"),
    ],
)
def test_bad_values_are_refused_naming_key_expected_and_got(key, value, message):
    """Wrong types, non-finite numbers, out-of-range values and unknown keys are refused."""
    table = default_table()
    table[key] = value
    with pytest.raises(ConfigError, match=message):
        config_from_mapping(table)


def test_negative_roi_minimums_are_allowed():
    """stage2_min_roi and accumulator_min_roi may be negative."""
    table = default_table()
    table["stage2_min_roi"] = -1.0
    table["accumulator_min_roi"] = -0.5
    cfg = config_from_mapping(table)
    assert (cfg.stage2_min_roi, cfg.accumulator_min_roi) == (-1.0, -0.5)


@pytest.mark.parametrize("key", ["sniper_max_trades", "execution_master_pnl_ratio"])
def test_missing_required_key_is_refused(key):
    """Every production key must be present in a file, the unused ones included."""
    table = default_table()
    del table[key]
    with pytest.raises(ConfigError, match=f"personas.{key} is missing"):
        config_from_mapping(table)


def test_execution_keys_do_not_change_the_result_hash():
    """Serial and parallel runs share one config hash; a threshold changes it."""
    base = PersonaConfig()
    assert PersonaConfig(parallel_tasks=3, chunk_size=7).result_hash() == base.result_hash()
    assert PersonaConfig(stage1_min_total_trades=11).result_hash() != base.result_hash()


def test_cli_reports_a_bad_config_in_one_line_with_exit_2(tmp_path):
    """classify with an out-of-range config: exit 2, one line naming the key, no traceback."""
    table = default_table()
    table["parallel_tasks"] = 0
    cfg = write_config(tmp_path / "bad.toml", table)
    db = tmp_path / "x.db"
    db.write_bytes(b"")
    proc = classify_cli("--db", str(db), "--config", str(cfg))
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "personas.parallel_tasks must be >= 1 (got 0)" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [("[personas\n", "not valid TOML"), ("[other]\nx = 1\n", "no \\[personas\\] table")],
)
def test_unreadable_config_files(tmp_path, content, message):
    """A file that is not TOML, or has no [personas] table, is refused."""
    path = tmp_path / "c.toml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_config(path)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")
