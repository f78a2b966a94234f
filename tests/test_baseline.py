"""The baseline gate (reporting.baseline): regressions beyond threshold and noise, other hosts."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.reporting import baseline
from harness.reporting.baseline import OtherMachineError, render_comparison
from harness.reporting.baseline import compare_results as _compare
from harness.results import ResultsError
from persona_bench.kernel.errors import EXIT_BAD_INPUT, EXIT_MISMATCH
from tests.synthetic import synthetic_results

SERIAL = [(20.0, 20.2), (20.1, 20.0), (19.9, 20.1)]  # about 1% A/A noise
TASKS4 = [11.0, 11.1, 10.9]


def _results(scale4: float = 1.0, serial_scale: float = 1.0, **kwargs: Any) -> dict[str, Any]:
    """Results where tasks=4 walls are multiplied by ``scale4`` and serial by ``serial_scale``."""
    return synthetic_results(
        serial=[(a * serial_scale, b * serial_scale) for a, b in SERIAL],
        parallel={2: [12.0, 12.1, 11.9], 4: [w * scale4 for w in TASKS4]},
        **kwargs,
    )


def compare_results(old: Any, new: Any, **kwargs: Any) -> tuple[str, bool]:
    """The rendered table and the structured verdict's answer."""
    comparison = _compare(old, new, **kwargs)
    return render_comparison(comparison), comparison.regressed


def _row(table: str, label: str) -> str:
    return next(line for line in table.splitlines() if line.startswith(f"| {label} |"))


def test_thirty_percent_slowdown_beyond_noise_regresses() -> None:
    """tasks=4 30% slower, every new run slower than every old one: a regression."""
    table, regressed = compare_results(_results(), _results(scale4=1.3))
    assert regressed
    assert "REGRESSED" in _row(table, "tasks=4")
    assert "+30.0%" in _row(table, "tasks=4")
    assert "REGRESSED" not in _row(table, "tasks=2")
    assert "REGRESSED" not in _row(table, "serial")


def test_three_percent_slowdown_is_not_a_regression() -> None:
    """A 3% slow-down is under the 10% threshold: no regression."""
    table, regressed = compare_results(_results(), _results(scale4=1.03))
    assert not regressed
    assert "same" in _row(table, "tasks=4")


def test_slowdown_over_threshold_but_inside_noise_is_not_a_regression() -> None:
    """A 15% median slow-down whose runs overlap the old ones is noise, not a regression."""
    new = synthetic_results(
        serial=SERIAL, parallel={2: [12.0, 12.1, 11.9], 4: [10.95, 12.65, 12.8]}
    )
    table, regressed = compare_results(_results(), new)
    assert not regressed
    assert "same" in _row(table, "tasks=4")


def test_threshold_is_configurable() -> None:
    """The same 30% slow-down passes a 50% threshold."""
    assert not compare_results(_results(), _results(scale4=1.3), threshold=0.5)[1]


def test_serial_slowdown_regresses_too() -> None:
    """The serial configuration is gated like any other."""
    table, regressed = compare_results(_results(), _results(serial_scale=1.3))
    assert regressed
    assert "REGRESSED" in _row(table, "serial")


def test_faster_is_not_a_regression() -> None:
    """A configuration 30% faster is reported as faster."""
    table, regressed = compare_results(_results(), _results(scale4=0.7))
    assert not regressed
    assert "faster" in _row(table, "tasks=4")


def test_configuration_that_now_fails_regresses() -> None:
    """A configuration whose every new run failed has regressed."""
    new = _results()
    for run in new["runs"]:
        if run["label"] == "tasks=4":
            run["failed"] = True
    table, regressed = compare_results(_results(), new)
    assert regressed
    assert "every new run failed" in _row(table, "tasks=4")


def test_configuration_in_one_results_only_is_listed_not_regressed() -> None:
    """A task count measured only in one of the two results is listed as such."""
    new = synthetic_results(serial=SERIAL, parallel={2: [12.0] * 3, 8: [13.0] * 3})
    table, regressed = compare_results(_results(), new)
    assert not regressed
    assert "only in old" in _row(table, "tasks=4")
    assert "only in new" in _row(table, "tasks=8")


@pytest.mark.parametrize(
    "field", [{"hostname": "other-host"}, {"cpu_model": "Other CPU"}, {"cpu_count": 8}]
)
def test_other_machine_refused(field: dict[str, Any]) -> None:
    """Results from another machine (host, CPU model or count) are refused with exit 2."""
    other = _results()
    other["metadata"].update(field)
    with pytest.raises(OtherMachineError, match="different machines") as info:
        _compare(_results(), other)
    assert info.value.exit_code == EXIT_BAD_INPUT


def test_other_machine_allowed_is_marked() -> None:
    """--allow-other-machine compares anyway and the table says the machines differ."""
    other = _results(scale4=1.3, hostname="other-host")
    table, regressed = compare_results(_results(), other, allow_other_machine=True)
    assert regressed
    assert "Other machine" in table.splitlines()[0]
    assert "'bench-host' vs 'other-host'" in table.splitlines()[0]


def test_bad_results_refused() -> None:
    """A results dict of the wrong version is a user error naming which side."""
    bad = _results()
    bad["schema_version"] = 99
    with pytest.raises(ResultsError, match="new results: unsupported"):
        _compare(_results(), bad)


def _write(tmp_path: Path, name: str, results: dict[str, Any]) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(results))
    return path


def _cli(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    baseline.add_arguments(parser)
    return parser.parse_args(argv)


def test_compare_cli_prints_whole_table_before_exit_1(tmp_path: Path, capsys: Any) -> None:
    """On a regression the whole table is on stdout and the exit code is 1."""
    old = _write(tmp_path, "old.json", _results())
    new = _write(tmp_path, "new.json", _results(scale4=1.3))
    assert baseline.run(_cli([str(old), str(new)])) == EXIT_MISMATCH
    out = capsys.readouterr().out
    assert "| tasks=4 |" in out and out.rstrip().endswith("**Regression.**")


def test_compare_cli_exit_0_without_regression(tmp_path: Path, capsys: Any) -> None:
    """Without a regression the exit code is 0."""
    old = _write(tmp_path, "old.json", _results())
    new = _write(tmp_path, "new.json", _results(scale4=1.03))
    assert baseline.run(_cli([str(old), str(new), "--threshold", "0.05"])) == 0
    assert capsys.readouterr().out.rstrip().endswith("**No regression.**")


def test_compare_command_exit_codes(tmp_path: Path) -> None:
    """`persona-bench compare` exits 1 on a regression and 2 on a missing file, one line."""
    old = _write(tmp_path, "old.json", _results())
    new = _write(tmp_path, "new.json", _results(scale4=1.3))
    cmd = [sys.executable, "-m", "persona_bench", "compare"]
    done = subprocess.run([*cmd, str(old), str(new)], capture_output=True, text=True, check=False)
    assert done.returncode == EXIT_MISMATCH
    assert "REGRESSED" in done.stdout
    missing = subprocess.run(
        [*cmd, str(old), str(tmp_path / "nope.json")], capture_output=True, text=True, check=False
    )
    assert missing.returncode == EXIT_BAD_INPUT
    assert missing.stderr.count("\n") == 1 and "no such file" in missing.stderr
