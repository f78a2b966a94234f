"""``persona-bench validate``: snapshot, replay every configuration, compare, measure, report.

Steps: (1) the source (``--db``, or a ``--profile`` fixture, ``prod`` by default, generated once
and cached in ``--cache-dir``, by default the user's cache folder: ``fixtures.generator``) is
snapshotted read-only into a verified copy; (2) the runs of the plan (``harness.replay``) each
get a fresh copy of it and one fixed ``now``; (3) each is measured from outside and its output
tables compared with the reference run's; (4) ``results.json`` is written to the output folder
(always, before any non-zero exit), then one analysis of it (``harness.reporting.analysis``) is
shown on the console, written as ``report.md`` and, with ``--baseline``, compared with the
baseline's.

Exit codes: 0 every run completed and is identical; 1 a mismatch, a failed run (one that changed
an input table included) or (with ``--baseline``) a regression; 2 bad input (a folder in use by
another validation, a full disk included); 130 SIGINT, 143 SIGTERM (``harness.workdir``: the job
killed, results.json marked interrupted, the work folder removed).
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sqlite3
import time
from dataclasses import replace
from pathlib import Path

from harness import HarnessError, inputs
from harness.replay import Replay, RunSpec, parse_template, plan, replay_all
from harness.reporting.analysis import Analysis, analyse
from harness.reporting.console import Progress, summary_table
from harness.results import Results, Run, build_results, read_results, write_results
from harness.settings import ValidateSettings, from_args, table_column, task_list
from harness.snapshot import DEFAULT_BUSY_TIMEOUT_S, Manifest, add_check_argument, take_snapshot
from harness.workdir import claimed, default_out, signal_name, stop_signals_interrupt
from persona_bench.kernel.argtypes import epoch, integer, seconds
from persona_bench.kernel.sqlitefile import connect_ro

HELP = "Snapshot a database, replay serial and parallel runs on copies, prove identical output."
DEFAULT_PROFILE = "prod"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``validate`` options (see docs/harness.md)."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--db", type=Path, help="the source database (opened read-only)")
    source.add_argument("--profile", help=f"a fixture profile (default: {DEFAULT_PROFILE})")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        metavar="DIR",
        help="where --profile fixtures are cached (default $PERSONA_BENCH_CACHE_DIR, else "
        "$XDG_CACHE_HOME/persona-bench or ~/.cache/persona-bench)",
    )
    parser.add_argument("--config", type=Path, help="the job's TOML config, passed as {config}")
    parser.add_argument("--tasks", type=task_list, help="task counts to try (default 4,8,12,16)")
    parser.add_argument("--repeat", type=integer(1), help="rounds (default 5: a claim needs 5)")
    parser.add_argument("--backend", help="parallel backend, passed as {backend} (default process)")
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="a dask scheduler, passed as {scheduler} (with --backend dask; docs/scale-out.md)",
    )
    parser.add_argument("--out", type=Path, help="output folder (default reports/DATE-NAME/)")
    parser.add_argument(
        "--serial-cmd", metavar="TEMPLATE", help="serial command of the target 'custom'"
    )
    parser.add_argument(
        "--parallel-cmd", metavar="TEMPLATE", help="parallel command of the target 'custom'"
    )
    parser.add_argument(
        "--harness-config", type=Path, metavar="TOML", help="[harness] and [targets.NAME] tables"
    )
    parser.add_argument(
        "--target", metavar="NAME", help="serial vs parallel of this target (default: reference)"
    )
    parser.add_argument(
        "--control", metavar="NAME", help="the target whose rows are expected (with --candidate)"
    )
    parser.add_argument(
        "--candidate", metavar="NAME", help="the target checked against the control's rows"
    )
    parser.add_argument(
        "--table", action="append", metavar="T", help="a table to compare (repeat; replaces all)"
    )
    parser.add_argument(
        "--ignore-column",
        action="append",
        type=table_column,
        metavar="TABLE.COLUMN",
        help="a column not to compare (repeat; replaces the default job_status.duration_ms)",
    )
    parser.add_argument(
        "--no-ignore", action="store_true", help="compare every column, job_status.duration_ms too"
    )
    parser.add_argument("--run-timeout", type=seconds, metavar="S", help="per run (default 1800)")
    parser.add_argument("--now", type=epoch, help="the runs' clock (unix seconds or ISO-8601)")
    parser.add_argument("--name", help="name of this validation (default: db stem or profile)")
    parser.add_argument("--baseline", type=Path, metavar="OLD.json", help="gate against it")
    parser.add_argument(
        "--busy-timeout",
        type=seconds,
        default=DEFAULT_BUSY_TIMEOUT_S,
        metavar="S",
        help="how long the snapshot waits for a locked source (default 30)",
    )
    add_check_argument(parser)
    parser.add_argument(
        "--keep-snapshot", action="store_true", help="keep snapshot.db in the output folder"
    )


def _source(args: argparse.Namespace, progress: Progress) -> tuple[Path, str]:
    """(source database, default name)."""
    if args.db is not None:
        return args.db, args.db.stem
    profile = args.profile or DEFAULT_PROFILE
    if importlib.util.find_spec("fixtures.generator") is None:
        raise HarnessError("fixture profiles need fixtures.generator; give --db PATH instead")
    # imported by name only when a profile is used: the fixture generator is another module's job
    ensure_fixture = importlib.import_module("fixtures.generator").ensure_fixture

    started = time.monotonic()
    progress.note(f"fixture {profile}: generating or reusing the cached database ...")
    path = Path(ensure_fixture(profile, seed=1, scale=None, cache_dir=args.cache_dir))
    progress.note(f"fixture {profile}: {path} ({time.monotonic() - started:.1f} s)")
    return path, profile


def _meta_now(snapshot: Path) -> int | None:
    """The fixture's reference time (``persona_bench_meta.now``) when the database has one."""
    conn = connect_ro(snapshot)
    try:
        row = conn.execute("SELECT value FROM persona_bench_meta WHERE key = 'now'").fetchone()
    except sqlite3.OperationalError:
        return None
    finally:
        conn.close()
    try:
        return int(row[0]) if row else None
    except ValueError:
        return None


