"""``persona-bench classify``: run the job on a database and print its summary."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from classifier import forkserver, gcpolicy
from classifier.config import BACKENDS, load_config
from classifier.dask_backend import CONNECT_TIMEOUT_S
from classifier.options import RunOptions
from persona_bench.kernel.argtypes import epoch, integer, seconds
from persona_bench.kernel.errors import EXIT_OK, UserError

HELP = "run the persona classification job on a database (serial or parallel)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", required=True, type=Path, help="the SQLite database (WAL)")
    parser.add_argument("--config", type=Path, help="TOML file with a [personas] table")
    parser.add_argument("--now", type=epoch, help="the run's clock: unix seconds or ISO-8601")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run after its last committed chunk",
    )
    parser.add_argument(
        "--restart",
        action="store_true",
        help="discard an interrupted run's progress and start afresh (default: refuse)",
    )
    parser.add_argument(
        "--tasks",
        type=integer(0),
        help="feature workers (0 = serial; default: the config's parallel_tasks)",
    )
    parser.add_argument("--serial", action="store_true", help="the serial path (= --tasks 0)")
    parser.add_argument(
        "--backend",
        choices=(*BACKENDS, "dask"),
        help="kind of worker (default: config); dask needs --scheduler and --snapshot",
    )
    parser.add_argument(
        "--scheduler", metavar="ADDRESS", help="the dask scheduler, e.g. tcp://10.0.0.5:8786"
    )
    parser.add_argument(
        "--snapshot",
        type=Path,
        metavar="PATH",
        help="read inputs from this closed copy (persona-bench snapshot), at the same path on "
        "every worker; verified by size and sha256 (docs/scale-out.md)",
    )
    parser.add_argument(
        "--connect-timeout",
        type=seconds,
        default=CONNECT_TIMEOUT_S,
        metavar="S",
        help=f"dask: seconds to reach the scheduler and a worker (default {CONNECT_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--busy-timeout",
        type=seconds,
        default=30.0,
        help="seconds to wait for a locked database (default 30)",
    )
    parser.add_argument(
        "--task-timeout",
        type=seconds,
        help="seconds after which a feature job counts as hung (default: 20 x the slowest"
        " job so far, at least 60 s)",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def _terminate(signum: int, frame: FrameType | None) -> None:
    # SIGTERM (a harness timeout, a service stop) ends the run like Ctrl-C: job_status 'failed'.
    raise SystemExit(128 + signum)


def run(args: argparse.Namespace) -> int:
    if args.serial and args.tasks:
        raise UserError(f"--serial and --tasks {args.tasks} contradict each other")
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _classify(args)
    finally:
        signal.signal(signal.SIGTERM, previous)  # main() may be called from a longer program


def _classify(args: argparse.Namespace) -> int:
    opts = RunOptions(
        db_path=args.db,
        config=load_config(args.config),
        now=args.now,
        tasks=0 if args.serial else args.tasks,
        backend=args.backend,
        resume=args.resume,
        restart=args.restart,
        busy_timeout=args.busy_timeout,
        task_timeout=args.task_timeout,
        snapshot=args.snapshot,
        scheduler=args.scheduler,
        connect_timeout=args.connect_timeout,
    )
    tasks, backend = opts.mode()
    if tasks and backend == "process":
        # the server's interpreter starts and imports on the other core while this one
        # imports the pipeline, opens and gates the database (docs/design.md)
        forkserver.start()
    try:
        from classifier import pipeline

        with gcpolicy.few_collections():
            summary = pipeline.run(opts)
    finally:
        forkserver.reap()  # started for nothing when the run was refused before its pool
    if args.json:
        print(json.dumps(summary, separators=(",", ":")))
    else:
        print(format_summary(summary))
    if summary["workers"]["abandoned_threads"]:
        # the run is committed and its connections closed, but a hung thread can neither be
        # killed nor joined, and the interpreter would wait for it at exit: leave without it
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_OK)
    return EXIT_OK


def format_summary(summary: dict[str, Any]) -> str:
    """The seed's "Results" list, plus unclassified, errors, wall and CPU time."""
    c = summary["counters"]
    mode = summary["mode"] + (
        f" ({summary['tasks']} {summary['backend']} workers)"
        if summary["mode"] == "parallel"
        else ""
    )
    lines = [f"persona classification at {summary['now_iso']} UTC, {mode}"]
    if summary["skipped"]:
        lines.append(f"- skipped: {summary['skipped']} ({summary['total']} active wallets)")
    lines += [f"- {key}: {n:,}" for key, n in c.items()]  # in pipeline.COUNTERS order
    lines.append(f"- wall time: {summary['wall_s']:.2f} s, CPU time: {summary['cpu_s']:.2f} s")
    if summary["workers"]["events"]:
        lines += [f"- worker fault: {e}" for e in summary["workers"]["events"]]
    return "\n".join(lines)
