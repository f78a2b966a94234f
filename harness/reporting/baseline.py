"""The baseline gate: compare two validate results, configuration by configuration.

A configuration (``serial``, ``tasks=N``) has regressed only when a test says it is slower by
more than the threshold plus the noise (the larger A/A noise of the two results): an exact
one-sided two-sample permutation test (``harness.reporting.stats.two_sample_p``) of the new
runs' log walls, less ln(1 + threshold + noise), against the old runs' log walls gives
p <= 0.05. *Faster* is the mirror test. With too few runs a side for the test to reach 0.05 at
all (3 a side), the verdict is "not enough runs to tell", never a regression. A configuration
that completed before and now fails has regressed (no test needed). Timings from different
machines are not comparable: refused unless the caller allows it, and then the table says so.

``persona-bench compare OLD NEW [--threshold 0.10] [--allow-other-machine]`` prints the table and
exits 1 on a regression, 2 on bad input.

    harness.HarnessError
     ├── harness.results.ResultsError   a results file the comparison cannot read
     └── OtherMachineError               the two results come from different machines
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from harness import HarnessError
from harness.reporting.analysis import Analysis, ConfigStats, analyse
from harness.reporting.stats import ALPHA, two_sample_can_reach, two_sample_min_n, two_sample_p
from harness.results import Results, ResultsError, read_results

HELP = "Compare two validate results.json; exit 1 when a configuration regressed."
MACHINE_KEYS = ("cpu_model", "cpu_count", "hostname")
REGRESSED = "❌ REGRESSED"
Change = Literal[
    "regressed", "faster", "same", "too_few", "only_old", "only_new", "no_old", "failed_now"
]
METHOD = (
    "exact two-sample permutation test of log walls, new minus ln(1 + threshold + noise) "
    "against old, one-sided, alpha 0.05"
)
VERDICT_TEXT: dict[str, str] = {
    "regressed": REGRESSED,
    "failed_now": f"{REGRESSED} (every new run failed)",
    "faster": "✅ faster",
    "same": "✅ same (within threshold and noise)",
    "too_few": f"not enough runs to tell (a test needs {two_sample_min_n()} a side)",
    "only_old": "only in old",
    "only_new": "only in new",
    "no_old": "no old measurement",
}


class OtherMachineError(HarnessError):
    """The two results were measured on different machines."""


@dataclass(frozen=True, kw_only=True)
class ConfigChange:
    """One configuration, old against new."""

    label: str
    old: ConfigStats | None
    new: ConfigStats | None
    change: Change
    relative: float | None  # (new median - old median) / old median
    p_slower: float | None = None  # one-sided p: new slower than old beyond threshold + noise
    p_faster: float | None = None

    @property
    def regressed(self) -> bool:
        """Slower beyond threshold and noise, or every new run failed."""
        return self.change in ("regressed", "failed_now")


@dataclass(frozen=True, kw_only=True)
class Comparison:
    """The baseline gate's structured verdict; ``render_comparison`` turns it into Markdown."""

    old: Analysis
    new: Analysis
    threshold: float
    noise: float  # the larger A/A noise of the two
    other_machine: tuple[str, ...]  # differences, when allowed
    configs: tuple[ConfigChange, ...]

    @property
    def regressed(self) -> bool:
        """Whether any configuration regressed."""
        return any(c.regressed for c in self.configs)


def compare_results(
    old: Results | Mapping[str, Any] | Analysis,
    new: Results | Mapping[str, Any] | Analysis,
    threshold: float = 0.10,
    allow_other_machine: bool = False,
) -> Comparison:
    """Compare ``new`` with ``old`` configuration by configuration (raises on bad input)."""
    if not threshold >= 0:
        raise ResultsError(f"threshold must be >= 0 (got {threshold})")
    before, after = _analyse("old", old), _analyse("new", new)
    differ = _machine_differences(before.results, after.results)
    if differ and not allow_other_machine:
        raise OtherMachineError(
            "results come from different machines ("
            + "; ".join(differ)
            + "): timings are not comparable; pass --allow-other-machine to compare anyway"
        )
    noise = max(before.noise.band, after.noise.band)
    old_configs, new_configs = _configs(before), _configs(after)
    configs = tuple(
        _change(label, old_configs.get(label), new_configs.get(label), threshold, noise)
        for label in sorted(old_configs.keys() | new_configs.keys(), key=_order)
    )
    return Comparison(
        old=before,
        new=after,
        threshold=threshold,
        noise=noise,
        other_machine=tuple(differ),
        configs=configs,
    )


