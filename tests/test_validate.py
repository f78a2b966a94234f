"""Tests for `persona-bench validate`: real processes on real copies; verdicts that can fail."""

from __future__ import annotations

import json
import math
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from harness.results import SCHEMA_NAME, SCHEMA_VERSION
from persona_bench.cli import main
from persona_bench.kernel.sqlitefile import connect_ro
from tests.harness_support import NOW, make_db, toy_template
from tests.helpers import bulk_db

IGNORE = ["--ignore-column", "job_status.duration_ms"]


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A small production-shaped source database."""
    return make_db(tmp_path / "source.db", wallets=120)


def _validate(
    source: Path, out: Path, serial: str, parallel: str, *extra: str
) -> tuple[int, dict[str, Any]]:
    code = main(
        [
            "validate",
            "--db",
            str(source),
            "--serial-cmd",
            serial,
            "--parallel-cmd",
            parallel,
            "--tasks",
            "2",
            "--repeat",
            "1",
            "--now",
            str(NOW),
            "--out",
            str(out),
            *extra,
        ]
    )
    results = json.loads((out / "results.json").read_text())
    return code, results


def _broken_parallel(mode: str) -> str:
    return toy_template(mode, "--only-parallel")


def test_a_deterministic_target_is_green(source: Path, tmp_path: Path) -> None:
    """A target writing the same rows every time: exit 0, every run identical, settings recorded."""
    code, results = _validate(source, tmp_path / "out", toy_template(), toy_template(), *IGNORE)
    assert code == 0
    assert results["schema_version"] == SCHEMA_VERSION and results["kind"] == SCHEMA_NAME
    assert [r["label"] for r in results["runs"]] == ["serial-a", "tasks=2", "serial-b"]
    assert all(r["identical"] and not r["failed"] for r in results["runs"])
    assert results["verdict"]["identical"] is True
    assert results["verdict"]["reference"] == "round 1 serial-a (custom)"
    assert results["settings"]["ignore_columns"] == ["job_status.duration_ms"]
    assert results["settings"]["now"] == NOW
    assert results["snapshot"]["row_counts"]["wallets"] == 120
    assert results["runs"][1]["summary"]["tasks"] == 2  # the target's stdout JSON
    command = results["runs"][1]["command"]
    assert command[command.index("--tasks") + 1] == "2"
    assert (tmp_path / "out" / "report.md").exists()


def test_the_harness_cost_is_in_results_console_and_report(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Per run: sampler cost and overhead steps; snapshot step times; shown on both outputs."""
    code, results = _validate(source, tmp_path / "out", toy_template(), toy_template(), *IGNORE)
    assert code == 0
    for run in results["runs"]:
        assert run["sampler"]["samples"] == run["samples"] >= 1
        assert run["sampler"]["cpu_s"] >= 0 and run["sampler"]["share_of_wall"] is not None
        steps = run["overhead"]
        assert set(steps) >= {"copy_s", "fsync_s", "read_s", "compare_s", "total_s"}
        assert steps["total_s"] >= steps["copy_s"] + steps["fsync_s"] + steps["read_s"]
        assert run["cpu_source"] in ("rusage", "proc")
    snapshot = results["snapshot"]
    assert snapshot["check"] == "integrity_check"
    assert set(snapshot["timings"]) == {"backup_s", "check_s", "counts_s", "hash_s"}
    out = capsys.readouterr().out
    assert "harness per run (median of 3)" in out and "x copy+fsync (goal <= 1.5x)" in out
    assert "memory sampler:" in out and "snapshot: backup" in out
    report = (tmp_path / "out" / "report.md").read_text()
    assert "### Harness Cost" in report and "ratio to copy + fsync" in report


def test_quick_check_is_an_option(source: Path, tmp_path: Path) -> None:
    """--check quick verifies the snapshot with quick_check, and the manifest says so."""
    code, results = _validate(
        source, tmp_path / "out", toy_template(), toy_template(), *IGNORE, "--check", "quick"
    )
    assert code == 0
    assert results["snapshot"]["check"] == "quick_check"
    assert results["snapshot"]["integrity_check"] == "ok"


