"""The one results model of a validation: typed ``Run`` and ``Results``, one reader, one writer.

``results.json`` is the JSON form of ``Results`` (``docs/contracts.md``). Its schema name and
version live here and nowhere else (``SCHEMA_NAME``, ``SCHEMA_VERSION``; ``READABLE_VERSIONS``
lists what ``from_dict`` still reads: a version-1 file lacks only optional fields). Everything
that reads results (``report``, ``compare``, ``validate --baseline``) goes through
``Results.from_dict`` / ``read_results``, which validate; everything that writes goes through
``write_results`` (``harness.atomic``). Results carry their context (machine, Python, SQLite,
package version, git commit) so that figures from two machines are never compared unknowingly.

    harness.HarnessError
     └── ResultsError    not a validate results file this version can read (names expected vs got)
"""

from __future__ import annotations

import json
import os
import platform
import socket
import sqlite3
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from harness import HarnessError
from harness.atomic import write_text
from harness.compare import wall_clock_only
from persona_bench.kernel import __version__

SCHEMA_NAME = "persona-bench.validate"
SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)  # 1: before the CPU source, sampler cost and harness cost fields
KIND = SCHEMA_NAME  # the JSON key is "kind"
CHECKOUT = Path(__file__).resolve().parents[1]  # a git checkout when run from one (not installed)
MAX_MISMATCHES = 20  # runs listed in verdict.mismatches; every run keeps its own diff


class ResultsError(HarnessError):
    """A results file or dict this version cannot read (kind, schema version or shape)."""


