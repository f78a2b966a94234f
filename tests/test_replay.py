"""Tests for the replay plan, command templates, validate settings and the results file."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest

from harness import HarnessError
from harness.replay import parse_template, plan, render
from harness.results import (
    SCHEMA_NAME,
    SCHEMA_VERSION,
    Results,
    Run,
    build_results,
    read_results,
    write_results,
)
from harness.settings import JOB_WALL_CLOCK_COLUMNS, from_args
from harness.validate import add_arguments


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_plan_interleaves_rounds_with_an_aa_pair_each() -> None:
    """Each round runs every configuration once and serial twice, rotated; round 1 starts serial."""
    specs = plan([4, 8], repeat=3)
    assert len(specs) == 12
    rounds = [[s.label for s in specs if s.round == r] for r in (1, 2, 3)]
    assert rounds[0] == ["serial-a", "tasks=4", "tasks=8", "serial-b"]
    assert rounds[1] == ["tasks=4", "tasks=8", "serial-b", "serial-a"]
    assert rounds[2] == ["tasks=8", "serial-b", "serial-a", "tasks=4"]
    assert [s.order for s in specs if s.round == 2] == [0, 1, 2, 3]
    assert {s.mode for s in specs if s.label.startswith("serial")} == {"serial"}
    assert {s.tasks for s in specs if s.mode == "parallel"} == {4, 8}


def test_templates_fill_placeholders_token_by_token() -> None:
    """A path with spaces stays one argument; persona-bench runs as this interpreter's module."""
    tokens = parse_template("persona-bench classify --db {db} --tasks={tasks} --now {now}", "t")
    argv = render(
        tokens, {"db": "/a b/c.db", "tasks": "8", "now": "5", "config": "", "backend": ""}
    )
    assert argv[:3] == [sys.executable, "-m", "persona_bench"]
    assert argv[3:] == ["classify", "--db", "/a b/c.db", "--tasks=8", "--now", "5"]


def test_literal_braces_are_allowed_in_templates() -> None:
    """Doubled braces are literal, not placeholders."""
    tokens = parse_template("job --db {db} --json-arg {{x}}", "t")
    values = {"db": "d", "tasks": "0", "now": "0", "config": "", "backend": ""}
    assert render(tokens, values)[-1] == "{x}"


@pytest.mark.parametrize(
    ("template", "match"),
    [
        ("job --db {db} --n {threads}", "unknown placeholder"),
        ("job --n {tasks}", "must contain"),
        ("job --db '{db}", "cannot split"),
        ("", "empty"),
        ("job --db {db", "bad placeholder"),
    ],
)
def test_bad_templates_are_refused(template: str, match: str) -> None:
    """Unknown placeholders, no {db}, unbalanced quotes or braces: one-line errors."""
    with pytest.raises(HarnessError, match=match):
        parse_template(template, "serial command")


def test_every_target_ignores_duration_ms_by_default_and_says_so() -> None:
    """job_status.duration_ms (SPEC 2.8's wall clock) is ignored for any target, with its source."""
    reference = from_args(_args())
    assert reference.ignore_columns == JOB_WALL_CLOCK_COLUMNS
    assert reference.ignore_source.startswith("default")
    assert reference.roles.control.name == "reference" and reference.roles.candidate is None
    assert "config" not in reference.to_dict()
    assert reference.to_dict()["config_path"] is None
    custom = from_args(_args("--serial-cmd", "job {db}", "--parallel-cmd", "job {db} {tasks}"))
    assert custom.ignore_columns == JOB_WALL_CLOCK_COLUMNS
    assert custom.roles.control.name == "custom"
    assert custom.to_dict()["control"] == "custom"
    everything = from_args(_args("--no-ignore"))
    assert everything.ignore_columns == () and "--no-ignore" in everything.ignore_source
    other = from_args(_args("--ignore-column", "job_status.updated_at"))
    assert other.ignore_columns == ("job_status.updated_at",)
    assert other.ignore_source == "--ignore-column"


def test_command_line_options_override_the_harness_file(tmp_path: Path) -> None:
    """An option given on the command line wins over the [harness] table."""
    toml = tmp_path / "h.toml"
    toml.write_text('[harness]\ntasks = [2, 3]\nrepeat = 5\nbackend = "thread"\n')
    settings = from_args(_args("--harness-config", str(toml), "--repeat", "2"))
    assert (settings.tasks, settings.repeat, settings.backend) == ((2, 3), 2, "thread")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[harness]\nthreads = 3\n", "not a known key"),
        ("[harness]\ntasks = 3\n", "wrong type"),
        ('[harness]\ntasks = ["a"]\n', "list of int"),
        ("[harness]\nrepeat = 0\n", "repeat must be >= 1"),
        ("[other]\nx = 1\n", "no \\[harness\\] table"),
        ("[harness\n", "not valid TOML"),
    ],
)
def test_a_bad_harness_file_is_refused(tmp_path: Path, text: str, match: str) -> None:
    """Unknown keys, wrong types, out-of-range values and broken TOML are one-line errors."""
    toml = tmp_path / "h.toml"
    toml.write_text(text)
    with pytest.raises(HarnessError, match=match):
        from_args(_args("--harness-config", str(toml)))