def test_a_dropped_row_is_a_mismatch_naming_table_and_row(source: Path, tmp_path: Path) -> None:
    """A parallel path that drops one wallet's row: exit 1, one row missing in wallet_exclusions."""
    code, results = _validate(
        source, tmp_path / "out", toy_template(), _broken_parallel("skip-row"), *IGNORE
    )
    assert code == 1
    verdict = results["verdict"]
    assert verdict["identical"] is False and verdict["mismatched_runs"] == 1
    (mismatch,) = verdict["mismatches"]
    assert mismatch["label"] == "tasks=2"
    assert list(mismatch["tables"]) == ["wallet_exclusions"]
    table = mismatch["tables"]["wallet_exclusions"]
    # ids are compared: the rows after the dropped one moved up an id, and the last id is missing
    assert table["missing"] == 1 and table["extra"] == 0
    assert table["differ"] > 0 and table["id_shifted"] == table["differ"]
    assert table["examples"][0]["key"].startswith("id=")
    # ids aside, exactly one row is really absent, and it is named
    natural = table["by_natural_key"]
    assert (natural["missing"], natural["extra"]) == (1, 0)
    assert natural["missing_examples"][0].startswith("proxy_wallet='0x")
    assert (tmp_path / "out" / "mismatch-round1-tasks2.db").exists()
    assert (tmp_path / "out" / "reference.db").exists()
    assert not (tmp_path / "out" / ".work").exists()


def test_a_candidate_that_destroys_its_inputs_is_red_naming_each_table(
    source: Path, tmp_path: Path
) -> None:
    """Right output rows, but half the trades deleted, wallets deactivated, markets dropped."""
    code, results = _validate(
        source, tmp_path / "out", toy_template(), _broken_parallel("destroy-inputs"), *IGNORE
    )
    assert code == 1
    assert results["verdict"]["identical"] is False
    bad = results["runs"][1]
    assert bad["label"] == "tasks=2" and bad["failed"]
    assert sorted(bad["inputs_changed"]) == ["markets", "trades_raw", "wallets"]
    assert "table markets dropped" in bad["inputs_changed"]["markets"]
    assert "rows deleted" in bad["inputs_changed"]["trades_raw"]
    assert "changed its input tables: markets" in bad["failure"]
    serial = [r for r in results["runs"] if r["mode"] == "serial"]
    assert all(r["identical"] and r["inputs_changed"] == {} for r in serial)
    check = results["input_check"]
    assert check["changed_runs"] == 1 and check["runs_checked"] == 3
    assert check["method"] == "pages" and "trades_raw" in check["tables"]
    assert check["total_s"] >= check["reference_s"] > 0
    report = (tmp_path / "out" / "report.md").read_text()
    assert "changed its input tables" in report and "CHANGED by 1 run(s)" in report


def test_a_candidate_that_only_moves_pages_is_green(source: Path, tmp_path: Path) -> None:
    """A VACUUM after writing moves every page of the inputs but changes no row: not red."""
    code, results = _validate(
        source, tmp_path / "out", toy_template(), _broken_parallel("vacuum"), *IGNORE
    )
    assert code == 0, results["verdict"]
    assert results["runs"][1]["inputs_changed"] == {}


def test_a_float_changed_in_its_last_bit_is_a_mismatch(source: Path, tmp_path: Path) -> None:
    """One metric_value off by one ulp: exactly one differing row, both bit patterns shown."""
    code, results = _validate(
        source, tmp_path / "out", toy_template(), _broken_parallel("float-bit"), *IGNORE
    )
    assert code == 1
    table = results["verdict"]["mismatches"][0]["tables"]["wallet_exclusions"]
    assert (table["differ"], table["missing"], table["extra"]) == (1, 0, 0)
    example = table["examples"][0]
    expected, got = example["expected"]["metric_value"], example["got"]["metric_value"]
    exact = [float.fromhex(text.split(" (")[1].rstrip(")")) for text in (expected, got)]
    assert math.nextafter(exact[0], math.inf) == exact[1]


def test_another_timestamp_is_a_mismatch_in_every_table(source: Path, tmp_path: Path) -> None:
    """A run writing another timestamp differs in every output table."""
    code, results = _validate(
        source, tmp_path / "out", toy_template(), _broken_parallel("other-timestamp"), *IGNORE
    )
    assert code == 1
    tables = results["verdict"]["mismatches"][0]["tables"]
    assert set(tables) == {
        "wallet_personas",
        "wallet_exclusions",
        "wallet_persona_traits",
        "job_status",
    }
    assert tables["job_status"]["differ"] == 1