# ---- the model -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Run:
    """One measured run of one configuration in one round, as ``results.json`` stores it.

    Figures a target may not give (no summary, memory unreadable) are None. ``cpu_source`` says
    which account the CPU figure comes from (``harness.measure``); ``sampler`` is the memory
    sampler's own cost and ``overhead`` the harness's work around the run (copy, fsync, compare).
    Keys this version does not know are kept in ``extra`` and written back unchanged.
    """

    round: int
    label: str
    mode: str  # "serial" or "parallel"
    tasks: int  # 0 for serial
    order: int = 0
    command: tuple[str, ...] = ()
    exit_code: int | None = None
    timed_out: bool = False
    failed: bool = False
    failure: str | None = None
    stderr_tail: str = ""
    wall_s: float | None = None
    cpu_user_s: float | None = None
    cpu_system_s: float | None = None
    cpu_s: float | None = None
    cpu_source: str | None = None  # "rusage" or "proc": which account cpu_s is
    cpu_rusage_s: float | None = None  # the waited-for rusage, orphans reaped by the harness too
    cpu_proc_s: float | None = None  # every process seen, its own CPU from /proc
    peak_pss_bytes: int | None = None
    peak_uss_bytes: int | None = None
    peak_rss_max_bytes: int | None = None
    host_steal_s: float | None = None  # CPU the host gave to others during the run (measure)
    samples: int | None = None
    memory_source: str | None = None
    sampler: Mapping[str, Any] | None = None
    overhead: Mapping[str, Any] | None = None
    summary: Mapping[str, Any] | None = None
    identical: bool | None = None
    diff: Mapping[str, Any] | None = None
    # harness.inputs: the tables other than the outputs this run changed ({} none; None not
    # checked, the run failed first) and the check's cost (outside the measured window)
    inputs_changed: Mapping[str, Any] | None = None
    inputs_check_s: float | None = None
    # the target this run ran, and its role: "control" (its serial runs are the reference) or
    # "candidate" (control vs candidate); None in files written before targets had names
    target: str | None = None
    role: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """The run completed and has a wall time."""
        return not self.failed and self.wall_s is not None

    @property
    def is_candidate(self) -> bool:
        """A run of the candidate target (control vs candidate)."""
        return self.role == "candidate"

    @classmethod
    def from_dict(cls, data: Any, where: str = "run") -> Run:
        """A checked ``Run``; raises ``ResultsError`` naming the field, expected vs got."""
        if not isinstance(data, Mapping):
            raise ResultsError(f"{where} must be an object (got {type(data).__name__})")
        known = {f.name for f in fields(cls)} - {"extra"}
        values: dict[str, Any] = {}
        for name in known:
            if name not in data:
                continue
            values[name] = _checked(name, data[name], f"{where}.{name}")
        for name in ("round", "label", "mode", "tasks"):
            if name not in values:
                raise ResultsError(f"{where} has no {name!r}")
        values["extra"] = {k: v for k, v in data.items() if k not in known}
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, in the documented key order."""
        data: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            data[f.name] = list(value) if isinstance(value, tuple) else value
        data.update(self.extra)
        return data


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """Whether every run completed and wrote the reference's rows."""

    identical: bool
    reference: str
    failed_runs: int = 0
    mismatched_runs: int = 0
    nondeterministic: bool = False  # the control's serial path disagreed with itself
    mismatches: tuple[Mapping[str, Any], ...] = ()
    interrupted: str | None = None  # the signal that stopped the validation (SIGINT, SIGTERM)
    # every mismatch is in timestamp/duration columns only: those columns (TABLE.COLUMN), and
    # the --ignore-column options that would ignore them; None otherwise (nothing is ignored
    # without being asked for)
    time_columns_only: tuple[str, ...] | None = None
    ignore_hint: str | None = None

    @classmethod
    def of(cls, runs: Sequence[Run], reference: str) -> Verdict:
        """Identical only when every run completed and matched the reference."""
        failed = [r for r in runs if r.failed]
        mismatched = [r for r in runs if not r.failed and r.identical is False]
        time_columns = time_only_columns(mismatched)
        return cls(
            identical=bool(runs) and not failed and not mismatched,
            reference=reference,
            failed_runs=len(failed),
            mismatched_runs=len(mismatched),
            # a candidate's serial runs are another build: only the control's own serial runs
            # disagreeing with its first one make the job nondeterministic
            nondeterministic=any(r.mode == "serial" and not r.is_candidate for r in mismatched),
            mismatches=tuple(
                {"label": r.label, "round": r.round, "tables": dict(r.diff or {})}
                for r in mismatched[:MAX_MISMATCHES]
            ),
            time_columns_only=time_columns,
            ignore_hint=" ".join(f"--ignore-column {c}" for c in time_columns)
            if time_columns
            else None,
        )

    @classmethod
    def from_dict(cls, data: Any) -> Verdict:
        """A checked ``Verdict``."""
        if not isinstance(data, Mapping):
            raise ResultsError(f"verdict must be an object (got {type(data).__name__})")
        if not isinstance(data.get("identical"), bool):
            raise ResultsError(
                f"verdict.identical must be true or false (got {data.get('identical')!r})"
            )
        mismatches = data.get("mismatches") or []
        if not isinstance(mismatches, list) or not all(isinstance(m, Mapping) for m in mismatches):
            raise ResultsError("verdict.mismatches must be a list of objects")
        return cls(
            identical=data["identical"],
            reference=str(data.get("reference", "")),
            failed_runs=int(data.get("failed_runs") or 0),
            mismatched_runs=int(data.get("mismatched_runs") or 0),
            nondeterministic=bool(data.get("nondeterministic")),
            mismatches=tuple(mismatches),
            interrupted=str(data["interrupted"]) if data.get("interrupted") else None,
            time_columns_only=tuple(map(str, data["time_columns_only"]))
            if isinstance(data.get("time_columns_only"), list)
            else None,
            ignore_hint=str(data["ignore_hint"]) if data.get("ignore_hint") else None,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``interrupted`` only when the validation was)."""
        data = {
            "identical": self.identical,
            "reference": self.reference,
            "failed_runs": self.failed_runs,
            "mismatched_runs": self.mismatched_runs,
            "nondeterministic": self.nondeterministic,
            "time_columns_only": list(self.time_columns_only) if self.time_columns_only else None,
            "ignore_hint": self.ignore_hint,
            "mismatches": [dict(m) for m in self.mismatches],
        }
        if self.interrupted:
            data["interrupted"] = self.interrupted
        return data


@dataclass(frozen=True, kw_only=True)
class Results:
    """One validation: context, settings, snapshot manifest, every run and the verdict."""

    name: str
    created_at: str
    metadata: Mapping[str, Any]
    settings: Mapping[str, Any]
    snapshot: Mapping[str, Any]
    runs: tuple[Run, ...]
    verdict: Verdict
    schema_version: int = SCHEMA_VERSION  # the version read (a v1 file stays v1 in memory)
    input_check: Mapping[str, Any] | None = None  # harness.inputs.summarize: method, cost
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any) -> Results:
        """Validate a parsed ``results.json``; ``ResultsError`` (one line, expected vs got)."""
        if not isinstance(data, Mapping):
            raise ResultsError(f"results must be a JSON object (got {type(data).__name__})")
        kind = data.get("kind")
        if kind != SCHEMA_NAME:
            raise ResultsError(
                f"not a validate results file (kind {kind!r}, expected {SCHEMA_NAME!r})"
            )
        version = data.get("schema_version")
        if isinstance(version, bool) or version not in READABLE_VERSIONS:
            readable = " or ".join(map(str, READABLE_VERSIONS))
            raise ResultsError(
                f"unsupported results schema_version {version!r} (expected {readable}; "
                f"this is persona-bench {__version__})"
            )
        runs = data.get("runs")
        if not isinstance(runs, list):
            raise ResultsError("results has no list of runs")
        for key in ("metadata", "settings", "snapshot"):
            if not isinstance(data.get(key) or {}, Mapping):
                raise ResultsError(f"results.{key} must be an object")
        parsed = tuple(Run.from_dict(r, f"runs[{i}]") for i, r in enumerate(runs))
        verdict = data.get("verdict")
        known = {
            "schema_version", "kind", "name", "created_at", "metadata", "settings",
            "snapshot", "runs", "verdict", "input_check",
        }  # fmt: skip
        input_check = data.get("input_check")
        if input_check is not None and not isinstance(input_check, Mapping):
            raise ResultsError(f"results.input_check must be an object (got {input_check!r})")
        return cls(
            name=str(data.get("name", "")),
            created_at=str(data.get("created_at", "")),
            metadata=dict(data.get("metadata") or {}),
            settings=dict(data.get("settings") or {}),
            snapshot=dict(data.get("snapshot") or {}),
            runs=parsed,
            verdict=Verdict.from_dict(verdict) if verdict is not None else Verdict.of(parsed, "?"),
            schema_version=int(version),
            input_check=dict(input_check) if input_check is not None else None,
            extra={k: v for k, v in data.items() if k not in known},
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, always written as the current ``SCHEMA_VERSION``."""
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": SCHEMA_NAME,
            "name": self.name,
            "created_at": self.created_at,
            "metadata": dict(self.metadata),
            "settings": dict(self.settings),
            "snapshot": dict(self.snapshot),
            "runs": [r.to_dict() for r in self.runs],
            "verdict": self.verdict.to_dict(),
            **({"input_check": dict(self.input_check)} if self.input_check is not None else {}),
            **self.extra,
        }

    def interrupted(self, signal_name: str | None = None) -> Results:
        """These results marked red: an unfinished validation proves nothing."""
        verdict = replace(self.verdict, identical=False, interrupted=signal_name)
        return replace(self, verdict=verdict)


