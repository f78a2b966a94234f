"""harness.reporting.console: the live progress line on a terminal and the summary table."""

from __future__ import annotations

import io
import os
import pty
import time
from dataclasses import replace

from harness.replay import RunSpec
from harness.reporting.analysis import analyse
from harness.reporting.console import Progress, summary_table
from harness.results import Run


def test_on_a_terminal_the_line_ticks_while_a_run_goes() -> None:
    """On a TTY the line is rewritten in place with the elapsed time, then a final line stays."""
    master, slave = pty.openpty()
    try:
        with os.fdopen(slave, "w", closefd=False) as stream:
            progress = Progress(total=2, rounds=1, stream=stream)
            spec = RunSpec(round=1, order=0, label="tasks=8", tasks=8)
            progress.start(0, spec)
            # progress, not a sleep: read until the ticker has rewritten the line once
            head = b"\r\x1b[K[round 1/1] tasks=8 (run 1/2)"
            chunks = []
            while b"".join(chunks).count(head) < 2:
                chunks.append(os.read(master, 65536))
            run = Run(round=1, label="tasks=8", mode="parallel", tasks=8, wall_s=0.7, cpu_s=0.1)
            progress.done(0, spec, replace(run, identical=True))
        os.set_blocking(master, False)
        while True:
            try:
                chunk = os.read(master, 65536)
            except BlockingIOError:
                break
            chunks.append(chunk)
        text = b"".join(chunks).decode()
    finally:
        os.close(master)
        os.close(slave)
    assert text.count("\r\x1b[K[round 1/1] tasks=8 (run 1/2)") >= 3  # start + ticks + final
    assert " s ..." in text
    assert text.rstrip().endswith("identical")


def test_summary_table_has_one_row_per_configuration_and_the_verdict() -> None:
    """Serial first with speed-up 1.00x, then each task count; red verdicts name the table."""

    def run(label: str, tasks: int, wall: float, identical: bool = True) -> dict[str, object]:
        return {
            "label": label,
            "round": 1,
            "tasks": tasks,
            "mode": "serial" if tasks == 0 else "parallel",
            "wall_s": wall,
            "cpu_s": wall,
            "peak_pss_bytes": 2**20,
            "failed": False,
            "identical": identical,
            "diff": None if identical else {"wallet_exclusions": {"differ": 1}},
        }

    runs = [run("serial-a", 0, 2.0), run("tasks=4", 4, 1.0, False), run("serial-b", 0, 2.0)]
    results = {
        "kind": "persona-bench.validate",
        "schema_version": 2,
        "runs": runs,
        "settings": {"tables": ["wallet_exclusions"], "ignore_columns": []},
        "verdict": {
            "identical": False,
            "reference": "round 1 serial-a",
            "mismatched_runs": 1,
            "failed_runs": 0,
            "mismatches": [
                {"label": "tasks=4", "round": 1, "tables": {"wallet_exclusions": {"differ": 1}}}
            ],
        },
    }
    lines = summary_table(analyse(results)).splitlines()
    assert lines[2].split()[:2] == ["serial", "2/2"] and "1.00x" in lines[2]
    assert lines[3].split()[0] == "tasks=4" and "2.00x" in lines[3]
    assert "ignored columns: none" in "\n".join(lines)
    assert any("VERDICT: NOT identical" in line for line in lines)
    assert any("tasks=4: wallet_exclusions: 1 differ" in line for line in lines)


def test_without_a_terminal_only_final_lines_are_written() -> None:
    """A non-TTY stream gets exactly one line per run and no carriage returns."""
    stream = io.StringIO()
    progress = Progress(total=1, rounds=1, stream=stream)
    spec = RunSpec(round=1, order=0, label="serial-a", tasks=0)
    progress.start(0, spec)
    time.sleep(0.3)
    run = Run(round=1, label="serial-a", mode="serial", tasks=0, wall_s=0.3, cpu_s=0.1)
    progress.done(0, spec, replace(run, identical=True))
    assert stream.getvalue().count("\n") == 1
    assert "\r" not in stream.getvalue()
    assert stream.getvalue().strip().endswith("identical")


def test_a_failed_run_shows_its_exit_status_and_stderr_tail_under_its_line() -> None:
    """A failed run's final line is followed by its exit status and the last stderr lines."""
    stream = io.StringIO()
    progress = Progress(total=1, rounds=1, stream=stream)
    spec = RunSpec(round=1, order=0, label="tasks=2", tasks=2)
    progress.start(0, spec)
    stderr = "".join(f"line {i}\n" for i in range(1, 21))
    record = Run(
        round=1,
        label="tasks=2",
        mode="parallel",
        tasks=2,
        wall_s=0.3,
        cpu_s=0.1,
        failed=True,
        failure="exit status 3",
        exit_code=3,
        stderr_tail=stderr,
    )
    progress.done(0, spec, record)
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith("FAILED (exit status 3)")
    assert all(line.startswith("    ") for line in lines[1:])
    assert "    exit status 3" in lines
    assert lines[-1].endswith("| line 20") and not any(line.endswith("| line 17") for line in lines)
