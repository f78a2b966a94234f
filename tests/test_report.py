"""The validation report (reporting.report, reporting.plots): files written and what they say."""

from __future__ import annotations

import argparse
import json
import struct
from pathlib import Path
from typing import Any

import pytest

from harness.reporting import report
from harness.reporting.baseline import compare_results, render_comparison
from harness.reporting.plots import DPI, SIZE
from harness.results import Results, ResultsError
from persona_bench.kernel.errors import EXIT_BAD_INPUT
from tests.synthetic import synthetic_results

PNGS = ("wall.png", "speedup.png", "memory.png", "phases.png")
STEADY = [(20.0, 20.2)] * 5  # 5 rounds: the fewest with which a gain can be claimed
CASES = {  # name -> (synthetic_results arguments, expected headline, recommendation status)
    "clear gain": (
        {"parallel": {2: [12.0] * 5, 4: [11.0] * 5}},
        "deploy parallel_enabled = true, parallel_tasks = 4",
        "✅",
    ),
    "gain inside noise": (
        {"serial": [(20.0, 22.0)] * 5, "parallel": {2: [20.0] * 5}},
        "keep parallel_enabled = false",
        "✅",
    ),
    "parallel slower": (
        {"parallel": {2: [25.0] * 5, 4: [27.0] * 5}},
        "keep parallel_enabled = false",
        "✅",
    ),
    "mismatch": (
        {"parallel": {2: [12.0] * 5, 4: [11.0] * 5}, "mismatch": "tasks=2"},
        "do not deploy: outputs differ",
        "❌",
    ),
}


