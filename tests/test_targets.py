"""Named targets, control vs candidate, the default ignore list and failed runs on the console.

Every validation here runs real processes (``tests/targets/toy_job.py``, a stand-alone target) on
real copies of a real WAL database.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from persona_bench.cli import main
from tests.harness_support import NOW, TOY_JOB, make_db, toy_template


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A small production-shaped source database."""
    return make_db(tmp_path / "source.db", wallets=90)


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "harness.toml"
    path.write_text(text)
    return path


def _targets(**modes: str) -> str:
    """``[targets.NAME]`` tables running the toy job in a mode each (serial and parallel)."""
    return "".join(
        f"[targets.{name}]\n"
        f"serial_cmd = {json.dumps(toy_template(mode))}\n"
        f"parallel_cmd = {json.dumps(toy_template(mode))}\n"
        for name, mode in modes.items()
    )


def _run(source: Path, out: Path, *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(
        [
            *("validate", "--db", str(source), "--tasks", "2", "--repeat", "1"),
            *("--now", str(NOW), "--out", str(out), *argv),
        ]
    )
    return code, json.loads((out / "results.json").read_text())


def test_a_correct_candidate_is_green_and_both_targets_are_named(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Candidate writing the control's rows: exit 0, roles in results, console and report."""
    toml = _toml(tmp_path, "[harness]\n" + _targets(old="deterministic", new="deterministic"))
    code, results = _run(
        source,
        tmp_path / "out",
        "--harness-config",
        str(toml),
        "--control",
        "old",
        "--candidate",
        "new",
    )
    assert code == 0, results["verdict"]
    settings = results["settings"]
    assert (settings["kind"], settings["control"], settings["candidate"]) == (
        "control-vs-candidate",
        "old",
        "new",
    )
    assert [t["name"] for t in settings["targets"]] == ["old", "new"]
    runs = [(r["label"], r["target"], r["role"]) for r in results["runs"]]
    assert runs == [
        ("serial-a", "old", "control"),
        ("new serial", "new", "candidate"),
        ("new tasks=2", "new", "candidate"),
        ("serial-b", "old", "control"),
    ]
    assert all(r["identical"] for r in results["runs"])
    assert results["verdict"]["reference"] == "round 1 serial-a (old)"
    captured = capsys.readouterr()
    roles = "control: old; candidate: new"
    assert captured.err.count(roles) == 1 and captured.out.count(roles) == 1  # said once each
    assert "A/A noise (serial vs serial" in captured.out  # the control's pair, not the candidate
    assert "[round 1/1] old serial-a (run 1/4)" in captured.err
    assert "[round 1/1] new tasks=2 (run 3/4)" in captured.err
    report = (tmp_path / "out" / "report.md").read_text()
    assert roles in report and "Serial command of `new`" in report


def test_a_candidate_with_one_changed_row_is_red_and_the_row_is_named(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A candidate whose one metric is off by one ulp: exit 1, that row of that table named."""
    toml = _toml(tmp_path, "[harness]\n" + _targets(old="deterministic", new="float-bit"))
    code, results = _run(
        source,
        tmp_path / "out",
        "--harness-config",
        str(toml),
        "--control",
        "old",
        "--candidate",
        "new",
    )
    assert code == 1
    verdict = results["verdict"]
    # the control agrees with itself: the difference is the candidate's, not nondeterminism
    assert verdict["nondeterministic"] is False
    assert {m["label"] for m in verdict["mismatches"]} == {"new serial", "new tasks=2"}
    table = verdict["mismatches"][0]["tables"]["wallet_exclusions"]
    assert (table["differ"], table["missing"], table["extra"]) == (1, 0, 0)
    assert table["columns"] == ["metric_value"]
    assert verdict["time_columns_only"] is None
    key = table["examples"][0]["key"]
    out = capsys.readouterr().out
    assert "new serial: wallet_exclusions: 1 differ" in out
    assert key in out and "metric_value" in out
    assert "control: old; candidate: new" in out


def test_a_serial_only_target_can_be_a_candidate_but_not_validated_alone(
    source: Path, tmp_path: Path
) -> None:
    """Explicit roles accept a target without parallel command; --target refuses it."""
    toml = _toml(
        tmp_path,
        '[harness]\ncontrol = "old"\ncandidate = "new"\n'
        + _targets(old="deterministic")
        + f"[targets.new]\nserial_cmd = {json.dumps(toy_template())}\n",
    )
    code, results = _run(source, tmp_path / "out", "--harness-config", str(toml))
    assert code == 0, results["verdict"]
    assert [r["label"] for r in results["runs"]] == ["serial-a", "new serial", "serial-b"]
    refused = main(
        [
            "validate",
            "--db",
            str(source),
            "--harness-config",
            str(toml),
            "--target",
            "new",
            "--out",
            str(tmp_path / "refused"),
        ]
    )
    assert refused == 2 and not (tmp_path / "refused").exists()


@pytest.mark.parametrize(
    ("argv", "toml", "message"),
    [
        (["--serial-cmd", toy_template()], None, "--serial-cmd without --parallel-cmd"),
        ([], f"[harness]\nserial_cmd = {json.dumps(toy_template())}\n", "serial_cmd without"),
        (["--parallel-cmd", toy_template()], None, "a parallel command without a serial"),
        (["--control", "reference"], None, "needs its counterpart"),
        (["--control", "reference", "--candidate", "nope"], None, "no such target"),
        (["--control", "reference", "--candidate", "reference"], None, "the same target"),
        (["--target", "x", "--control", "a", "--candidate", "b"], None, "one or the other"),
        ([], '[targets.reference]\nserial_cmd = "j {db}"\n', "built-in target name"),
        ([], '[targets.p]\nparallel_cmd = "j {db}"\n', "has no serial_cmd"),
        ([], '[targets.p]\nserial_cmd = "j {db}"\nthreads = 2\n', "not a known key"),
        (
            ["--target", "p"],
            '[targets.p]\nserial_cmd = "${NO_SUCH_VAR_12} {db}"\nparallel_cmd = "j {db}"\n',
            "NO_SUCH_VAR_12 is not set",
        ),
        (["--no-ignore", "--ignore-column", "job_status.duration_ms"], None, "contradict"),
    ],
)
def test_a_half_specified_or_unknown_target_is_refused_in_one_line(
    source: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    toml: str | None,
    message: str,
) -> None:
    """Exit 2, one line on stderr naming the problem, nothing run, no output folder."""
    out = tmp_path / "out"
    extra = ["--harness-config", str(_toml(tmp_path, toml))] if toml else []
    code = main(["validate", "--db", str(source), "--out", str(out), *extra, *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("persona-bench validate: error: ")
    assert message in err
    assert not out.exists()


def test_half_specified_loose_templates_are_accepted_when_the_roles_are_explicit(
    source: Path, tmp_path: Path
) -> None:
    """--serial-cmd alone is the target 'custom'; named as the control, its serial path runs."""
    code, results = _run(
        source,
        tmp_path / "out",
        "--serial-cmd",
        toy_template(),
        "--control",
        "custom",
        "--candidate",
        "reference",
    )
    # our classifier and the toy job write different rows: red, and the candidate is named
    assert code == 1
    assert results["settings"]["roles"].startswith("control: custom; candidate: reference")
    assert {m["label"] for m in results["verdict"]["mismatches"]} == {
        "reference serial",
        "reference tasks=2",
    }


def test_environment_variables_in_a_target_are_expanded(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """${NAME} in a template is the environment's NAME; the run's argv holds the value."""
    monkeypatch.setenv("TOY_PYTHON_12", sys.executable)
    monkeypatch.setenv("TOY_JOB_12", str(TOY_JOB))
    cmd = "${TOY_PYTHON_12} ${TOY_JOB_12} --db {db} --tasks {tasks} --now {now}"
    toml = _toml(
        tmp_path,
        f'[harness]\ntarget = "toy"\n[targets.toy]\nserial_cmd = "{cmd}"\nparallel_cmd = "{cmd}"\n',
    )
    code, results = _run(source, tmp_path / "out", "--harness-config", str(toml))
    assert code == 0, results["verdict"]
    assert results["runs"][0]["command"][:2] == [sys.executable, str(TOY_JOB)]
    assert results["settings"]["targets"][0]["serial_cmd"] == cmd  # recorded as written


def test_duration_ms_is_ignored_by_default_for_any_target_and_can_be_compared(
    source: Path, tmp_path: Path
) -> None:
    """A custom target is green with duration_ms ignored by default; --no-ignore compares it."""
    toy = ["--serial-cmd", toy_template(), "--parallel-cmd", toy_template()]
    code, results = _run(source, tmp_path / "default", *toy)
    assert code == 0, results["verdict"]
    assert results["settings"]["ignore_columns"] == ["job_status.duration_ms"]
    assert results["settings"]["ignore_source"].startswith("default")
    assert "`job_status.duration_ms` (default" in (tmp_path / "default" / "report.md").read_text()
    # the toy job writes its real duration (>= 1 ms, varies): compared, it differs
    code, results = _run(source, tmp_path / "all", *toy, "--no-ignore")
    assert results["settings"]["ignore_columns"] == []
    if code == 1:  # two runs may take the same milliseconds: then the verdict is rightly green
        assert results["verdict"]["time_columns_only"] == ["job_status.duration_ms"]


def test_only_timestamps_differing_names_the_ignore_columns_that_would_apply(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A parallel path writing another time: red, and the verdict names the time columns."""
    code, results = _run(
        source,
        tmp_path / "out",
        "--serial-cmd",
        toy_template(),
        "--parallel-cmd",
        toy_template("other-timestamp", "--only-parallel"),
    )
    assert code == 1
    expected = [
        "wallet_personas.classified_at",
        "wallet_exclusions.excluded_at",
        "wallet_persona_traits.computed_at",
        "job_status.last_run_at",
        "job_status.updated_at",
    ]
    verdict = results["verdict"]
    assert verdict["time_columns_only"] == expected
    assert verdict["ignore_hint"] == " ".join(f"--ignore-column {c}" for c in expected)
    out = capsys.readouterr().out
    assert "only timestamp/duration columns differ" in out and verdict["ignore_hint"] in out
    assert verdict["ignore_hint"] in (tmp_path / "out" / "report.md").read_text()


@pytest.mark.parametrize(
    ("mode", "extra", "shown"),
    [
        ("fail", [], ["exit status 3", "| toy_job: simulated failure", "| toy_job: step 30 of 30"]),
        ("hang", ["--run-timeout", "1"], ["timed out after", "killed", "exit status -15"]),
    ],
)
def test_the_console_shows_a_failed_runs_exit_status_and_stderr_tail(
    source: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    mode: str,
    extra: list[str],
    shown: list[str],
) -> None:
    """The summary (stdout) and the progress line (stderr) both show why the run failed."""
    code, _ = _run(
        source,
        tmp_path / "out",
        "--serial-cmd",
        toy_template(),
        "--parallel-cmd",
        toy_template(mode, "--only-parallel"),
        *extra,
    )
    assert code == 1
    captured = capsys.readouterr()
    summary = captured.out[captured.out.index("VERDICT") :]
    for text in shown:
        assert text in summary
        assert text in captured.err
    if mode == "fail":
        assert "step 1 of 30" not in captured.out  # the tail, not the whole stderr


def test_a_green_candidate_gets_a_candidate_verdict_not_a_parallel_one(
    source: Path, tmp_path: Path
) -> None:
    """The report of a green control-vs-candidate says the candidate writes the control's rows."""
    toml = _toml(tmp_path, "[harness]\n" + _targets(old="deterministic", new="deterministic"))
    code, _ = _run(
        source,
        tmp_path / "out",
        "--harness-config",
        str(toml),
        "--control",
        "old",
        "--candidate",
        "new",
        "--repeat",
        "2",
    )
    assert code == 0
    report = (tmp_path / "out" / "report.md").read_text()
    assert "**Recommendation:** new writes old's rows" in report
    assert "parallel_enabled" not in report.split("## Conclusion")[1]
    assert "new serial:" in report and "new tasks=2:" in report
