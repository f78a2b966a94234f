"""What ``validate`` shows a person: a live progress line on stderr and a summary table.

On a terminal the progress line is rewritten while a run goes (its elapsed time ticks, so a long
validation never looks hung) and a final line stays for each run; when stderr is not a terminal
(CI logs, files) only the final line of each run is written.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Mapping
from typing import Any, TextIO

from harness.inputs import describe
from harness.replay import RunSpec
from harness.reporting.analysis import RATIO_GOAL, Analysis, ConfigStats
from harness.results import Run

TICK_S = 0.2
STDERR_LINES_LIVE = 3  # under a failed run's progress line
STDERR_LINES_SUMMARY = 10  # under the summary's list of failed runs


def _mib(value: float | None) -> str:
    return "-" if not value else f"{value / 2**20:.0f} MiB"


def outcome(run: Run) -> str:
    """One word or phrase for a finished run."""
    if run.failed:
        return f"FAILED ({run.failure})"
    if run.identical is False:
        return "MISMATCH (" + ", ".join(run.diff or {}) + ")"
    if run.identical is None:
        return "not compared"
    return "identical"


class Progress:
    """Progress of the runs of one validation, on ``stream`` (stderr by default)."""

    def __init__(
        self, total: int, rounds: int, stream: TextIO | None = None, *, show_target: bool = False
    ) -> None:
        self.total, self.rounds = total, rounds
        self.show_target = show_target  # control vs candidate: every line names its target
        self.stream = stream if stream is not None else sys.stderr
        self.live = self.stream.isatty()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._head = ""
        self._started = 0.0

    def _line(self, text: str, final: bool) -> None:
        if self.live:
            self.stream.write("\r\x1b[K" + text + ("\n" if final else ""))
        elif final:
            self.stream.write(text + "\n")
        self.stream.flush()

    def _tick(self) -> None:
        while not self._stop.wait(TICK_S):
            self._line(f"{self._head} {time.monotonic() - self._started:.1f} s ...", final=False)

    def start(self, index: int, spec: RunSpec) -> None:
        """A run begins."""
        label = spec.label
        if self.show_target and spec.role == "control":
            label = f"{spec.target} {spec.label}"  # the candidate's labels carry its name already
        self._head = f"[round {spec.round}/{self.rounds}] {label} (run {index + 1}/{self.total})"
        self._started = time.monotonic()
        if self.live:
            self._line(f"{self._head} 0.0 s ...", final=False)
            self._stop.clear()
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()

    def done(self, index: int, spec: RunSpec, run: Run) -> None:
        """A run ended: its final line."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        self._line(
            f"{self._head} {run.wall_s or 0.0:.1f} s wall, "
            f"{run.cpu_s or 0.0:.1f} s CPU, {_mib(run.peak_pss_bytes)} "
            f"peak PSS: {outcome(run)}",
            final=True,
        )
        if run.failed:
            for line in failure_lines(run, STDERR_LINES_LIVE):
                self._line(f"    {line}", final=True)

    def note(self, text: str) -> None:
        """A line about something other than a run (snapshot, fixture)."""
        self._line(text, final=True)


def failure_lines(run: Run, lines: int) -> list[str]:
    """A failed run for the console: exit status, timeout, and the last ``lines`` of stderr."""
    out = []
    if run.timed_out:
        out.append(f"timed out after {run.wall_s or 0.0:.1f} s, killed")
    out.append(f"exit status {run.exit_code}")
    tail = run.stderr_tail.rstrip().splitlines()
    if tail:
        shown = tail[-lines:]
        out.append(f"stderr (last {len(shown)} of {len(tail)} lines kept):")
        out += [f"  | {line}" for line in shown]
    else:
        out.append("stderr: (empty)")
    return out


def _example_lines(diff: Mapping[str, Any]) -> list[str]:
    """The first differing row of a table, side by side (differing columns only)."""
    lines = []
    natural = diff.get("by_natural_key") or {}
    for kind in ("missing", "extra"):
        for key in natural.get(f"{kind}_examples", [])[:2]:
            lines.append(f"{kind} by natural key: {key}")
    for example in diff.get("examples", [])[:1]:
        expected, got = example.get("expected") or {}, example.get("got") or {}
        changed = [c for c in expected.keys() | got.keys() if expected.get(c) != got.get(c)]
        cells = "; ".join(
            f"{c}: {expected.get(c, '-')!r} -> {got.get(c, '-')!r}" for c in sorted(changed)
        )
        lines.append(f"e.g. {example.get('kind')} {example.get('key')}: {cells}")
    return lines


