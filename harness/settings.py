"""The settings of one validation, from the command line and an optional ``[harness]`` TOML table.

Precedence: a command-line option, else the ``--harness-config`` file's ``[harness]`` key, else the
default. The result is one frozen ``ValidateSettings`` that the rest of the harness reads; nothing
else looks at ``argparse`` or TOML.

``[harness]`` keys: ``serial_cmd``, ``parallel_cmd`` (templates), ``tasks`` (list of integers),
``repeat``, ``backend``, ``tables``, ``ignore_columns`` (``TABLE.COLUMN`` strings),
``run_timeout`` (seconds).
"""

from __future__ import annotations

import argparse
import math
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness import HarnessError
from harness.compare import OUTPUT_TABLES
from harness.replay import default_templates, parse_template, uses

DEFAULT_TASKS = (4, 8, 12, 16)
DEFAULT_REPEAT = 5  # the fewest rounds with which a speed-up claim can be significant
DEFAULT_BACKEND = "process"
REFERENCE_BACKENDS = ("process", "thread")  # what our classifier's --backend accepts
DEFAULT_TIMEOUT_S = 1800.0
# SPEC 2.8: the one wall-clock value our classifier writes; ignored only for the default target
REFERENCE_IGNORE = ("job_status.duration_ms",)
TOML_KEYS: dict[str, type | tuple[type, ...]] = {
    "serial_cmd": str,
    "parallel_cmd": str,
    "tasks": list,
    "repeat": int,
    "backend": str,
    "tables": list,
    "ignore_columns": list,
    "run_timeout": (int, float),
}


@dataclass(frozen=True, kw_only=True)
class ValidateSettings:
    """One validation's settings, checked."""

    serial_cmd: str
    parallel_cmd: str
    tasks: tuple[int, ...]
    repeat: int
    backend: str
    config: Path | None
    tables: tuple[str, ...]
    ignore_columns: tuple[str, ...]
    run_timeout_s: float
    reference_target: bool  # the default templates (our classifier) are in use

    def __post_init__(self) -> None:
        if not self.tasks or any(n < 1 for n in self.tasks):
            raise HarnessError(f"tasks must be integers >= 1 (got {list(self.tasks)})")
        if self.repeat < 1:
            raise HarnessError(f"repeat must be >= 1 (got {self.repeat})")
        if not (self.run_timeout_s > 0 and math.isfinite(self.run_timeout_s)):
            raise HarnessError(f"run timeout must be > 0 seconds (got {self.run_timeout_s})")
        if not self.tables:
            raise HarnessError("no tables to compare")
        if self.reference_target and self.backend not in REFERENCE_BACKENDS:
            # refused now, not after the snapshot and a serial run that all fail the same way
            raise HarnessError(
                f"backend must be one of {', '.join(REFERENCE_BACKENDS)} for the reference "
                f"classifier (got {self.backend!r})"
            )
        for item in self.ignore_columns:
            table, dot, column = item.partition(".")
            if not (dot and table and column):
                raise HarnessError(f"ignored column must be TABLE.COLUMN (got {item!r})")
            if table not in self.tables:
                raise HarnessError(
                    f"ignored column {item!r}: table {table!r} is not compared "
                    f"(compared: {', '.join(self.tables)})"
                )
        for what, text in (("serial command", self.serial_cmd), ("parallel", self.parallel_cmd)):
            tokens = parse_template(text, what)
            if uses(tokens, "config") and self.config is None:
                raise HarnessError(f"{what} uses {{config}} but no --config was given")

    def to_dict(self) -> dict[str, Any]:
        """The ``settings`` part of results.json (``now`` is added by the caller)."""
        data = asdict(self)
        data["tasks"] = list(self.tasks)
        data["tables"] = list(self.tables)
        data["ignore_columns"] = list(self.ignore_columns)
        config = data.pop("config")
        data["config_path"] = str(config) if config is not None else None
        return data


def task_list(text: str) -> tuple[int, ...]:
    """``argparse`` type for ``--tasks 4,8,12``: integers >= 1."""
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers >= 1 such as 4,8 (got {text!r})"
        ) from None
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"task counts must be >= 1 (got {text!r})")
    return values


def table_column(text: str) -> str:
    """``argparse`` type for ``--ignore-column TABLE.COLUMN``."""
    table, dot, column = text.partition(".")
    if not (dot and table and column):
        raise argparse.ArgumentTypeError(f"expected TABLE.COLUMN (got {text!r})")
    return text


def read_harness_toml(path: Path) -> dict[str, Any]:
    """The ``[harness]`` table of ``path``, with its keys and types checked."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HarnessError(f"harness config {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise HarnessError(f"cannot read harness config {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise HarnessError(f"harness config {path} is not valid TOML: {exc}") from None
    table = data.get("harness")
    if not isinstance(table, dict):
        raise HarnessError(f"harness config {path} has no [harness] table")
    for key, value in table.items():
        expected = TOML_KEYS.get(key)
        if expected is None:
            raise HarnessError(
                f"harness.{key} is not a known key (expected one of {', '.join(TOML_KEYS)})"
            )
        if not isinstance(value, expected) or isinstance(value, bool):
            raise HarnessError(f"harness.{key} has the wrong type (got {value!r})")
    for key in ("tasks", "tables", "ignore_columns"):
        kind = int if key == "tasks" else str
        items = table.get(key, [])
        if any(not isinstance(v, kind) or isinstance(v, bool) for v in items):
            raise HarnessError(f"harness.{key} must be a list of {kind.__name__} (got {items!r})")
    return table


def from_args(args: argparse.Namespace) -> ValidateSettings:
    """Merge the command line over the ``[harness]`` table over the defaults."""
    file: dict[str, Any] = {}
    if args.harness_config is not None:
        file = read_harness_toml(args.harness_config)
    config: Path | None = None
    if args.config is not None:
        if not args.config.is_file():
            raise HarnessError(f"config {args.config} does not exist or is not a file")
        config = args.config.resolve()
    default_serial, default_parallel = default_templates(config is not None)
    serial = _pick(args.serial_cmd, file.get("serial_cmd"), default_serial)
    parallel = _pick(args.parallel_cmd, file.get("parallel_cmd"), default_parallel)
    reference = serial == default_serial and parallel == default_parallel
    ignore = _pick(args.ignore_column, file.get("ignore_columns"), None)
    tables = tuple(_pick(args.table, file.get("tables"), OUTPUT_TABLES))
    if ignore is None:  # the default list, for the tables compared (``--table`` may narrow them)
        ignore = (
            tuple(c for c in REFERENCE_IGNORE if c.partition(".")[0] in tables) if reference else ()
        )
    return ValidateSettings(
        serial_cmd=serial,
        parallel_cmd=parallel,
        tasks=tuple(_pick(args.tasks, file.get("tasks"), DEFAULT_TASKS)),
        repeat=_pick(args.repeat, file.get("repeat"), DEFAULT_REPEAT),
        backend=_pick(args.backend, file.get("backend"), DEFAULT_BACKEND),
        config=config,
        tables=tables,
        ignore_columns=tuple(dict.fromkeys(ignore)),
        run_timeout_s=float(_pick(args.run_timeout, file.get("run_timeout"), DEFAULT_TIMEOUT_S)),
        reference_target=reference,
    )


def _pick(*values: Any) -> Any:
    """The first value that was given (not None)."""
    return next((v for v in values if v is not None), None)


__all__ = [
    "REFERENCE_IGNORE",
    "ValidateSettings",
    "from_args",
    "read_harness_toml",
    "table_column",
    "task_list",
]