def render_comparison(c: Comparison) -> str:
    """The comparison as a Markdown table, ending with the verdict line."""
    lines = []
    if c.other_machine:
        lines.append(
            "**⚠ Other machine (--allow-other-machine): timings are not comparable: "
            + "; ".join(c.other_machine)
            + "**"
        )
        lines.append("")
    lines += [
        f"Baseline comparison: old {_stamp(c.old.results)} → new {_stamp(c.new.results)}; "
        f"threshold {c.threshold:.0%}, noise ±{c.old.noise.band:.1%} (old) / "
        f"±{c.new.noise.band:.1%} (new).",
        "",
        "| configuration | old median (min to max) | new median (min to max) | change | verdict |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in c.configs:
        cells = [
            row.label,
            _cell(row.old),
            _cell(row.new),
            "-" if row.relative is None else f"{row.relative:+.1%}",
            VERDICT_TEXT[row.change] + _p_text(row),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Test: {METHOD} (`harness/reporting/stats.py`)."]
    if c.new.red:
        lines += ["", "Note: the new results' determinism verdict is red (see its report)."]
    lines += ["", f"**{'Regression' if c.regressed else 'No regression'}.**"]
    return "\n".join(lines) + "\n"


def _analyse(which: str, results: Results | Mapping[str, Any] | Analysis) -> Analysis:
    if isinstance(results, Analysis):
        return results
    try:
        return analyse(results)
    except ResultsError as exc:
        raise ResultsError(f"{which} results: {exc}") from None


def _machine_differences(old: Results, new: Results) -> list[str]:
    a, b = old.metadata, new.metadata
    return [f"{k} {a.get(k)!r} vs {b.get(k)!r}" for k in MACHINE_KEYS if a.get(k) != b.get(k)]


def _configs(a: Analysis) -> dict[str, ConfigStats]:
    return {c.label: c for c in (a.serial, *a.parallel)}


def _order(label: str) -> tuple[int, int, str]:
    if label == "serial":
        return (0, 0, label)
    digits = label.rpartition("=")[2]
    return (1, int(digits) if digits.isdigit() else 0, label)


def _change(
    label: str, old: ConfigStats | None, new: ConfigStats | None, threshold: float, noise: float
) -> ConfigChange:
    """How one configuration changed."""

    def made(
        change: Change,
        relative: float | None = None,
        p_slower: float | None = None,
        p_faster: float | None = None,
    ) -> ConfigChange:
        return ConfigChange(
            label=label,
            old=old,
            new=new,
            change=change,
            relative=relative,
            p_slower=p_slower,
            p_faster=p_faster,
        )

    if new is None:
        return made("only_old")
    if old is None:
        return made("only_new")
    if old.wall is None:
        return made("no_old")
    if new.wall is None:
        return made("failed_now")
    change = (new.wall.median - old.wall.median) / old.wall.median
    before = [math.log(w) for r in old.ok_runs if (w := r.wall_s or 0.0) > 0]
    after = [math.log(w) for r in new.ok_runs if (w := r.wall_s or 0.0) > 0]
    if not two_sample_can_reach(len(before), len(after), ALPHA):
        return made("too_few", change)
    margin = math.log1p(threshold + noise)
    p_slower = two_sample_p(before, [x - margin for x in after])
    p_faster = two_sample_p(after, [x - margin for x in before])
    if p_slower <= ALPHA:
        return made("regressed", change, p_slower, p_faster)
    if p_faster <= ALPHA:
        return made("faster", change, p_slower, p_faster)
    return made("same", change, p_slower, p_faster)


def _p_text(row: ConfigChange) -> str:
    if row.change == "regressed" and row.p_slower is not None:
        return f" (p = {row.p_slower:.3f})"
    if row.change == "faster" and row.p_faster is not None:
        return f" (p = {row.p_faster:.3f})"
    return ""


def _cell(c: ConfigStats | None) -> str:
    if c is None:
        return "-"
    if c.wall is None:
        return f"failed ({c.failed} of {len(c.runs)} runs)"
    return f"{c.wall.median:.2f} s ({c.wall.low:.2f} to {c.wall.high:.2f})"


def _stamp(results: Results) -> str:
    commit = results.metadata.get("git_commit")
    return f"{results.name or '?'} {results.created_at or '?'} ({commit})"


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
    comparison = compare_results(
        read_results(args.old),
        read_results(args.new),
        threshold=args.threshold,
        allow_other_machine=args.allow_other_machine,
    )
    print(render_comparison(comparison), end="", flush=True)
    return 1 if comparison.regressed else 0
