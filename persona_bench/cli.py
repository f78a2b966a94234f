"""``persona-bench``: one ``main(argv) -> int`` and its subcommands.

Each subcommand lives in the module that owns it, which provides ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. This module only wires them up and turns a
``UserError`` into one line on stderr and its exit code.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sqlite3
import sys
from collections.abc import Sequence

from persona_bench import __version__
from persona_bench.errors import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    Interrupted,
    UserError,
    disk_full,
)

# subcommand -> module; imported when the parser is built (modules import heavy things lazily)
COMMANDS: dict[str, str] = {
    "classify": "classifier.cli",
    "report": "harness.report",
    "compare": "harness.baseline",
    "snapshot": "harness.snapshot",
    "fixture": "harness.fixture",
    "validate": "harness.validate",
    "selftest": "harness.selftest",
}


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with one subparser per entry of ``COMMANDS``."""
    parser = argparse.ArgumentParser(
        prog="persona-bench",
        description="Reference persona classifier and validation harness.",
    )
    parser.add_argument("--version", action="version", version=f"persona-bench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        sp = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sp)
        sp.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the subcommand, map a ``UserError`` to its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
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
