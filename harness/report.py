"""The validation report: ``report.md`` and its plots, written from a ``results.json``.

``render_report(results, out_dir)`` writes the seed's document (``../shared/seed/``) with every
"pending" replaced by a measured figure, plus ``results.json`` (when not already there) and the
PNG plots. ``persona-bench report RESULTS.json [--out DIR]`` re-renders an existing results file.
The figures come from ``harness.analysis``, the text from ``harness.document``, the plots from
``harness.plots``; this module writes the files.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.analysis import ResultsError, analyse
from harness.document import render_markdown
from harness.files import write_text
from harness.plots import render_plots

HELP = "Re-render report.md and its plots from a validate results.json."


def load_results(path: Path) -> dict[str, Any]:
    """Read a results file, or raise ``ResultsError`` with one line saying why not."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ResultsError(f"{path}: is a directory, expected a results.json") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path}: cannot read ({exc})") from None
    try:
        results = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    try:
        analyse(results)
    except ResultsError as exc:
        raise ResultsError(f"{path}: {exc}") from None
    return dict(results)


def render_report(results: Mapping[str, Any], out_dir: Path, comparison: str | None = None) -> Path:
    """Write report.md, results.json (unless present) and the plots into ``out_dir``.

    ``comparison`` is the Markdown of a baseline comparison (``harness.baseline``) to include.
    Returns the path of report.md.
    """
    a = analyse(results)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ResultsError(f"cannot create output folder {out_dir}: {exc.strerror}") from None
    if not os.access(out_dir, os.W_OK):
        raise ResultsError(f"output folder {out_dir} is not writable")
    saved = out_dir / "results.json"
    if not saved.exists():
        _write(saved, json.dumps(results, indent=2, sort_keys=False) + "\n")
    try:
        plots = render_plots(a, out_dir)
    except OSError as exc:  # a full disk: render_plots removed the half-written plot
        raise ResultsError(f"cannot write the plots in {out_dir}: {exc.strerror or exc}") from None
    if comparison is not None:
        _write(out_dir / "comparison.md", comparison)
    path = out_dir / "report.md"
    _write(path, render_markdown(a, results, sorted(plots), comparison))
    return path


def _write(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a reader never sees half a file."""
    write_text(path, text, ResultsError)


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
    results = load_results(args.results)
    out = args.out if args.out is not None else args.results.resolve().parent
    print(render_report(results, out))
    return 0
