"""The persona-bench command line: every subcommand has help; errors are one line, exit 2."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from classifier.pipeline import COUNTERS
from persona_bench.cli import COMMANDS, build_parser, main
from tests.helpers import NOW, bulk_db


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`persona-bench CMD --help` prints a usage and a description, exit 0."""
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: persona-bench {command}")
    assert build_parser()._subparsers is not None  # the table builds whole


@pytest.mark.parametrize(
    "argv",
    [
        ["classify", "--db", "x.db", "--tasks", "abc"],
        ["classify", "--db", "x.db", "--tasks", "-1"],
        ["classify", "--db", "x.db", "--now", "yesterday"],
        ["classify", "--db", "x.db", "--backend", "gpu"],
        ["classify", "--db", "x.db", "--busy-timeout", "0"],
        ["nosuchcommand"],
    ],
)
def test_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Unparseable arguments: argparse's usage line and exit 2."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_serial_and_tasks_contradict(capsys: pytest.CaptureFixture[str]) -> None:
    """--serial with --tasks 4 is refused in one line."""
    assert main(["classify", "--db", "x.db", "--serial", "--tasks", "4"]) == 2
    err = capsys.readouterr().err
    assert (
        err.strip() == "persona-bench classify: error: --serial and --tasks 4 contradict each other"
    )


def test_classify_prints_the_seed_results_list_or_json(tmp_path, capsys) -> None:
    """Plain output lists the counters, wall and CPU; --json prints one parseable object."""
    db = bulk_db(tmp_path / "a.db", wallets=80)
    assert main(["classify", "--db", str(db), "--now", "2026-05-28T20:26:40Z", "--serial"]) == 0
    out = capsys.readouterr().out
    for key in COUNTERS:
        assert f"- {key}: " in out
    assert "- wall time: " in out and ", CPU time: " in out
    assert "2026-05-28 20:26:40.000 UTC, serial" in out
    assert main(["classify", "--db", str(db), "--now", str(NOW), "--json", "--tasks", "2"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["now"] == NOW and summary["mode"] == "parallel" and summary["tasks"] == 2
    assert set(summary["phases"]) == {"stage1_s", "features_s", "classify_s", "write_s", "other_s"}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_lines_match_their_modules(command: str) -> None:
    """The help line listed without importing a subcommand is the one its module declares."""
    module_name, help_line = COMMANDS[command]
    assert help_line == importlib.import_module(module_name).HELP


def test_classify_imports_no_harness_module(tmp_path: Path) -> None:
    """`persona-bench classify` imports only the classifier (a fresh interpreter, as a run)."""
    code = (
        "import sys; from persona_bench.cli import main; "
        f"main(['classify', '--db', {str(tmp_path / 'none.db')!r}]); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'harness'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