def _results(**kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("serial", STEADY)
    rounds = len(kwargs["serial"])
    kwargs.setdefault("parallel", {2: [12.0] * rounds, 4: [11.0] * rounds})
    return synthetic_results(**kwargs)


def _section(text: str, heading: str) -> str:
    """The body of a Markdown section, up to the next heading of any level."""
    body = text.split(heading + "\n", 1)[1]
    return body.split("\n#", 1)[0]


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _cli(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    report.add_arguments(parser)
    return parser.parse_args(argv)


@pytest.mark.parametrize("case", list(CASES))
def test_report_recommendation_for_each_case(tmp_path: Path, case: str) -> None:
    """Hand-made results give the right recommendation in the report and its conclusion."""
    kwargs, headline, status = CASES[case]
    text = report.render_report(_results(**kwargs), tmp_path).read_text()
    assert f"**{headline}**" in _section(text, "### Recommendation")
    assert f"**Recommendation:** {status} {headline}" in _section(text, "## Conclusion")


def test_report_writes_markdown_results_and_every_plot(tmp_path: Path) -> None:
    """report.md, results.json and four PNGs of the agreed size are written and referenced."""
    results = _results()
    path = report.render_report(results, tmp_path / "out")
    assert path == tmp_path / "out" / "report.md"
    text = path.read_text()
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert Results.from_dict(saved) == Results.from_dict(results)
    expected = (round(SIZE[0] * DPI), round(SIZE[1] * DPI))
    for name in PNGS:
        assert _png_size(tmp_path / "out" / name) == expected
        assert f"]({name})" in text
    # the seed's "pending" figures are all measured now; only the wallets still to classify remain
    assert "⏳" not in text
    assert [line for line in text.splitlines() if "pending" in line.lower()] == [
        "- **Wallets:** 17,657 active, 102 already classified, 17,555 pending classification"
    ]


def test_report_follows_the_seed_layout(tmp_path: Path) -> None:
    """Every section of the seed's document is there, in its order, with measured figures."""
    text = report.render_report(_results(), tmp_path).read_text()
    headings = [
        "## Implementation Summary",
        "## Environment",
        "## Database State",
        "### Serial Baseline",
        "### Parallel Runs",
        "### Where the Time Goes",
        "### Noise",
        "### Recommendation",
        "## Failed Runs",
        "## Ignored Columns",
        "## Conclusion",
    ]
    positions = [text.index(h + "\n") for h in headings]
    assert positions == sorted(positions)
    assert "17,555 pending classification" in text
    assert "- stage1_no_trades: 15,212" in text
    assert "`parallel_tasks = 8`" in text


def test_parallel_table_has_one_row_per_task_count_with_figures(tmp_path: Path) -> None:
    """Each task count has its median, range, speed-up, efficiency and determinism cell."""
    walls = [10.0, 10.1, 10.2, 10.1, 10.1]
    results = _results(parallel={2: walls, 4: [11.0] * 5}, mismatch="tasks=4")
    table = _section(report.render_report(results, tmp_path).read_text(), "### Parallel Runs")
    rows = {line.split(" | ")[0].strip("| "): line for line in table.splitlines() if "|" in line}
    assert "10.10 s (10.00 s to 10.20 s)" in rows["tasks=2"]
    assert f"{20.1 / 10.1:.2f}x" in rows["tasks=2"]
    assert "gain (p = 0.031, 5 rounds)" in rows["tasks=2"]
    assert rows["tasks=2"].endswith("| ✅ |")
    assert rows["tasks=4"].endswith("| ❌ |")


def test_mismatch_shows_first_differing_row_side_by_side(tmp_path: Path) -> None:
    """A mismatch lists the run, table and row, with only the differing column, both values."""
    results = _results(mismatch="tasks=4")
    example = results["verdict"]["mismatches"][0]["tables"]["wallet_exclusions"]["examples"][0]
    text = _section(report.render_report(results, tmp_path).read_text(), "### Mismatches")
    row = next(line for line in text.splitlines() if line.startswith("| tasks=4 r1 |"))
    assert "| wallet_exclusions | differ: id=17 |" in row
    assert f"metric_value={example['expected']['metric_value']!r}" in row
    assert f"metric_value={example['got']['metric_value']!r}" in row
    assert "reason=" not in row


def test_noise_section_lists_each_rounds_pair_by_label(tmp_path: Path) -> None:
    """Each round's A/A pair is shown as serial-a then serial-b, whatever order they ran in."""
    results = _results(serial=[(10.0, 11.0), (12.0, 10.5)])
    results["runs"].reverse()  # serial-b before serial-a in every round
    text = _section(report.render_report(results, tmp_path).read_text(), "### Noise")
    assert "- round 1: serial-a 10.00 s, serial-b 11.00 s: 10.0% apart" in text
    assert "- round 2: serial-a 12.00 s, serial-b 10.50 s: 14.3% apart" in text


def test_report_does_not_overwrite_existing_results_json(tmp_path: Path) -> None:
    """Re-rendering keeps the results.json already in the folder byte for byte."""
    (tmp_path / "results.json").write_text("original bytes\n")
    report.render_report(_results(), tmp_path)
    assert (tmp_path / "results.json").read_text() == "original bytes\n"


def test_failed_run_shows_exit_status_and_stderr_tail(tmp_path: Path) -> None:
    """A failed run is listed with its exit status and the tail of its stderr, never skipped."""
    text = report.render_report(_results(fail="tasks=4"), tmp_path).read_text()
    failed = text.split("## Failed Runs\n", 1)[1].split("\n## ", 1)[0]
    assert "| tasks=4 | 1 | 1 | no |" in failed
    assert "sqlite3.OperationalError: disk I/O error" in failed
    assert "**Runs:** ❌" in text


def test_ignored_columns_listed(tmp_path: Path) -> None:
    """The columns the comparison ignored are listed in the report."""
    results = _results()
    results["settings"]["ignore_columns"] = [
        "wallet_personas.classified_at",
        "job_status.duration_ms",
    ]
    text = _section(report.render_report(results, tmp_path).read_text(), "## Ignored Columns")
    assert "`wallet_personas.classified_at`, `job_status.duration_ms`" in text


def test_foreign_target_without_summaries_renders(tmp_path: Path) -> None:
    """Null summaries and missing memory figures give "n/a" and no phase plot, not a crash."""
    results = _results()
    for run in results["runs"]:
        run["summary"] = None
        del run["peak_pss_bytes"]
    text = report.render_report(results, tmp_path).read_text()
    assert "not reported by the target" in text
    assert "No phase timings" in text
    assert not (tmp_path / "phases.png").exists()
    assert not (tmp_path / "memory.png").exists()
    assert (tmp_path / "wall.png").exists()


def test_stale_plot_removed_on_rerender(tmp_path: Path) -> None:
    """A plot that no longer has data is removed, so report and folder agree."""
    report.render_report(_results(), tmp_path)
    results = _results()
    for run in results["runs"]:
        run["summary"] = None
    report.render_report(results, tmp_path)
    assert not (tmp_path / "phases.png").exists()


def test_comparison_included_and_written(tmp_path: Path) -> None:
    """A baseline regression is written to comparison.md and turns the conclusion red."""
    old = _results()
    new = _results(parallel={2: [16.0] * 5, 4: [11.0] * 5})
    comparison = compare_results(old, new)
    assert comparison.regressed
    text = report.render_report(new, tmp_path, comparison=comparison).read_text()
    assert (tmp_path / "comparison.md").read_text() == render_comparison(comparison)
    assert "## Baseline Comparison" in text
    assert "**Baseline:** ❌" in text


def test_report_cli_rerenders_beside_the_results(tmp_path: Path, capsys: Any) -> None:
    """`report RESULTS.json` re-renders into the results file's folder and prints the path."""
    (tmp_path / "results.json").write_text(json.dumps(_results()))
    assert report.run(_cli([str(tmp_path / "results.json")])) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "report.md")
    assert all((tmp_path / name).exists() for name in PNGS)


def test_report_cli_out_folder_gets_a_copy_of_the_results(tmp_path: Path) -> None:
    """`--out DIR` renders there, with a copy of the results beside the report."""
    src = tmp_path / "results.json"
    src.write_text(json.dumps(_results()))
    report.run(_cli([str(src), "--out", str(tmp_path / "elsewhere")]))
    copied = json.loads((tmp_path / "elsewhere" / "results.json").read_text())
    assert Results.from_dict(copied) == Results.from_dict(json.loads(src.read_text()))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("{not json", "not JSON"),
        ('{"kind": "persona-bench.validate", "schema_version": 1, "runs": "x"}', "no list of runs"),
        ('{"kind": "persona-bench.validate", "schema_version": 9}', "version 9 .expected 1 or 2"),
    ],
)
def test_report_cli_bad_input(tmp_path: Path, content: str | None, message: str) -> None:
    """An unusable results file is a one-line user error (exit 2) and nothing is written."""
    path = tmp_path / "in" / "results.json"
    if content is not None:
        path.parent.mkdir()
        path.write_text(content)
    with pytest.raises(ResultsError, match=message) as info:
        report.run(_cli([str(path), "--out", str(tmp_path / "out")]))
    assert info.value.exit_code == EXIT_BAD_INPUT
    assert not (tmp_path / "out").exists()


def test_unwritable_output_folder_is_a_user_error(tmp_path: Path) -> None:
    """An output path that is a file is refused with a one-line error."""
    (tmp_path / "file").write_text("")
    with pytest.raises(ResultsError, match="cannot create output folder"):
        report.render_report(_results(), tmp_path / "file" / "out")


def test_the_noise_section_says_how_much_cpu_the_host_took(tmp_path: Path) -> None:
    """Runs that carry host_steal_s: the Noise section gives the median share of a run's wall
    and the worst run; results without it (older files) show no such line."""
    data = _results()
    for run in data["runs"]:
        run["host_steal_s"] = 0.1 * run["wall_s"]  # 10% of every run's wall...
    worst = data["runs"][3]
    worst["host_steal_s"] = 0.5 * worst["wall_s"]  # ...but one
    text = report.render_report(data, tmp_path / "a").read_text()
    line = next(x for x in text.splitlines() if x.startswith("- Host steal"))
    assert "median 10.0% of a run's wall" in line
    assert f"round {worst['round']} {worst['label']} (50.0% of its wall)" in line
    plain = report.render_report(_results(), tmp_path / "b").read_text()
    assert "Host steal" not in plain
