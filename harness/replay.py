"""Replay a job on fresh copies of a snapshot: command templates, the run plan, one run each.

A replay is a command template with placeholders ``{db}`` (the run's private copy), ``{tasks}``,
``{config}``, ``{now}``, ``{backend}``, ``{scheduler}`` (``--scheduler``: a Dask scheduler's
address) and ``{snapshot}`` (the verified snapshot every copy is made from: closed, never written,
so a cluster's workers can read it); it is split like a shell line (``shlex``) first and then
filled in token by token, so a path with spaces stays one argument and nothing is ever passed
through a shell. A template starting with ``persona-bench`` runs this interpreter's
``python -m persona_bench``, so the default target works without the script on ``PATH``.

The plan: R rounds; each round runs every configuration once (``serial-a``, ``tasks=N`` for each
task count, ``serial-b``), rotated by one place per round so no configuration always runs first
(round 1 is not rotated: its ``serial-a`` is the reference every run is compared with). The two
serial runs of a round are the A/A pair: their difference is the noise floor.

With a candidate (control vs candidate), ``serial-a``/``serial-b`` are the control's serial path
and the candidate's runs come between them: ``NAME serial`` and, when it has a parallel command,
``NAME tasks=N`` (``NAME`` the candidate's name). Every run records its target and role.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import string
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness import HarnessError, inputs
from harness.compare import TableData, compare_tables, read_tables
from harness.measure import Measurement, run_measured
from harness.results import Run
from persona_bench.kernel.errors import EXIT_BAD_INPUT

PLACEHOLDERS = ("db", "tasks", "config", "now", "backend", "scheduler", "snapshot")
DEFAULT_SERIAL = "persona-bench classify --db {db} --serial --now {now} --json"
DEFAULT_PARALLEL = (
    "persona-bench classify --db {db} --tasks {tasks} --backend {backend} --now {now} --json"
)
CONFIG_SUFFIX = " --config {config}"
DASK_SUFFIX = " --scheduler {scheduler} --snapshot {snapshot}"  # backend dask (docs/scale-out.md)


@dataclass(frozen=True)
class RunSpec:
    """One planned run."""

    round: int  # 1-based
    order: int  # position within its round, 0-based
    label: str  # serial-a, serial-b, tasks=N; a candidate's: NAME serial, NAME tasks=N
    tasks: int  # 0 for serial
    target: str = "reference"  # the target's name
    role: str = "control"  # control (the reference's side) or candidate

    @property
    def mode(self) -> str:
        """``serial`` or ``parallel``."""
        return "serial" if self.tasks == 0 else "parallel"

    @property
    def is_reference_side(self) -> bool:
        """A serial run of the control: the runs the reference is taken from."""
        return self.mode == "serial" and self.role == "control"


def default_templates(with_config: bool, dask: bool = False) -> tuple[str, str]:
    """The reference classifier's serial and parallel templates."""
    suffix = CONFIG_SUFFIX if with_config else ""
    return DEFAULT_SERIAL + suffix, DEFAULT_PARALLEL + (DASK_SUFFIX if dask else "") + suffix


def parse_template(text: str, what: str) -> tuple[str, ...]:
    """Split a template into tokens and check its placeholders, or raise ``HarnessError``."""
    try:
        tokens = tuple(shlex.split(text))
    except ValueError as exc:
        raise HarnessError(f"{what}: cannot split {text!r} ({exc})") from None
    if not tokens:
        raise HarnessError(f"{what} is empty")
    for token in tokens:
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(token) if f is not None]
        except ValueError as exc:
            raise HarnessError(f"{what}: bad placeholder in {token!r} ({exc})") from None
        for name in fields:
            if name not in PLACEHOLDERS:
                allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
                raise HarnessError(
                    f"{what}: unknown placeholder {{{name}}} (expected one of {allowed}; "
                    "write {{ and }} for literal braces)"
                )
    if "{db}" not in text:
        raise HarnessError(f"{what} must contain {{db}}: the copy the run works on")
    return tokens


