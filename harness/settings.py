"""The settings of one validation, from the command line and an optional ``[harness]`` TOML table.

Precedence: a command-line option, else the ``--harness-config`` file's ``[harness]`` key, else the
default. The result is one frozen ``ValidateSettings`` that the rest of the harness reads; nothing
else looks at ``argparse`` or TOML.

``[harness]`` keys: ``serial_cmd``, ``parallel_cmd`` (templates of the target ``custom``),
``target`` (serial vs parallel of one target), ``control`` and ``candidate`` (two targets, rows
compared), ``tasks`` (list of integers), ``repeat``, ``backend``, ``scheduler`` (a Dask
scheduler's address, passed as ``{scheduler}``), ``tables``, ``ignore_columns``
(``TABLE.COLUMN`` strings), ``run_timeout`` (seconds). Next to it, ``[targets.NAME]`` tables
declare named targets (``harness.targets``).

Ignored columns: SPEC's one wall-clock column, ``job_status.duration_ms``, is ignored for every
target of this job unless ``--ignore-column`` / ``ignore_columns`` give another list or
``--no-ignore`` asks to compare every column; where the list came from is recorded with it.
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
from harness.replay import parse_template, uses
from harness.targets import (
    CUSTOM,
    Roles,
    Target,
    custom_target,
    expand_env,
    read_targets,
    reference_target,
    resolve_roles,
)

DEFAULT_TASKS = (4, 8, 12, 16)
DEFAULT_REPEAT = 5  # the fewest rounds with which a speed-up claim can be significant
DEFAULT_BACKEND = "process"
REFERENCE_BACKENDS = ("process", "thread", "dask")  # what our classifier's --backend accepts
DEFAULT_TIMEOUT_S = 1800.0
# SPEC 2.8: the one wall-clock value of this job (any build of it writes its own run's duration)
JOB_WALL_CLOCK_COLUMNS = ("job_status.duration_ms",)
TOML_KEYS: dict[str, type | tuple[type, ...]] = {
    "serial_cmd": str,
    "parallel_cmd": str,
    "target": str,
    "control": str,
    "candidate": str,
    "tasks": list,
    "repeat": int,
    "backend": str,
    "scheduler": str,
    "tables": list,
    "ignore_columns": list,
    "run_timeout": (int, float),
}


@dataclass(frozen=True, kw_only=True)
class ValidateSettings:
    """One validation's settings, checked."""

    roles: Roles
    tasks: tuple[int, ...]
    repeat: int
    backend: str
    config: Path | None
    tables: tuple[str, ...]
    ignore_columns: tuple[str, ...]
    ignore_source: str  # "default (SPEC 2.8 wall-clock column)", "--ignore-column", ...
    run_timeout_s: float
    scheduler: str | None = None  # {scheduler}: backend dask

    def __post_init__(self) -> None:
        if not self.tasks or any(n < 1 for n in self.tasks):
            raise HarnessError(f"tasks must be integers >= 1 (got {list(self.tasks)})")
        if self.repeat < 1:
            raise HarnessError(f"repeat must be >= 1 (got {self.repeat})")
        if not (self.run_timeout_s > 0 and math.isfinite(self.run_timeout_s)):
            raise HarnessError(f"run timeout must be > 0 seconds (got {self.run_timeout_s})")
        if not self.tables:
            raise HarnessError("no tables to compare")
        if any(t.builtin for t in self.targets) and self.backend not in REFERENCE_BACKENDS:
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
        for target in self.targets:
            for _, what, text in self.templates(target):
                tokens = parse_template(text, what)
                if uses(tokens, "config") and self.config is None:
                    raise HarnessError(f"{what} uses {{config}} but no --config was given")
                if uses(tokens, "scheduler") and not self.scheduler:
                    raise HarnessError(f"{what} uses {{scheduler}} but no --scheduler was given")

    @property
    def targets(self) -> tuple[Target, ...]:
        """The targets run: the control, then the candidate if any."""
        roles = self.roles
        return (roles.control,) if roles.candidate is None else (roles.control, roles.candidate)

    def templates(self, target: Target) -> list[tuple[str, str, str]]:
        """(mode, what, template with ``${...}`` expanded) of the commands this validation runs.

        The control of a control-vs-candidate validation runs its serial path only.
        """
        label = f"target {target.name}"
        commands = [("serial", f"{label}: serial command", target.serial_cmd)]
        runs_parallel = target is self.roles.candidate or self.roles.candidate is None
        if target.parallel_cmd is not None and runs_parallel:
            commands.append(("parallel", f"{label}: parallel command", target.parallel_cmd))
        return [(mode, what, expand_env(text, what)) for mode, what, text in commands]

    def to_dict(self) -> dict[str, Any]:
        """The ``settings`` part of results.json (``now`` is added by the caller)."""
        data = asdict(self)
        roles = data.pop("roles")
        control, candidate = self.roles.control, self.roles.candidate
        data = {
            "kind": self.roles.kind,
            "control": control.name,
            "candidate": candidate.name if candidate else None,
            "roles": self.roles.sentence(),
            # the control's templates: what the serial and parallel runs executed
            "serial_cmd": roles["control"]["serial_cmd"],
            "parallel_cmd": roles["control"]["parallel_cmd"],
            "targets": [t.to_dict() for t in self.targets],
            **data,
        }
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


