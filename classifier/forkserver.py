"""The fork server our process pools fork their workers from: started early, reaped at the end.

Importing this module is cheap (no multiprocessing, only ``classifier.lifeline``): ``classify``
starts the server before it imports the pipeline, so that the server's interpreter start and
imports run on the other core while the job imports, opens and gates the database
(``docs/design.md``, "Start and end of a pool run").
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Any

from classifier.lifeline import JOB_PID_ENV, MAIN_PATH_ENV

# What the server imports once, for every worker it forks to inherit: the worker's code
# (``classifier.executor``, which imports the rest of the classifier) and the guard, which makes
# the server die with the job and runs the job's main script (``_main_path``).
PRELOAD = ["classifier.executor", "classifier.forkserver_guard"]


def context() -> Any:
    """The forkserver context, with our preload and the job's pid for the server's guard."""
    import multiprocessing

    os.environ[JOB_PID_ENV] = str(os.getpid())  # inherited by the fork server we start
    os.environ[MAIN_PATH_ENV] = _main_path()
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


@functools.cache  # a process's main script never changes; context() runs several times a run
def _main_path() -> str:
    """The main script every worker would run again before its first job, or "".

    A worker's preparation (CPython's ``multiprocessing.spawn.prepare``) runs the job's main
    script when the job was started as a file (the ``persona-bench`` console script), unless
    the process holds it already. CPython's own way to have the fork server run it once, a
    ``__main__`` preload, does nothing (CPython 3.11.7, 3.12.1 and 3.13.0 alike: the server
    looks for a ``main_path`` key that spawn never sets), so the server's guard runs it, from
    the very path spawn sends the workers. A job started as a module (``python -m
    persona_bench``) is never run again: nothing to do then.
    """
    from multiprocessing import spawn

    return str(spawn.get_preparation_data("persona-bench").get("init_main_from_path", ""))


def start() -> None:
    """Start the fork server now, without waiting for it (its preload runs on another core).

    A no-op when it runs already. The first worker's fork then need not wait for a fresh
    interpreter to import the classifier.
    """
    context()
    from multiprocessing import forkserver

    forkserver.ensure_running()


def reap() -> None:
    """Wait for the fork server so that the workers' CPU time reaches our RUSAGE_CHILDREN.

    Workers are children of the fork server, which reaps them; until we wait for the server
    itself, their CPU is counted nowhere a parent can see. ``_stop`` is CPython's (3.8+).
    """
    if "multiprocessing.forkserver" not in sys.modules:
        return  # never started in this process
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    stop = getattr(server, "_stop", None)
    if stop is not None and getattr(server, "_forkserver_pid", None) is not None:
        stop()