def uses(tokens: Sequence[str], placeholder: str) -> bool:
    """Whether the template uses ``{placeholder}``."""
    return any(f == placeholder for t in tokens for _, f, _, _ in string.Formatter().parse(t) if f)


def render(tokens: Sequence[str], values: Mapping[str, str]) -> list[str]:
    """The argv of one run."""
    argv = [t.format_map(values) for t in tokens]
    if argv[0] == "persona-bench":
        return [sys.executable, "-m", "persona_bench", *argv[1:]]
    return argv


def plan(
    tasks: Sequence[int],
    repeat: int,
    *,
    control: str = "reference",
    candidate: str | None = None,
    candidate_parallel: bool = True,
) -> list[RunSpec]:
    """Interleaved rounds, as described in the module docstring."""
    if candidate is None:
        middle = [(f"tasks={n}", n, control, "control") for n in tasks]
    else:
        middle = [(f"{candidate} serial", 0, candidate, "candidate")]
        if candidate_parallel:
            middle += [(f"{candidate} tasks={n}", n, candidate, "candidate") for n in tasks]
    configs = [("serial-a", 0, control, "control"), *middle, ("serial-b", 0, control, "control")]
    specs = []
    for r in range(repeat):
        shift = r % len(configs)
        rotated = configs[shift:] + configs[:shift]
        specs += [
            RunSpec(r + 1, i, label, n, target, role)
            for i, (label, n, target, role) in enumerate(rotated)
        ]
    return specs


@dataclass(frozen=True, kw_only=True)
class Replay:
    """Everything a replay needs besides the snapshot (filled in by ``validate``)."""

    commands: Mapping[tuple[str, str], tuple[str, ...]]  # (target, mode) -> template tokens
    now: int
    backend: str
    config: Path | None
    tables: tuple[str, ...]
    ignore_columns: tuple[str, ...]
    run_timeout_s: float
    check_inputs: bool = True  # a run that changes any input table fails (harness.inputs)
    scheduler: str | None = None