def read_harness_toml(path: Path) -> tuple[dict[str, Any], dict[str, Target]]:
    """The ``[harness]`` table of ``path`` and its ``[targets.NAME]``, keys and types checked."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HarnessError(f"harness config {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise HarnessError(f"cannot read harness config {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise HarnessError(f"harness config {path} is not valid TOML: {exc}") from None
    table = data.get("harness", {} if "targets" in data else None)
    if not isinstance(table, dict):
        raise HarnessError(f"harness config {path} has no [harness] table")
    unknown = sorted(data.keys() - {"harness", "targets"})
    if unknown:
        raise HarnessError(
            f"harness config {path}: unknown table {unknown[0]!r} "
            "(expected [harness] and [targets.NAME])"
        )
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
    return table, read_targets(data, path)


def from_args(args: argparse.Namespace) -> ValidateSettings:
    """Merge the command line over the ``[harness]`` table over the defaults."""
    file: dict[str, Any] = {}
    named: dict[str, Target] = {}
    if args.harness_config is not None:
        file, named = read_harness_toml(args.harness_config)
    config: Path | None = None
    if args.config is not None:
        if not args.config.is_file():
            raise HarnessError(f"config {args.config} does not exist or is not a file")
        config = args.config.resolve()
    backend = _pick(args.backend, file.get("backend"), DEFAULT_BACKEND)
    roles = _roles(args, file, named, config is not None, backend == "dask")
    tables = tuple(_pick(args.table, file.get("tables"), OUTPUT_TABLES))
    ignore, source = _ignored(args, file, tables)
    return ValidateSettings(
        roles=roles,
        tasks=tuple(_pick(args.tasks, file.get("tasks"), DEFAULT_TASKS)),
        repeat=_pick(args.repeat, file.get("repeat"), DEFAULT_REPEAT),
        backend=backend,
        scheduler=_pick(getattr(args, "scheduler", None), file.get("scheduler")),
        config=config,
        tables=tables,
        ignore_columns=tuple(dict.fromkeys(ignore)),
        ignore_source=source,
        run_timeout_s=float(_pick(args.run_timeout, file.get("run_timeout"), DEFAULT_TIMEOUT_S)),
    )


def _roles(
    args: argparse.Namespace,
    file: dict[str, Any],
    named: dict[str, Target],
    with_config: bool,
    dask: bool = False,
) -> Roles:
    """The targets and their roles: loose templates win over the file's, the file over defaults."""
    if args.serial_cmd is not None or args.parallel_cmd is not None:
        serial, parallel, where = args.serial_cmd, args.parallel_cmd, "--serial-cmd/--parallel-cmd"
    else:
        serial, parallel, where = file.get("serial_cmd"), file.get("parallel_cmd"), "[harness]"
    known = {"reference": reference_target(with_config, dask), **named}
    custom = custom_target(serial, parallel, where)
    half = None
    if custom is not None:
        known[CUSTOM] = custom
        if custom.parallel_cmd is None:
            half = (
                "--serial-cmd without --parallel-cmd"
                if where.startswith("--")
                else "[harness] serial_cmd without parallel_cmd"
            )
    control = _pick(args.control, file.get("control"))
    candidate = _pick(args.candidate, file.get("candidate"))
    target = args.target
    if target is None and control is None and candidate is None:
        # templates on the command line are what this run is about, whatever the file names
        target = CUSTOM if custom is not None and where.startswith("--") else file.get("target")
    return resolve_roles(
        known, target=target, control=control, candidate=candidate, half_specified=half
    )


def _ignored(
    args: argparse.Namespace, file: dict[str, Any], tables: tuple[str, ...]
) -> tuple[list[str], str]:
    """(ignored columns, where that list came from): never an unexplained list."""
    if args.no_ignore:
        if args.ignore_column:
            raise HarnessError("--no-ignore and --ignore-column contradict each other")
        return [], "--no-ignore: every column compared"
    if args.ignore_column is not None:
        return list(args.ignore_column), "--ignore-column"
    if "ignore_columns" in file:
        return list(file["ignore_columns"]), "ignore_columns of the harness config"
    # the default list, for the tables compared (``--table`` may narrow them)
    default = [c for c in JOB_WALL_CLOCK_COLUMNS if c.partition(".")[0] in tables]
    return default, "default: SPEC 2.8's wall-clock column of this job"


def _pick(*values: Any) -> Any:
    """The first value that was given (not None)."""
    return next((v for v in values if v is not None), None)


__all__ = [
    "JOB_WALL_CLOCK_COLUMNS",
    "ValidateSettings",
    "from_args",
    "read_harness_toml",
    "table_column",
    "task_list",
]
