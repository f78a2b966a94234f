"""Named targets: the builds a validation runs, each a serial and optionally a parallel command.

Our classifier is the built-in target ``reference``. A harness config declares others, one table
each, next to its ``[harness]`` table::

    [targets.production]
    serial_cmd   = "${PERSONA_JOB} --db {db} --now {now} --parallel false"
    parallel_cmd = "${PERSONA_JOB} --db {db} --now {now} --parallel true --tasks {tasks}"

``--serial-cmd``/``--parallel-cmd`` (or ``serial_cmd``/``parallel_cmd`` in ``[harness]``) declare
the target ``custom``. ``${NAME}`` in a template is the environment variable ``NAME`` (it must be
set), so a reviewed file can name a binary whose path differs per machine; ``{db}``, ``{now}``...
are the per-run placeholders of ``harness.replay``.

A target with only a serial command cannot answer "does its parallel path write its serial path's
rows": nothing silently fills in the other half (filling it with the reference classifier would
make the verdict compare two implementations without saying so). It can still take a role that
runs only its serial path, when the roles are explicit: ``--control NAME`` / ``--candidate NAME``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness import HarnessError
from harness.replay import default_templates

REFERENCE = "reference"
CUSTOM = "custom"  # the target of --serial-cmd/--parallel-cmd or [harness] serial_cmd/parallel_cmd
TARGET_KEYS = ("serial_cmd", "parallel_cmd", "description")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True, kw_only=True)
class Target:
    """One build the harness can run."""

    name: str
    serial_cmd: str
    parallel_cmd: str | None  # None: a serial-only target
    builtin: bool = False
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The target as recorded in results.json (templates as written, before ``${...}``)."""
        return {
            "name": self.name,
            "serial_cmd": self.serial_cmd,
            "parallel_cmd": self.parallel_cmd,
            "builtin": self.builtin,
            "description": self.description,
        }


def reference_target(with_config: bool, dask: bool = False) -> Target:
    """The built-in target: our classifier (``persona-bench classify``; on Dask with ``dask``)."""
    serial, parallel = default_templates(with_config, dask)
    return Target(
        name=REFERENCE,
        serial_cmd=serial,
        parallel_cmd=parallel,
        builtin=True,
        description="the reference classifier of this project",
    )


def expand_env(template: str, what: str, environ: Mapping[str, str] | None = None) -> str:
    """``template`` with each ``${NAME}`` replaced by that environment variable (it must be set)."""
    env = os.environ if environ is None else environ

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if not env.get(name):
            raise HarnessError(
                f"{what} uses ${{{name}}} but the environment variable {name} is not set "
                f"(expected e.g. {name}=/path/to/the/build)"
            )
        return env[name]

    return _ENV.sub(value, template)


def read_targets(data: Mapping[str, Any], path: object) -> dict[str, Target]:
    """The ``[targets.NAME]`` tables of a parsed harness config, checked."""
    tables = data.get("targets", {})
    if not isinstance(tables, dict):
        raise HarnessError(f"{path}: targets must be tables [targets.NAME] (got {tables!r})")
    targets: dict[str, Target] = {}
    for name, table in tables.items():
        where = f"targets.{name}"
        if not _NAME.match(name):
            raise HarnessError(f"{where}: a target name is letters, digits, '.', '_', '-'")
        if name in (REFERENCE, CUSTOM):
            raise HarnessError(f"{where}: {name!r} is a built-in target name; choose another")
        if not isinstance(table, dict):
            raise HarnessError(f"{where} must be a table (got {table!r})")
        for key, value in table.items():
            if key not in TARGET_KEYS:
                raise HarnessError(
                    f"{where}.{key} is not a known key (expected one of {', '.join(TARGET_KEYS)})"
                )
            if not isinstance(value, str):
                raise HarnessError(f"{where}.{key} must be a string (got {value!r})")
        if "serial_cmd" not in table:
            raise HarnessError(f"{where} has no serial_cmd (every target needs one)")
        targets[name] = Target(
            name=name,
            serial_cmd=table["serial_cmd"],
            parallel_cmd=table.get("parallel_cmd"),
            description=table.get("description", ""),
        )
    return targets


def custom_target(serial: str | None, parallel: str | None, source: str) -> Target | None:
    """The ``custom`` target of loose templates, or None when neither was given."""
    if serial is None and parallel is None:
        return None
    if serial is None:
        raise HarnessError(
            f"{source}: a parallel command without a serial command: the serial runs are the "
            "reference every run is compared with; give the serial command too"
        )
    return Target(name=CUSTOM, serial_cmd=serial, parallel_cmd=parallel, description=source)


@dataclass(frozen=True, kw_only=True)
class Roles:
    """Which targets a validation runs, and in which role."""

    control: Target  # its serial runs are the reference (the A/A pair)
    candidate: Target | None  # None: serial vs parallel of the control alone

    @property
    def kind(self) -> str:
        """``serial-vs-parallel`` or ``control-vs-candidate``."""
        return "serial-vs-parallel" if self.candidate is None else "control-vs-candidate"

    def sentence(self) -> str:
        """The roles said once, for the console and the report."""
        if self.candidate is None:
            return (
                f"target: {self.control.name}, serial path vs its parallel path "
                f"(the serial runs of {self.control.name} are the reference)"
            )
        return (
            f"control: {self.control.name}; candidate: {self.candidate.name} "
            f"(every run is compared with the control's first serial run)"
        )


def resolve_roles(
    known: Mapping[str, Target],
    *,
    target: str | None,
    control: str | None,
    candidate: str | None,
    half_specified: str | None,
) -> Roles:
    """The roles of a validation, or ``HarnessError``.

    ``half_specified`` names loose templates given without their parallel half (e.g. "--serial-cmd
    without --parallel-cmd"); that is refused unless ``--control``/``--candidate`` make the roles
    explicit.
    """

    def pick(name: str, option: str) -> Target:
        if name not in known:
            raise HarnessError(
                f"{option} {name!r}: no such target (known: {', '.join(sorted(known))})"
            )
        return known[name]

    if target is not None and (control is not None or candidate is not None):
        raise HarnessError(
            "--target is serial vs parallel of one target; --control/--candidate "
            "compare two: give one or the other"
        )
    if (control is None) != (candidate is None):
        given = "--control" if control is not None else "--candidate"
        raise HarnessError(f"{given} needs its counterpart: give both --control and --candidate")
    if control is not None and candidate is not None:
        if control == candidate:
            raise HarnessError(f"control and candidate are the same target ({control!r})")
        return Roles(control=pick(control, "--control"), candidate=pick(candidate, "--candidate"))
    if half_specified is not None:
        raise HarnessError(
            f"{half_specified}: the parallel runs would be another implementation; give both "
            "commands, or compare two builds explicitly with --control NAME --candidate NAME"
        )
    name = target if target is not None else (CUSTOM if CUSTOM in known else REFERENCE)
    chosen = pick(name, "--target")
    if chosen.parallel_cmd is None:
        raise HarnessError(
            f"target {chosen.name!r} has a serial command only: nothing to compare its serial "
            "path with; give it a parallel_cmd, or use it as --control or --candidate"
        )
    return Roles(control=chosen, candidate=None)


__all__ = [
    "CUSTOM",
    "REFERENCE",
    "Roles",
    "Target",
    "custom_target",
    "expand_env",
    "read_targets",
    "reference_target",
    "resolve_roles",
]