def test_rows_in_another_order_are_caught_as_nondeterminism(source: Path, tmp_path: Path) -> None:
    """Rows written in a random order (ids differ) fail even the serial A/A pair."""
    shuffled = toy_template("shuffle")
    code, results = _validate(source, tmp_path / "out", shuffled, shuffled, *IGNORE)
    assert code == 1
    verdict = results["verdict"]
    assert verdict["nondeterministic"] is True
    serial_b = next(r for r in results["runs"] if r["label"] == "serial-b")
    assert serial_b["identical"] is False
    assert serial_b["diff"]["wallet_exclusions"]["id_shifted"] > 0


def test_ignoring_the_wall_clock_column_is_required_for_a_green_verdict(
    source: Path, tmp_path: Path
) -> None:
    """With the timestamp columns ignored, a run writing another timestamp is green."""
    ignore = [
        "--ignore-column=wallet_personas.classified_at",
        "--ignore-column=wallet_exclusions.excluded_at",
        "--ignore-column=wallet_persona_traits.computed_at",
        "--ignore-column=job_status.last_run_at",
        "--ignore-column=job_status.updated_at",
        "--ignore-column=job_status.duration_ms",
    ]
    code, results = _validate(
        source, tmp_path / "out", toy_template(), _broken_parallel("other-timestamp"), *ignore
    )
    assert code == 0
    assert len(results["settings"]["ignore_columns"]) == 6


@pytest.mark.parametrize(
    ("mode", "extra", "failure"),
    [
        ("fail", [], "exit status 3"),
        ("nothing", [], "wrote nothing"),
        ("hang", ["--run-timeout", "1"], "timed out"),
    ],
)
def test_failed_runs_are_listed_never_skipped(
    source: Path, tmp_path: Path, mode: str, extra: list[str], failure: str
) -> None:
    """A run that exits non-zero, writes nothing or times out is failed, with its stderr tail."""
    code, results = _validate(
        source, tmp_path / "out", toy_template(), _broken_parallel(mode), *IGNORE, *extra
    )
    assert code == 1
    run = next(r for r in results["runs"] if r["label"] == "tasks=2")
    assert run["failed"] is True and run["identical"] is False
    assert failure in run["failure"]
    assert results["verdict"]["failed_runs"] == 1
    if mode == "fail":
        assert run["exit_code"] == 3
        assert "simulated failure" in run["stderr_tail"]
    if mode == "hang":
        assert run["timed_out"] is True


def test_templates_from_a_harness_config_file(source: Path, tmp_path: Path) -> None:
    """A [harness] table gives the templates, tables and ignored columns like the options do."""
    toml = tmp_path / "harness.toml"
    toml.write_text(
        "[harness]\n"
        f"serial_cmd = {json.dumps(toy_template())}\n"
        f"parallel_cmd = {json.dumps(_broken_parallel('drop-row'))}\n"
        'tables = ["wallet_personas", "job_status"]\n'
        'ignore_columns = ["job_status.duration_ms"]\n'
        "tasks = [3]\n"
    )
    code = main(
        [
            *("validate", "--db", str(source), "--harness-config", str(toml), "--repeat", "1"),
            *("--now", str(NOW), "--out", str(tmp_path / "out")),
        ]
    )
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    # the dropped row is in wallet_exclusions, which this configuration does not compare
    assert code == 0
    assert results["settings"]["tables"] == ["wallet_personas", "job_status"]
    assert [r["tasks"] for r in results["runs"]] == [0, 3, 0]