_INT = ("round", "tasks", "order", "exit_code", "peak_pss_bytes", "peak_uss_bytes")
_INT2 = ("peak_rss_max_bytes", "samples")
_FLOAT = (
    "wall_s", "cpu_user_s", "cpu_system_s", "cpu_s", "cpu_rusage_s", "cpu_proc_s",
    "inputs_check_s", "host_steal_s",
)  # fmt: skip
_BOOL = ("timed_out", "failed")
_STR = ("label", "mode", "failure", "stderr_tail", "cpu_source", "memory_source", "target", "role")
_MAP = ("sampler", "overhead", "summary", "diff", "inputs_changed")
_REQUIRED_NOT_NONE = ("round", "tasks", "label", "mode")


def _checked(name: str, value: Any, where: str) -> Any:
    """``value`` converted to the field's type, or ``ResultsError`` saying expected vs got."""
    if value is None and name not in _REQUIRED_NOT_NONE and name not in _BOOL:
        return None
    if name in _INT or name in _INT2:
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
            raise ResultsError(f"{where} must be an integer (got {value!r})")
        return int(value)
    if name in _FLOAT:
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise ResultsError(f"{where} must be a number (got {value!r})")
        return float(value)
    if name in _BOOL or name == "identical":
        if not isinstance(value, bool):
            raise ResultsError(f"{where} must be true or false (got {value!r})")
        return value
    if name in _STR:
        if not isinstance(value, str):
            raise ResultsError(f"{where} must be a string (got {value!r})")
        return value
    if name in _MAP:
        if not isinstance(value, Mapping):
            raise ResultsError(f"{where} must be an object or null (got {value!r})")
        return dict(value)
    if name == "command":
        if not isinstance(value, list | tuple) or not all(isinstance(t, str) for t in value):
            raise ResultsError(f"{where} must be a list of strings (got {value!r})")
        return tuple(value)
    return value