def cost_lines(a: Analysis) -> list[str]:
    """The harness's own cost: per run and for the snapshot (empty for old results)."""
    c = a.cost
    if c is None:
        return []
    ratio = f"{c.ratio:.2f}x copy+fsync (goal <= {RATIO_GOAL}x)" if c.ratio is not None else "-"
    lines = [
        f"harness per run (median of {c.runs}): copy {c.copy_s:.2f} s, fsync {c.fsync_s:.2f} s, "
        f"input check {c.inputs_s:.2f} s, read {c.read_s:.2f} s, compare {c.compare_s:.2f} s; "
        f"{c.total_s:.2f} s outside the measured wall = {ratio}",
    ]
    if c.sampler_share is not None:
        lines.append(
            f"memory sampler: {c.sampler_share.median:.1%} of a core per run (max "
            f"{c.sampler_share.high:.1%}; up to {c.sampler_processes} processes)"
        )
    if c.snapshot:
        parts = ", ".join(
            f"{name} {c.snapshot[key]:.1f} s"
            for key, name in (
                ("backup_s", "backup"),
                ("check_s", c.check or "check"),
                ("counts_s", "counts"),
                ("hash_s", "sha256"),
            )
            if key in c.snapshot
        )
        lines.append(f"snapshot: {parts}")
    return lines


def _row(c: ConfigStats, serial: ConfigStats) -> tuple[str, ...]:
    wall = c.wall
    if c is not serial and c.speedup is not None:  # a candidate's serial path has one too
        speed = f"{c.speedup:.2f}x"
    elif c is serial and wall is not None:
        speed = "1.00x"
    else:
        speed = "-"
    return (
        c.label,
        f"{len(c.ok_runs)}/{len(c.runs)}",
        f"{wall.median:.2f} s ({wall.low:.2f}-{wall.high:.2f})" if wall else "-",
        speed,
        f"{c.cpu.median:.2f} s" if c.cpu else "-",
        _mib(c.pss.median) if c.pss else "-",
        f"{sum(r.identical is True for r in c.runs)}/{len(c.runs)}",
        c.claim.text() if c.claim is not None else "-",
    )


def summary_table(a: Analysis) -> str:
    """The console summary of an analysis: one row per configuration, then the verdict."""
    results = a.results
    runs = results.runs
    header = (
        "configuration",
        "ok",
        "wall median (min-max)",
        "speed-up",
        "CPU",
        "peak PSS",
        "same",
        "beyond the noise?",
    )
    rows = [header] + [_row(c, a.serial) for c in (a.serial, *a.parallel)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    verdict = results.verdict
    settings = results.settings
    noise = a.noise
    ignored = ", ".join(settings.get("ignore_columns") or []) or "none"
    if settings.get("ignore_source"):
        ignored += f" ({settings['ignore_source']})"
    lines += [""]
    if settings.get("roles"):  # control vs candidate, or the one target: said once, here
        lines.append(str(settings["roles"]))
    lines += [
        f"A/A noise (serial vs serial, median over {len(noise.per_round)} rounds of "
        f"|a - b| / min(a, b)): {noise.rel:.1%}"
        if noise.rel is not None
        else "A/A noise: n/a (no complete serial pair)",
        f"claims: {a.method} (p <= {a.alpha:g} needs >= "
        + f"{next((c.claim.needed for c in a.parallel if c.claim), 5)} rounds)",
        f"recommendation: {a.recommendation.headline}",
        *cost_lines(a),
        f"compared: {', '.join(settings.get('tables') or [])}; ignored columns: {ignored}",
        f"reference: {verdict.reference}",
    ]
    if results.input_check:
        lines.insert(-1, describe(results.input_check))
    if verdict.identical:
        lines.append(f"VERDICT: identical ({len(runs)} runs)")
    else:
        lines.append(
            f"VERDICT: NOT identical: {verdict.mismatched_runs} mismatched, "
            f"{verdict.failed_runs} failed of {len(runs)} runs"
        )
        for m in verdict.mismatches[:5]:
            for table, d in m["tables"].items():
                lines.append(
                    f"  round {m['round']} {m['label']}: {table}: {d.get('differ', 0)} differ, "
                    f"{d.get('missing', 0)} missing, {d.get('extra', 0)} extra"
                    + (f" ({d['note']})" if d.get("note") else "")
                )
                lines += [f"    {line}" for line in _example_lines(d)]
        if verdict.time_columns_only:
            lines += [
                "  only timestamp/duration columns differ: " + ", ".join(verdict.time_columns_only),
                "  the job writes another clock than the run's {now}: give it {now} (best), or, "
                f"knowingly, rerun with {verdict.ignore_hint}",
            ]
        for r in runs:
            if r.failed:
                who = f"{r.target} " if r.role == "control" and settings.get("candidate") else ""
                lines.append(f"  round {r.round} {who}{r.label}: FAILED: {r.failure}")
                lines += [f"    {line}" for line in failure_lines(r, STDERR_LINES_SUMMARY)]
    return "\n".join(lines)


__all__ = ["Progress", "cost_lines", "failure_lines", "outcome", "summary_table"]