def test_progress_is_one_line_per_run_when_stderr_is_not_a_terminal(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a TTY, stderr gets one line per run, with its round, label and outcome."""
    _validate(source, tmp_path / "out", toy_template(), toy_template(), *IGNORE)
    err = capsys.readouterr().err.splitlines()
    runs = [line for line in err if line.startswith("[round")]
    assert len(runs) == 3
    assert runs[1].startswith("[round 1/1] tasks=2 (run 2/3)") and runs[1].endswith("identical")
    assert not any("\r" in line for line in err)


def test_now_comes_from_the_fixture_meta_table(source: Path, tmp_path: Path) -> None:
    """Without --now, the database's persona_bench_meta 'now' is the runs' clock."""
    conn = sqlite3.connect(source)
    with conn:
        conn.execute("CREATE TABLE persona_bench_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.execute("INSERT INTO persona_bench_meta VALUES ('now', '1700000000')")
    conn.close()
    out = tmp_path / "out"
    code = main(
        [
            *("validate", "--db", str(source), "--serial-cmd", toy_template(), "--parallel-cmd"),
            *(toy_template(), "--tasks", "2", "--repeat", "1", "--out", str(out), *IGNORE),
        ]
    )
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert results["settings"]["now"] == 1700000000
    assert "1700000000" in results["runs"][0]["command"]


@pytest.mark.parametrize(
    "argv",
    [
        ["--tasks", "0"],
        ["--tasks", "abc"],
        ["--tasks", "4,,8"],
        ["--repeat", "0"],
        ["--run-timeout", "-1"],
        ["--ignore-column", "duration_ms"],
        ["--ignore-column", "nosuchtable.x"],
        ["--ignore-column", "job_status.nosuchcolumn"],
        ["--serial-cmd", "job --db {db} --threads {threads}", "--parallel-cmd", "job --db {db}"],
        ["--serial-cmd", "job --nodb", "--parallel-cmd", "job --db {db}"],
        ["--serial-cmd", "job --db {db} --config {config}", "--parallel-cmd", "job --db {db}"],
        ["--config", "/no/such/config.toml"],
        ["--profile", "prod"],  # together with --db
        ["--baseline", "/no/such/results.json"],
        ["--backend", "gpu"],  # the reference classifier has process and thread workers only
    ],
)
def test_bad_input_exits_2_without_running(
    source: Path, tmp_path: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad options are one line on stderr and exit code 2; no run starts."""
    out = tmp_path / "out"
    base = ["validate", "--db", str(source), "--out", str(out)]
    with pytest.raises(SystemExit) as exc:  # argparse errors exit 2 via SystemExit
        code = main([*base, *argv])
        raise SystemExit(code)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err
    assert "Traceback" not in err
    assert not (out / "results.json").exists()


def test_one_table_of_the_reference_classifier_can_be_compared_alone(tmp_path: Path) -> None:
    """--table narrows the default ignore list too: no message about another table."""
    # bulk_db's wallets reach Stage 2, so exclusions are written
    source, out = bulk_db(tmp_path / "bulk.db", wallets=120), tmp_path / "out"
    code = main(
        [
            *("validate", "--db", str(source), "--table", "wallet_exclusions", "--tasks", "2"),
            *("--repeat", "1", "--now", str(NOW), "--out", str(out)),
        ]
    )
    results = json.loads((out / "results.json").read_text())
    assert code == 0, results["verdict"]
    assert results["settings"]["tables"] == ["wallet_exclusions"]
    assert results["settings"]["ignore_columns"] == []


def test_an_ignored_column_of_a_table_not_compared_names_that_table(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Asked for explicitly, the column's own table is the one named."""
    argv = ["validate", "--db", str(source), "--table", "wallet_personas"]
    assert main([*argv, "--ignore-column", "job_status.duration_ms"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "persona-bench validate: error: ignored column 'job_status.duration_ms': table "
        "'job_status' is not compared (compared: wallet_personas)"
    )


def test_a_missing_source_is_refused_and_not_created(tmp_path: Path) -> None:
    """A --db that does not exist is bad input, and the harness does not create it."""
    missing = tmp_path / "missing.db"
    assert main(["validate", "--db", str(missing), "--out", str(tmp_path / "out")]) == 2
    assert not missing.exists()


def test_the_source_is_not_modified(source: Path, tmp_path: Path) -> None:
    """Runs work on copies: the source's bytes are unchanged after a validation."""
    before = source.read_bytes()
    _validate(source, tmp_path / "out", toy_template(), toy_template(), *IGNORE)
    assert source.read_bytes() == before
    conn = connect_ro(source)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert "persona_bench_meta" not in tables
    assert not Path(f"{source}-wal").exists() or Path(f"{source}-wal").stat().st_size == 0


def test_the_reference_classifier_is_the_default_target(source: Path, tmp_path: Path) -> None:
    """Without templates our classifier runs, duration_ms is ignored, and the verdict is green."""
    out = tmp_path / "out"
    code = main(
        [
            *("validate", "--db", str(source), "--tasks", "2", "--repeat", "1"),
            *("--now", str(NOW), "--out", str(out)),
        ]
    )
    results = json.loads((out / "results.json").read_text())
    assert code == 0, results["verdict"]
    assert results["settings"]["ignore_columns"] == ["job_status.duration_ms"]
    assert results["runs"][0]["command"][1:4] == ["-m", "persona_bench", "classify"]
    assert results["runs"][0]["summary"]["mode"] == "serial"
    assert results["runs"][1]["summary"]["tasks"] == 2


def _start_hanging(source: Path, out: Path | None, pidfile: Path, cwd: Path | None = None):
    """A validation whose parallel run hangs (its job and a child of it write ``pidfile``)."""
    hang = _broken_parallel("hang") + f" --pidfile {pidfile}"
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "persona_bench", "validate", "--db", str(source)),
            *("--serial-cmd", toy_template(), "--parallel-cmd", hang, "--tasks", "2"),
            *("--repeat", "1", "--now", str(NOW), *IGNORE),
            *(("--out", str(out)) if out is not None else ()),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        # a shell runs background jobs with SIGINT ignored, and Python then installs no
        # KeyboardInterrupt handler: give the child the terminal's default, as Ctrl-C meets it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _job_pids(proc: subprocess.Popen[str], pidfile: Path) -> list[int]:
    """Wait (by progress: the file appears, written whole) for the hanging run's process ids."""
    while not pidfile.exists():
        assert proc.poll() is None, proc.communicate()[1]
        time.sleep(0.02)
    return [int(line) for line in pidfile.read_text().split()]


def _gone(pid: int) -> bool:
    return not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


@pytest.mark.parametrize(
    ("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"]
)
def test_an_interrupted_validation_writes_red_results_kills_its_run_and_cleans_up(
    source: Path, tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    """Ctrl-C or SIGTERM mid-run: exit 128+N, red results marked so, job tree killed, no .work."""
    out, pidfile = tmp_path / "out", tmp_path / "job.pid"
    proc = _start_hanging(source, out, pidfile)
    pids = _job_pids(proc, pidfile)
    assert (out / ".work" / "run.db").exists()  # the run's copy is there while it runs
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert err.strip().splitlines()[-1] == f"persona-bench validate: interrupted ({sig.name})"
    assert "Traceback" not in err
    results = json.loads((out / "results.json").read_text())
    assert results["verdict"]["identical"] is False
    assert results["verdict"]["interrupted"] == sig.name
    assert [r["label"] for r in results["runs"]] == ["serial-a"]
    assert len(pids) == 2 and all(_gone(pid) for pid in pids)  # the job and its child
    assert not (out / ".work").exists()
    assert sorted(p.name for p in out.iterdir()) == ["results.json"]


def test_a_second_validation_of_the_same_folder_is_refused(source: Path, tmp_path: Path) -> None:
    """One validation per output folder: the second exits 2 with one line and touches nothing."""
    out, pidfile = tmp_path / "out", tmp_path / "job.pid"
    first = _start_hanging(source, out, pidfile)
    try:
        _job_pids(first, pidfile)
        work = sorted(p.name for p in (out / ".work").iterdir())
        second = subprocess.run(
            [
                *(sys.executable, "-m", "persona_bench", "validate", "--db", str(source)),
                *("--serial-cmd", toy_template(), "--parallel-cmd", toy_template()),
                *("--tasks", "2", "--repeat", "1", "--out", str(out), *IGNORE),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert second.returncode == 2
        assert second.stderr.splitlines() == [
            f"persona-bench validate: error: output folder {out} is in use by another "
            "validation; wait for it or give another --out"
        ]
        assert sorted(p.name for p in (out / ".work").iterdir()) == work  # left alone
        assert not (out / "results.json").exists() and first.poll() is None
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    assert first.returncode == 143


def test_validations_started_together_get_their_own_default_folders(
    source: Path, tmp_path: Path
) -> None:
    """Two validations with the default folder at the same time: both complete, apart."""
    argv = [
        *(sys.executable, "-m", "persona_bench", "validate", "--db", str(source)),
        *("--serial-cmd", toy_template(), "--parallel-cmd", toy_template()),
        *("--tasks", "2", "--repeat", "1", "--now", str(NOW), *IGNORE),
    ]
    procs = [
        subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    folders = sorted(p.name for p in (tmp_path / "reports").iterdir())
    assert len(folders) == 2 and folders[1] == folders[0] + "-2"
    for folder in folders:
        assert (tmp_path / "reports" / folder / "results.json").exists()


def test_the_default_folder_is_never_one_created_after_the_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race of two starts: a folder created between a look and a mkdir is not shared."""
    from harness.workdir import default_out

    first = default_out("x", tmp_path)
    # the other validation's folder exists, but this one looked before it was created
    monkeypatch.setattr(Path, "exists", lambda self: False)
    second = default_out("x", tmp_path)
    assert second != first and second.name == first.name + "-2"
