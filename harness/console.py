"""What ``validate`` shows a person: a live progress line on stderr and a summary table.

On a terminal the progress line is rewritten while a run goes (its elapsed time ticks, so a long
validation never looks hung) and a final line stays for each run; when stderr is not a terminal
(CI logs, files) only the final line of each run is written.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from harness.inputs import describe
from harness.replay import RunSpec

TICK_S = 0.2


def _mib(value: float | None) -> str:
    return "-" if not value else f"{value / 2**20:.0f} MiB"


def outcome(record: Mapping[str, Any]) -> str:
    """One word or phrase for a finished run."""
    if record.get("failed"):
        return f"FAILED ({record.get('failure')})"
    if record.get("identical") is False:
        return "MISMATCH (" + ", ".join(record.get("diff") or {}) + ")"
    if record.get("identical") is None:
        return "not compared"
    return "identical"


class Progress:
    """Progress of the runs of one validation, on ``stream`` (stderr by default)."""

    def __init__(self, total: int, rounds: int, stream: TextIO | None = None) -> None:
        self.total, self.rounds = total, rounds
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
        self._head = (
            f"[round {spec.round}/{self.rounds}] {spec.label} (run {index + 1}/{self.total})"
        )
        self._started = time.monotonic()
        if self.live:
            self._line(f"{self._head} 0.0 s ...", final=False)
            self._stop.clear()
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()

    def done(self, index: int, spec: RunSpec, record: Mapping[str, Any]) -> None:
        """A run ended: its final line."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        self._line(
            f"{self._head} {record.get('wall_s', 0.0):.1f} s wall, "
            f"{record.get('cpu_s', 0.0):.1f} s CPU, {_mib(record.get('peak_pss_bytes'))} "
            f"peak PSS: {outcome(record)}",
            final=True,
        )

    def note(self, text: str) -> None:
        """A line about something other than a run (snapshot, fixture)."""
        self._line(text, final=True)


def _configs(runs: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Runs by configuration: serial first, then task counts ascending."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for run in sorted(runs, key=lambda r: (r.get("tasks", 0), r.get("round", 0))):
        key = "serial" if run.get("mode") == "serial" else str(run.get("label"))
        groups.setdefault(key, []).append(run)
    return groups


def aa_noise(runs: Sequence[Mapping[str, Any]]) -> float | None:
    """The largest relative gap between the two serial runs of a round (the A/A noise floor)."""
    gaps = []
    by_round: dict[Any, list[float]] = {}
    for r in runs:
        if r.get("mode") == "serial" and not r.get("failed"):
            by_round.setdefault(r.get("round"), []).append(float(r["wall_s"]))
    for walls in by_round.values():
        if len(walls) == 2 and sum(walls) > 0:
            gaps.append(abs(walls[0] - walls[1]) / (sum(walls) / 2))
    return max(gaps) if gaps else None


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


def summary_table(results: Mapping[str, Any]) -> str:
    """The console summary: one row per configuration, then the verdict."""
    runs = results["runs"]
    groups = _configs(runs)
    serial_ok = [float(r["wall_s"]) for r in groups.get("serial", []) if not r.get("failed")]
    serial_median = statistics.median(serial_ok) if serial_ok else None
    header = ("configuration", "ok", "wall median (min-max)", "speed-up", "CPU", "peak PSS", "same")
    rows = [header]
    for label, group in groups.items():
        ok = [r for r in group if not r.get("failed")]
        walls = [float(r["wall_s"]) for r in ok]
        median = statistics.median(walls) if walls else None
        rows.append(
            (
                label,
                f"{len(ok)}/{len(group)}",
                f"{median:.2f} s ({min(walls):.2f}-{max(walls):.2f})" if median else "-",
                f"{serial_median / median:.2f}x" if median and serial_median else "-",
                f"{statistics.median(float(r['cpu_s']) for r in ok):.2f} s" if ok else "-",
                _mib(statistics.median(r["peak_pss_bytes"] for r in ok)) if ok else "-",
                f"{sum(r.get('identical') is True for r in group)}/{len(group)}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    verdict = results["verdict"]
    noise = aa_noise(runs)
    settings = results["settings"]
    lines += [
        "",
        f"A/A noise (serial vs serial, worst round): {noise:.1%}"
        if noise is not None
        else "A/A noise: n/a",
        f"compared: {', '.join(settings['tables'])}; ignored columns: "
        + (", ".join(settings["ignore_columns"]) or "none"),
        f"reference: {verdict['reference']}",
    ]
    if results.get("input_check"):
        lines.insert(-1, describe(results["input_check"]))
    if verdict["identical"]:
        lines.append(f"VERDICT: identical ({len(runs)} runs)")
    else:
        lines.append(
            f"VERDICT: NOT identical: {verdict['mismatched_runs']} mismatched, "
            f"{verdict['failed_runs']} failed of {len(runs)} runs"
        )
        for m in verdict["mismatches"][:5]:
            for table, d in m["tables"].items():
                lines.append(
                    f"  round {m['round']} {m['label']}: {table}: {d.get('differ', 0)} differ, "
                    f"{d.get('missing', 0)} missing, {d.get('extra', 0)} extra"
                    + (f" ({d['note']})" if d.get("note") else "")
                )
                lines += [f"    {line}" for line in _example_lines(d)]
        for r in runs:
            if r.get("failed"):
                lines.append(f"  round {r['round']} {r['label']}: {r.get('failure')}")
    return "\n".join(lines)


__all__ = ["Progress", "aa_noise", "outcome", "summary_table"]
