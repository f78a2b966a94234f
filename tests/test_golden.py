"""Golden cases: the classifier, run in-process on each `fixtures/golden/*.json` database, must
leave exactly the case's hand-derived rows (ids included) and counters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from persona_bench.cli import main
from tests import golden

CASES = golden.case_paths()


def _run(case: golden.GoldenCase, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Any:
    db = tmp_path / "golden.db"
    cfg = tmp_path / "personas.toml"
    golden.build_db(case, db)
    golden.write_config(case, cfg)
    capsys.readouterr()
    argv = ["classify", "--db", str(db), "--now", str(case.now), "--config", str(cfg)]
    code = main([*argv, "--json", "--serial"])
    out, err = capsys.readouterr()
    want = case.expected.get("exit_code", 0)
    assert code == want, f"exit code {code}, expected {want}: {err}"
    if code:  # a run production aborts: one line on stderr, no summary
        assert len(err.strip().splitlines()) == 1 and "error:" in err, err
        return db, None
    return db, json.loads(out)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden_case(path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The classifier writes exactly the case's expected rows, counters and job status."""
    case = golden.load_case(path)
    db, summary = _run(case, tmp_path, capsys)
    problems: list[str] = []
    for table in golden.OUTPUT_TABLES:
        for line in golden.diff_rows(case.expected[table], golden.read_table(db, table)):
            problems.append(f"{table}: {line}")

    rows = golden.read_table(db, "job_status")
    assert [r["job_name"] for r in rows] == ["persona_classification"], "one job_status row"
    row = rows[0]
    metadata = json.loads(row["metadata"])
    counters = case.expected["counters"]
    assert set(counters) == set(golden.COUNTER_KEYS), "a case names every counter"
    got = summary["counters"] if summary else {k: metadata.get(k) for k in counters}
    for line in golden.diff_mapping(counters, got, exact=True):
        problems.append(f"counters: {line}")

    if "failures" in case.expected:
        got_failed = sorted(f["wallet"] for f in (summary or {}).get("failures", []))
        if got_failed != sorted(case.expected["failures"]):
            problems.append(f"failures: expected {case.expected['failures']}, got {got_failed}")

    want = dict(case.expected["job_status"])
    exact_metadata = bool(want.pop("metadata_exact", False))
    want_metadata = want.pop("metadata")
    error_like = want.pop("last_error_contains", None)
    if error_like is not None and error_like not in (row["last_error"] or ""):
        problems.append(f"job_status.last_error: expected {error_like!r} in {row['last_error']!r}")
    for line in golden.diff_mapping(want, row, exact=False):
        problems.append(f"job_status: {line}")
    for line in golden.diff_mapping(want_metadata, metadata, exact=exact_metadata):
        problems.append(f"job_status.metadata: {line}")
    assert not problems, f"{case.name}: {case.description}\n" + "\n".join(problems)


def test_golden_cases_exist_and_load() -> None:
    """Every golden case file loads and names each output table it is checked against."""
    assert len(CASES) >= 25
    for path in CASES:
        case = golden.load_case(path)
        assert set(golden.OUTPUT_TABLES) <= set(case.expected), case.name
        assert case.notes, case.name


def test_time_expressions_resolve_against_now() -> None:
    """`@now-1d+2h-3s` in a case is now - 86400 + 7200 - 3; other strings stay text."""
    assert golden.resolve("@now-1d+2h-3s", 1000000) == 1000000 - 86400 + 7200 - 3
    assert golden.resolve("@now", 5) == 5
    assert golden.resolve("abc", 5) == "abc"
    assert golden.format_ts(1767225600) == "2026-01-01 00:00:00.000"
    assert golden.resolve({"$blob": "00ff"}, 5) == b"\x00\xff"
    assert golden.resolve({"$real": "-inf"}, 5) == float("-inf")