def time_only_columns(mismatched: Sequence[Run]) -> tuple[str, ...] | None:
    """``TABLE.COLUMN`` of the differing columns when every mismatch is in time columns only.

    Such runs wrote the same rows at another clock: the job reads the wall clock (or ignores
    ``{now}``). The verdict says so and names the ``--ignore-column`` that would apply; nothing is
    ignored without being asked for.
    """
    columns: dict[str, None] = {}
    for run in mismatched:
        found = wall_clock_only(run.diff or {})
        if found is None:
            return None
        columns.update(dict.fromkeys(found))
    return tuple(columns) or None


# ---- context -------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_state(repo: Path = CHECKOUT) -> tuple[str | None, bool | None]:
    """(commit, has local changes) of the harness's own checkout; (None, None) outside git.

    An installed package is not a checkout: its folder has no ``.git``, and git must not answer
    for a repository that merely encloses it (a venv inside some other project).
    """
    if not (repo / ".git").exists():
        return None, None
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None, None
    return head or None, bool(status)


def collect_metadata() -> dict[str, Any]:
    """The machine and software the results come from."""
    commit, dirty = git_state()
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_bytes": psutil.virtual_memory().total,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "package_version": __version__,
        "git_commit": commit,
        "git_dirty": dirty,
    }


def now_iso() -> str:
    """The current UTC time as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- building, reading, writing ------------------------------------------------------------


def build_results(
    *,
    name: str,
    settings: Mapping[str, Any],
    snapshot: Mapping[str, Any],
    runs: Sequence[Run],
    reference: str,
    metadata: Mapping[str, Any] | None = None,
    created_at: str | None = None,
) -> Results:
    """The results of a validation that just ran (metadata collected now unless given)."""
    return Results(
        name=name,
        created_at=created_at or now_iso(),
        metadata=dict(metadata) if metadata is not None else collect_metadata(),
        settings=dict(settings),
        snapshot=dict(snapshot),
        runs=tuple(runs),
        verdict=Verdict.of(runs, reference),
    )


def write_results(results: Results, path: Path) -> Path:
    """Write ``results`` as JSON, atomically (a reader never sees half a file)."""
    return write_text(path, json.dumps(results.to_dict(), indent=2) + "\n")


def read_results(path: Path) -> Results:
    """Read and validate a results file; every failure is one ``ResultsError`` line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ResultsError(f"{path}: is a directory, expected a results.json") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path}: cannot read ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    try:
        return Results.from_dict(data)
    except ResultsError as exc:
        raise ResultsError(f"{path}: {exc}") from None


def as_results(results: Results | Mapping[str, Any]) -> Results:
    """``results`` itself, or the dict validated into ``Results``."""
    return results if isinstance(results, Results) else Results.from_dict(results)


__all__ = [
    "KIND",
    "READABLE_VERSIONS",
    "SCHEMA_NAME",
    "SCHEMA_VERSION",
    "Results",
    "ResultsError",
    "Run",
    "Verdict",
    "as_results",
    "build_results",
    "collect_metadata",
    "git_state",
    "read_results",
    "time_only_columns",
    "write_results",
]
