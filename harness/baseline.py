"""The baseline gate: compare two validate results, configuration by configuration.

A configuration (``serial``, ``tasks=N``) has regressed only when it is slower by more than the
threshold **and** beyond the noise of both runs: the new fastest run is slower than the old
slowest, and the median grew by more than threshold + noise (the larger A/A noise of the two).
A configuration that completed before and now fails has regressed too. Timings from different
machines are not comparable: refused unless the caller allows it, and then the table says so.

``persona-bench compare OLD NEW [--threshold 0.10] [--allow-other-machine]`` prints the table and
exits 1 on a regression, 2 on bad input.

    harness.HarnessError
     ├── harness.analysis.ResultsError   a results file the comparison cannot read
     └── OtherMachineError               the two results come from different machines
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness import HarnessError
from harness.analysis import Analysis, ConfigStats, ResultsError, analyse

HELP = "Compare two validate results.json; exit 1 when a configuration regressed."
MACHINE_KEYS = ("cpu_model", "cpu_count", "hostname")
REGRESSED = "❌ REGRESSED"


class OtherMachineError(HarnessError):
    """The two results were measured on different machines."""


def compare_results(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    threshold: float = 0.10,
    allow_other_machine: bool = False,
) -> tuple[str, bool]:
    """A Markdown table comparing ``new`` with ``old``, and whether any configuration regressed."""
    if not threshold >= 0:
        raise ResultsError(f"threshold must be >= 0 (got {threshold})")
    before, after = _analyse("old", old), _analyse("new", new)
    differ = _machine_differences(old, new)
    if differ and not allow_other_machine:
        raise OtherMachineError(
            "results come from different machines ("
            + "; ".join(differ)
            + "): timings are not comparable; pass --allow-other-machine to compare anyway"
        )
    noise = max(before.noise.band, after.noise.band)
    old_configs = _configs(before)
    new_configs = _configs(after)
    rows: list[list[str]] = []
    regressed = False
    for label in sorted(old_configs.keys() | new_configs.keys(), key=_order):
        verdict, bad = _verdict(old_configs.get(label), new_configs.get(label), threshold, noise)
        regressed |= bad
        rows.append(
            [
                label,
                _cell(old_configs.get(label)),
                _cell(new_configs.get(label)),
                _change(old_configs.get(label), new_configs.get(label)),
                verdict,
            ]
        )
    lines = []
    if differ:
        lines.append(
            "**⚠ Other machine (--allow-other-machine): timings are not comparable: "
            + "; ".join(differ)
            + "**"
        )
        lines.append("")
    lines += [
        f"Baseline comparison: old {_stamp(old)} → new {_stamp(new)}; threshold "
        f"{threshold:.0%}, noise ±{before.noise.band:.1%} (old) / ±{after.noise.band:.1%} (new).",
        "",
        "| configuration | old median (min to max) | new median (min to max) | change | verdict |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    if after.red:
        lines += ["", "Note: the new results' determinism verdict is red (see its report)."]
    lines += ["", f"**{'Regression' if regressed else 'No regression'}.**"]
    return "\n".join(lines) + "\n", regressed


def _analyse(which: str, results: Mapping[str, Any]) -> Analysis:
    try:
        return analyse(results)
    except ResultsError as exc:
        raise ResultsError(f"{which} results: {exc}") from None


def _machine_differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    a: Mapping[str, Any] = old.get("metadata") or {}
    b: Mapping[str, Any] = new.get("metadata") or {}
    return [f"{k} {a.get(k)!r} vs {b.get(k)!r}" for k in MACHINE_KEYS if a.get(k) != b.get(k)]


def _configs(a: Analysis) -> dict[str, ConfigStats]:
    return {c.label: c for c in (a.serial, *a.parallel)}


def _order(label: str) -> tuple[int, int, str]:
    if label == "serial":
        return (0, 0, label)
    digits = label.rpartition("=")[2]
    return (1, int(digits) if digits.isdigit() else 0, label)


def _verdict(
    old: ConfigStats | None, new: ConfigStats | None, threshold: float, noise: float
) -> tuple[str, bool]:
    """The verdict cell and whether it is a regression."""
    if new is None:
        return "only in old", False
    if old is None:
        return "only in new", False
    if old.wall is None:
        return "no old measurement", False
    if new.wall is None:
        return f"{REGRESSED} (every new run failed)", True
    change = (new.wall.median - old.wall.median) / old.wall.median
    if new.wall.low > old.wall.high and change > threshold + noise:
        return REGRESSED, True
    if new.wall.high < old.wall.low and -change > threshold + noise:
        return "✅ faster", False
    return "✅ same (within threshold and noise)", False


def _cell(c: ConfigStats | None) -> str:
    if c is None:
        return "-"
    if c.wall is None:
        return f"failed ({c.failed} of {len(c.runs)} runs)"
    return f"{c.wall.median:.2f} s ({c.wall.low:.2f} to {c.wall.high:.2f})"


def _change(old: ConfigStats | None, new: ConfigStats | None) -> str:
    if old is None or new is None or old.wall is None or new.wall is None:
        return "-"
    return f"{(new.wall.median - old.wall.median) / old.wall.median:+.1%}"


def _stamp(results: Mapping[str, Any]) -> str:
    meta: Mapping[str, Any] = results.get("metadata") or {}
    return f"{results.get('name', '?')} {results.get('created_at', '?')} ({meta.get('git_commit')})"


def _threshold(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a fraction such as 0.10 (got {text!r})"
        ) from None
    if not 0 <= value < 10:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 10 (got {text})")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``compare OLD NEW [--threshold 0.10] [--allow-other-machine]``."""
    parser.add_argument("old", type=Path, metavar="OLD", help="the baseline results.json")
    parser.add_argument("new", type=Path, metavar="NEW", help="the results.json to check")
    parser.add_argument(
        "--threshold",
        type=_threshold,
        default=0.10,
        help="slow-down tolerated beyond the noise, as a fraction (default 0.10)",
    )
    parser.add_argument(
        "--allow-other-machine",
        action="store_true",
        help="compare results from different machines (the table says so)",
    )


def run(args: argparse.Namespace) -> int:
    """Print the comparison table; 1 on a regression."""
    from harness.report import load_results

    table, regressed = compare_results(
        load_results(args.old),
        load_results(args.new),
        threshold=args.threshold,
        allow_other_machine=args.allow_other_machine,
    )
    print(table, end="", flush=True)
    return 1 if regressed else 0
