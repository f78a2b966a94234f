"""``persona-bench``: one ``main(argv) -> int`` and its subcommands.

Each subcommand lives in the module that owns it, which provides ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. This module only wires them up and turns a
``UserError`` into one line on stderr and its exit code. Only the module of the subcommand being
run is imported: ``classify`` must not pay for importing the harness (docs/design.md).
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sqlite3
import sys
from collections.abc import Sequence

from persona_bench.kernel import __version__
from persona_bench.kernel.errors import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    Interrupted,
    UserError,
    disk_full,
)

# subcommand -> (module, its HELP): the help line is repeated here so that listing the
# subcommands imports none of them (tests/test_cli.py checks that the two agree)
COMMANDS: dict[str, tuple[str, str]] = {
    "classify": (
        "classifier.cli",
        "run the persona classification job on a database (serial or parallel)",
    ),
    "report": (
        "harness.reporting.report",
        "Re-render report.md and its plots from a validate results.json.",
    ),
    "compare": (
        "harness.reporting.baseline",
        "Compare two validate results.json; exit 1 when a configuration regressed.",
    ),
    "snapshot": (
        "harness.snapshot",
        "Copy a live SQLite database (read-only, online backup) into a verified snapshot.",
    ),
    "fixture": (
        "fixtures.generator",
        "Write a deterministic production-shaped database (profiles: tiny, prod, stress).",
    ),
    "validate": (
        "harness.validate",
        "Snapshot a database, replay serial and parallel runs on copies, prove identical output.",
    ),
    "selftest": (
        "harness.selftest",
        "prove that the harness catches broken candidates (a canary for this installation)",
    ),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser, one subparser per entry of ``COMMANDS``.

    ``only``: the one subcommand whose module is imported and whose arguments are added (the
    others keep their help line; "" imports none); None builds them all.
    """
    parser = argparse.ArgumentParser(
        prog="persona-bench",
        description="Reference persona classifier and validation harness.",
    )
    parser.add_argument("--version", action="version", version=f"persona-bench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_line) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_line, description=help_line)
        if only is None or name == only:
            module = importlib.import_module(module_name)
            module.add_arguments(sp)
            sp.set_defaults(_run=module.run)
    return parser


def _command_of(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names: its first word that is not an option (the top-level
    parser has no option that takes a value), or None."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the subcommand, map a ``UserError`` to its exit code."""
    words = sys.argv[1:] if argv is None else argv
    command = _command_of(words)
    parser = build_parser(command or "")
    args = parser.parse_args(words)
    try:
        return int(args._run(args))
    except UserError as exc:
        print(f"persona-bench {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except (OSError, sqlite3.Error) as exc:
        if not disk_full(exc):
            raise  # a bug: keep its traceback
        # a full disk the command did not foresee: still one line (its own cleanup has run)
        if isinstance(exc, OSError):
            where = f" ({exc.filename})" if exc.filename else ""
            said = f"{exc.strerror or exc}{where}"
        else:
            said = str(exc)
        print(f"persona-bench {args.command}: error: {said}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Interrupted as exc:  # validate turns SIGTERM (and SIGINT) into this
        name = signal.Signals(exc.signum).name
        print(f"persona-bench {args.command}: interrupted ({name})", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"persona-bench {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