def _check_ignored(settings: ValidateSettings, snapshot: Path) -> None:
    """An ignored column that does not exist is a typo: refuse it (when its table exists)."""
    conn = connect_ro(snapshot)
    try:
        for item in settings.ignore_columns:
            table, _, column = item.partition(".")
            cols = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
            if cols and column not in cols:
                raise HarnessError(f"ignored column {item!r}: {table} has no column {column!r}")
    finally:
        conn.close()


def _report(a: Analysis, out: Path, baseline: Results | None) -> tuple[bool, list[str]]:
    """Render report.md and the baseline comparison of ``a``; (regressed, lines to print)."""
    from harness.reporting.baseline import compare_results, render_comparison
    from harness.reporting.report import render_report

    lines: list[str] = []
    comparison = None
    if baseline is not None:
        comparison = compare_results(baseline, a)
        lines += ["", render_comparison(comparison).rstrip()]
    lines.append(f"report: {render_report(a, out, comparison)}")
    return comparison is not None and comparison.regressed, lines


def run(args: argparse.Namespace) -> int:
    """Validate; see the module docstring for the exit codes."""
    with stop_signals_interrupt():
        return _validate(args)


def _validate(args: argparse.Namespace) -> int:
    settings = from_args(args)
    # a bad baseline is refused before minutes of runs are spent
    baseline = read_results(args.baseline) if args.baseline is not None else None
    started_at = int(time.time())
    roles = settings.roles
    specs = plan(
        settings.tasks,
        settings.repeat,
        control=roles.control.name,
        candidate=roles.candidate.name if roles.candidate else None,
        candidate_parallel=bool(roles.candidate and roles.candidate.parallel_cmd),
    )
    progress = Progress(
        total=len(specs), rounds=settings.repeat, show_target=roles.candidate is not None
    )
    source, default_name = _source(args, progress)
    name = args.name or default_name
    out = Path(args.out) if args.out is not None else default_out(name)
    with claimed(out) as work:
        manifest = take_snapshot(
            source, work / "snapshot.db", busy_timeout_s=args.busy_timeout, check=args.check
        )
        t = manifest.timings
        progress.note(roles.sentence())  # once, before the first run
        progress.note(
            f"snapshot of {source}: {manifest.size_bytes / 2**20:.1f} MiB, {manifest.check} ok, "
            f"{manifest.duration_s:.1f} s (backup {t.get('backup_s', 0):.1f} s, check "
            f"{t.get('check_s', 0):.1f} s, counts {t.get('counts_s', 0):.1f} s, hash "
            f"{t.get('hash_s', 0):.1f} s)"
        )
        _check_ignored(settings, Path(manifest.path))
        now = args.now if args.now is not None else _meta_now(Path(manifest.path)) or started_at
        results = _replay(settings, manifest, now, name, out, work, specs, progress)
        if args.keep_snapshot:
            shutil.copyfile(manifest.path, out / "snapshot.db")
    analysis = analyse(results)  # one analysis: the console, the report and the gate show it
    print(summary_table(analysis))
    print(f"results: {out / 'results.json'}")
    regressed, lines = _report(analysis, out, baseline)
    for line in lines:
        print(line)
    return 0 if results.verdict.identical and not regressed else 1


def _replay(
    settings: ValidateSettings,
    manifest: Manifest,
    now: int,
    name: str,
    out: Path,
    work: Path,
    specs: list[RunSpec],
    progress: Progress,
) -> Results:
    """Run the plan; results.json is written even when interrupted."""
    commands = {}
    for target in settings.targets:
        for mode, what, text in settings.templates(target):
            commands[(target.name, mode)] = parse_template(text, what)
    replay = Replay(
        commands=commands,
        now=now,
        backend=settings.backend,
        config=settings.config,
        tables=settings.tables,
        ignore_columns=settings.ignore_columns,
        run_timeout_s=settings.run_timeout_s,
        scheduler=settings.scheduler,
    )
    done: list[Run] = []
    snapshot = manifest.to_dict()
    snapshot.pop("path")  # a temporary file, gone after the validation

    input_ref: list[inputs.Reference] = []

    def described(ref: inputs.Reference) -> None:
        input_ref.append(ref)
        progress.note(
            f"input tables: {len(ref.tables)} described by {ref.method} in {ref.seconds:.1f} s "
            "(a run that changes any of them fails)"
        )

    def finished(i: int, spec: RunSpec, run: Run) -> None:
        done.append(run)
        progress.done(i, spec, run)

    def results_of(runs: list[Run], reference: str) -> Results:
        results = build_results(
            name=name,
            settings={**settings.to_dict(), "now": now},
            snapshot=snapshot,
            runs=runs,
            reference=reference,
        )
        if not input_ref:
            return results
        return replace(results, input_check=inputs.summarize(input_ref[0], runs))

    try:
        runs, reference = replay_all(
            specs,
            replay,
            Path(manifest.path),
            work,
            on_start=progress.start,
            on_done=finished,
            keep_dir=out,
            on_reference=described,
        )
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM (harness.workdir)
        # an unfinished validation proves nothing: red, and says which signal stopped it
        partial = results_of(done, "interrupted").interrupted(signal_name(exc))
        write_results(partial, out / "results.json")
        raise
    results = results_of(runs, reference)
    write_results(results, out / "results.json")
    return results


__all__ = ["HELP", "add_arguments", "run"]