def test_the_default_templates_pass_the_config_when_given(tmp_path: Path) -> None:
    """With --config, both default templates pass it on as --config {config}."""
    config = tmp_path / "c.toml"
    config.write_text("[personas]\n")
    settings = from_args(_args("--config", str(config)))
    reference = settings.roles.control
    assert reference.serial_cmd.endswith("--config {config}")
    assert str(reference.parallel_cmd).endswith("--config {config}")
    assert settings.to_dict()["config_path"] == str(config.resolve())


def _results(runs: list[dict[str, object]]) -> Results:
    return build_results(
        name="t",
        settings={},
        snapshot={},
        runs=[Run.from_dict({"tasks": 0, **r}) for r in runs],
        reference="round 1 serial-a",
        metadata={"git_commit": None},
    )


def test_verdict_is_red_on_a_failed_or_mismatched_run() -> None:
    """Identical only when every run completed and matched; a serial mismatch is nondeterminism."""
    ok = {"label": "serial-a", "round": 1, "mode": "serial", "failed": False, "identical": True}
    bad = {**ok, "label": "serial-b", "identical": False, "diff": {"t": {}}}
    failed = {**ok, "label": "tasks=2", "mode": "parallel", "failed": True, "identical": False}
    assert _results([ok]).verdict.identical is True
    verdict = _results([ok, bad, failed]).verdict
    assert verdict.identical is False
    assert verdict.failed_runs == 1 and verdict.mismatched_runs == 1
    assert verdict.nondeterministic is True
    assert verdict.mismatches[0]["label"] == "serial-b"


def test_results_round_trip_and_a_wrong_version_is_refused(tmp_path: Path) -> None:
    """A written results file reads back equal; another schema version or kind is refused."""
    ok = {"label": "serial-a", "round": 1, "mode": "serial", "wall_s": 1.5, "identical": True}
    written = _results([ok, {**ok, "label": "serial-b", "future_field": [1, 2]}])
    path = write_results(written, tmp_path / "results.json")
    assert read_results(path) == written
    assert read_results(path).runs[1].extra == {"future_field": [1, 2]}
    data = json.loads(path.read_text())
    assert data["schema_version"] == SCHEMA_VERSION and data["kind"] == SCHEMA_NAME
    path.write_text(json.dumps({**data, "schema_version": 99}))
    with pytest.raises(HarnessError, match=f"schema_version 99 .expected 1 or {SCHEMA_VERSION}"):
        read_results(path)
    path.write_text(json.dumps({**data, "kind": "other"}))
    with pytest.raises(HarnessError, match="not a validate results file"):
        read_results(path)


def test_templates_on_the_command_line_win_over_the_files_target(tmp_path: Path) -> None:
    """--serial-cmd/--parallel-cmd select the target 'custom' even when the file names another."""
    toml = tmp_path / "h.toml"
    toml.write_text(
        '[harness]\ntarget = "p"\n[targets.p]\nserial_cmd = "p {db}"\nparallel_cmd = "p {db}"\n'
    )
    from_file = from_args(_args("--harness-config", str(toml)))
    assert from_file.roles.control.name == "p"
    loose = ("--serial-cmd", "job {db}", "--parallel-cmd", "job {db} {tasks}")
    settings = from_args(_args("--harness-config", str(toml), *loose))
    assert settings.roles.control.name == "custom"
    assert settings.roles.control.serial_cmd == "job {db}"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"wall_s": "fast"}, r"runs\[0\].wall_s must be a number \(got 'fast'\)"),
        ({"round": None}, r"runs\[0\].round must be an integer"),
        ({"failed": 1}, r"runs\[0\].failed must be true or false \(got 1\)"),
        ({"command": "python x"}, r"runs\[0\].command must be a list of strings"),
    ],
)
def test_a_run_of_the_wrong_shape_is_refused_naming_the_field(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    """The one reader checks every run's fields: expected vs got, the field's path named."""
    ok = {"label": "serial-a", "round": 1, "mode": "serial", "wall_s": 1.5}
    data = _results([ok]).to_dict()
    data["runs"][0].update(change)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data))
    with pytest.raises(HarnessError, match=message):
        read_results(path)


def test_a_version_1_file_is_still_read() -> None:
    """Results written before schema version 2 (no CPU source, sampler or harness cost) read."""
    ok = {"label": "serial-a", "round": 1, "mode": "serial", "wall_s": 1.5, "identical": True}
    data = _results([ok]).to_dict()
    data["schema_version"] = 1
    results = Results.from_dict(data)
    assert results.schema_version == 1 and results.runs[0].cpu_source is None
    assert results.to_dict()["schema_version"] == SCHEMA_VERSION
