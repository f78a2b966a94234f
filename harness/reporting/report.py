"""The validation report: ``report.md`` and its plots, written from a ``results.json``.

``render_report(results, out_dir)`` writes the seed's document (``../shared/seed/``) with every
"pending" replaced by a measured figure, plus ``results.json`` (when not already there) and the
PNG plots. ``persona-bench report RESULTS.json [--out DIR]`` re-renders an existing results file.
The figures come from ``harness.reporting.analysis``, the text from
``harness.reporting.document``, the plots from ``harness.reporting.plots``; this module writes
the files.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.atomic import write_text
from harness.reporting.analysis import Analysis, analyse
from harness.reporting.baseline import Comparison, render_comparison
from harness.reporting.document import render_markdown
from harness.reporting.plots import render_plots
from harness.results import Results, ResultsError, as_results, read_results

HELP = "Re-render report.md and its plots from a validate results.json."


def render_report(
    results: Results | Mapping[str, Any] | Analysis,
    out_dir: Path,
    comparison: Comparison | None = None,
) -> Path:
    """Write report.md, results.json (unless present) and the plots into ``out_dir``.

    ``results`` may be the analysis already computed (what ``validate`` passes, so the console
    and the report show the same object). ``comparison`` is a baseline comparison to include.
    Returns the path of report.md.
    """
    a = results if isinstance(results, Analysis) else analyse(as_results(results))
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ResultsError(f"cannot create output folder {out_dir}: {exc.strerror}") from None
    if not os.access(out_dir, os.W_OK):
        raise ResultsError(f"output folder {out_dir} is not writable")
    saved = out_dir / "results.json"
    if not saved.exists():
        write_text(saved, json.dumps(a.results.to_dict(), indent=2) + "\n")
    try:
        plots = render_plots(a, out_dir)
    except OSError as exc:  # a full disk: render_plots removed the half-written plot
        raise ResultsError(f"cannot write the plots in {out_dir}: {exc.strerror or exc}") from None
    if comparison is not None:
        write_text(out_dir / "comparison.md", render_comparison(comparison))
    return write_text(out_dir / "report.md", render_markdown(a, sorted(plots), comparison))


# ---- subcommand ----------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``report RESULTS.json [--out DIR]``."""
    parser.add_argument(
        "results", type=Path, metavar="RESULTS.json", help="a validate results file"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default: the results file's folder)"
    )


def run(args: argparse.Namespace) -> int:
    """Re-render the report; print its path."""
    results = read_results(args.results)
    out = args.out if args.out is not None else args.results.resolve().parent
    print(render_report(results, out))
    return 0