def _summary(stdout: str) -> dict[str, Any] | None:
    """The job's --json object when stdout holds exactly one, else None."""
    try:
        value = json.loads(stdout)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _fresh_copy(snapshot: Path, dest: Path) -> tuple[float, float]:
    """Copy the snapshot to ``dest`` and flush it; (copy seconds, fsync seconds)."""
    started = time.perf_counter()
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{dest}{suffix}").unlink(missing_ok=True)
    try:
        shutil.copyfile(snapshot, dest)  # the snapshot is a closed, frozen single file
        copied = time.perf_counter()
        # Flush the copy now: otherwise the kernel writes back ~1 GB of dirty pages during the
        # measured run, on the same two cores, and slows the parallel runs most.
        fd = os.open(dest, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:  # a full disk: give the space back, say it in one line
        dest.unlink(missing_ok=True)
        raise HarnessError(f"cannot copy the snapshot to {dest}: {exc.strerror or exc}") from None
    return copied - started, time.perf_counter() - copied


def _move_db(src: Path, dest: Path) -> None:
    """Move a database with its -wal (a job may exit with committed pages still in it)."""
    for suffix in ("", "-wal"):
        if Path(f"{src}{suffix}").exists():
            shutil.move(f"{src}{suffix}", f"{dest}{suffix}")
    Path(f"{src}-shm").unlink(missing_ok=True)


def _failure(m: Measurement, unchanged: bool) -> str | None:
    if m.timed_out:
        return f"timed out after {m.wall_s:.1f} s (exit status {m.exit_code})"
    if m.exit_code != 0:
        return f"exit status {m.exit_code}"
    if unchanged:
        return "wrote nothing: every compared table is as in the snapshot"
    return None


def run_one(
    spec: RunSpec,
    replay: Replay,
    snapshot: Path,
    before: Mapping[str, TableData],
    workdir: Path,
    reference: inputs.Reference | None = None,
) -> tuple[Run, dict[str, TableData] | None]:
    """Run ``spec`` on a fresh copy; the run and its tables (None when it failed).

    With ``reference`` (the snapshot's input tables), a run that changed any input table fails.
    """
    copy = workdir / "run.db"
    copy_s, fsync_s = _fresh_copy(snapshot, copy)
    values = {
        "db": str(copy),
        "tasks": str(spec.tasks),
        "config": str(replay.config) if replay.config else "",
        "now": str(replay.now),
        "backend": replay.backend,
        "scheduler": replay.scheduler or "",
        "snapshot": str(snapshot),
    }
    tokens = replay.commands[(spec.target, spec.mode)]
    argv = render(tokens, values)
    m = run_measured(argv, timeout_s=replay.run_timeout_s)
    tables: dict[str, TableData] | None = None
    unchanged = False
    read_error = None
    read_s = compare_s = 0.0
    check: inputs.Check | None = None
    if m.exit_code == 0 and not m.timed_out:
        try:
            if reference is not None:  # after the measured window: its cost is not the job's
                check = inputs.check(reference, copy)
                read_error = check.failure()
            reading = time.perf_counter()
            tables = read_tables(copy, replay.tables, replay.ignore_columns)
            comparing = time.perf_counter()
            read_s = comparing - reading
            unchanged = same_tables(before, tables)
            compare_s = time.perf_counter() - comparing
        except HarnessError as exc:  # the job left a database we cannot read: its failure
            read_error = str(exc)
    failure = read_error or _failure(m, unchanged)
    run = Run(
        round=spec.round,
        order=spec.order,
        label=spec.label,
        mode=spec.mode,
        tasks=spec.tasks,
        command=m.command,
        exit_code=m.exit_code,
        timed_out=m.timed_out,
        failed=failure is not None,
        failure=failure,
        stderr_tail=m.stderr_tail,
        wall_s=m.wall_s,
        cpu_user_s=m.cpu_user_s,
        cpu_system_s=m.cpu_system_s,
        cpu_s=m.cpu_s,
        cpu_source=m.cpu_source,
        cpu_rusage_s=m.cpu_rusage_s,
        cpu_proc_s=m.cpu_proc_s,
        peak_pss_bytes=m.peak_pss_bytes,
        peak_uss_bytes=m.peak_uss_bytes,
        peak_rss_max_bytes=m.peak_rss_max_bytes,
        host_steal_s=m.host_steal_s,
        samples=m.samples,
        memory_source=m.memory_source,
        sampler=m.sampler,
        overhead={
            "copy_s": round(copy_s, 6),
            "fsync_s": round(fsync_s, 6),
            "inputs_s": round(check.seconds, 6) if check is not None else 0.0,
            "read_s": round(read_s, 6),
            "compare_s": round(compare_s, 6),
            "sampler_cpu_s": m.sampler.get("cpu_s", 0.0),
        },
        summary=_summary(m.stdout),
        inputs_changed=check.changed if check is not None else None,
        inputs_check_s=round(check.seconds, 6) if check is not None else None,
        target=spec.target,
        role=spec.role,
    )
    return run, (None if failure else tables)


def replay_all(
    specs: Sequence[RunSpec],
    replay: Replay,
    snapshot: Path,
    workdir: Path,
    *,
    on_start: Callable[[int, RunSpec], None] = lambda i, s: None,
    on_done: Callable[[int, RunSpec, Run], None] = lambda i, s, r: None,
    keep_dir: Path | None = None,
    on_reference: Callable[[inputs.Reference], None] | None = None,
) -> tuple[list[Run], str]:
    """Run every spec in order, compare each with the reference; (runs, reference label).

    The reference is the first serial run that did not fail (normally round 1's ``serial-a``).
    A first run that exits 2 (the job's "bad input") raises HarnessError: validate exits 2.
    When ``keep_dir`` is given, the reference's copy and the first mismatching run's copy are
    kept there for inspection.
    """
    before = read_tables(snapshot, replay.tables, replay.ignore_columns)
    outputs = {*inputs.OUTPUT_TABLES, *replay.tables}  # a table compared is an output too
    input_ref = inputs.reference(snapshot, outputs) if replay.check_inputs else None
    if on_reference is not None and input_ref is not None:
        on_reference(input_ref)
    records: list[Run] = []
    pending: list[tuple[int, dict[str, TableData]]] = []  # (index in records, tables)
    reference: dict[str, TableData] | None = None
    reference_name = "none: no serial run completed"
    kept_mismatch = False
    for i, spec in enumerate(specs):
        on_start(i, spec)
        started = time.perf_counter()
        record, tables = run_one(spec, replay, snapshot, before, workdir, input_ref)
        if i == 0 and record.exit_code == EXIT_BAD_INPUT and not record.timed_out:
            # the job refused its input (config, schema): that is the operator's bad input,
            # said once, not a run to measure 18 times
            said = record.stderr_tail.strip().splitlines()
            raise HarnessError(
                "the job refused its input (exit 2): " + (said[-1] if said else "no message")
            )
        if tables is not None and reference is None and spec.is_reference_side:
            reference = tables
            reference_name = f"round {spec.round} {spec.label} ({spec.target})"
            record = replace(record, identical=True)
            if keep_dir is not None:  # a rename, not a copy: the next run copies afresh anyway
                _move_db(workdir / "run.db", workdir / "reference.db")
            for index, earlier_tables in pending:
                records[index] = _judge(records[index], earlier_tables, reference)
            pending.clear()
        elif tables is not None and reference is None:
            pending.append((len(records), tables))
        elif tables is not None and reference is not None:
            record = _judge(record, tables, reference)
        if record.failed:
            record = replace(record, identical=False)
        # everything the harness did for this run outside its measured wall
        overhead = dict(record.overhead or {})
        overhead["total_s"] = round(time.perf_counter() - started - (record.wall_s or 0.0), 6)
        record = replace(record, overhead=overhead)
        records.append(record)
        if record.identical is False and not record.failed and keep_dir and not kept_mismatch:
            kept_mismatch = True
            keep_dir.mkdir(parents=True, exist_ok=True)
            name = f"mismatch-round{spec.round}-{spec.label.replace('=', '').replace(' ', '-')}.db"
            _move_db(workdir / "run.db", keep_dir / name)
            _move_db(workdir / "reference.db", keep_dir / "reference.db")
        on_done(i, spec, record)
    return records, reference_name


def _judge(run: Run, tables: Mapping[str, TableData], reference: Mapping[str, TableData]) -> Run:
    """``run`` with its comparison against the reference's tables (its time in the overhead)."""
    started = time.perf_counter()
    diffs = {} if same_tables(reference, tables) else compare_tables(dict(reference), dict(tables))
    overhead = dict(run.overhead or {})
    overhead["compare_s"] = round(overhead.get("compare_s", 0.0) + time.perf_counter() - started, 6)
    return replace(
        run,
        identical=not diffs,
        diff={t: d.to_dict() for t, d in diffs.items()} or None,
        overhead=overhead,
    )


def same_tables(expected: Mapping[str, TableData], got: Mapping[str, TableData]) -> bool:
    """Whether every table is identical: a C-speed equality of the rows, before any diff."""
    return expected.keys() == got.keys() and all(
        expected[t].exists == got[t].exists
        and expected[t].columns == got[t].columns
        and expected[t].rows == got[t].rows
        for t in expected
    )


__all__ = [
    "DEFAULT_PARALLEL",
    "DEFAULT_SERIAL",
    "PLACEHOLDERS",
    "Replay",
    "RunSpec",
    "default_templates",
    "parse_template",
    "plan",
    "render",
    "replay_all",
    "run_one",
    "uses",
]
