"""Fault injection at named points of a run, for the crash and hang tests (off unless asked).

``PERSONA_BENCH_FAULT="kill@after-commit:3"`` SIGKILLs the job right after its 3rd chunk of this
process commits; several faults are separated by commas. Points (chunks counted from 1 in each
process, so a resume counts its own):

- ``started``: the run's ``starting`` row is committed;
- ``before-commit:N``: chunk N's rows are written, its transaction not yet committed;
- ``after-commit:N``: chunk N is committed;
- ``job:N``: the Nth chunk job a worker of this process starts (processes count their own);
- ``warm-up``: the thread forking a process pool's first worker, before it forks it.

While a process pool's first worker is forked, the writer computes chunks itself
(``executor.warm_up_pool``): how many depends on the machine's speed. A ``job:N`` fault must be
reached on a small database whatever that speed, so with any fault configured but ``warm-up``
the writer leaves every chunk to the pool (``pool_only``).

Actions: ``kill`` (SIGKILL of the calling process: no cleanup, like ``kill -9``) and ``hang``
(the calling thread waits until ``RELEASE`` is set, which in a child process nobody does).
Kill points are thereby chosen by progress, never by time.
"""

from __future__ import annotations

import os
import signal
import threading

ENV = "PERSONA_BENCH_FAULT"
RELEASE = threading.Event()
_lock = threading.Lock()
_jobs = 0


def hit(point: str) -> None:
    """Apply the fault configured for ``point`` (e.g. ``"after-commit:3"``), if any."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    for fault in spec.split(","):
        action, _, where = fault.strip().partition("@")
        if where != point:
            continue
        if action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif action == "hang":
            RELEASE.wait()


def pool_only() -> bool:
    """A fault other than ``warm-up`` is configured: every chunk goes to the pool."""
    spec = os.environ.get(ENV) or ""
    return any(f.strip() and not f.strip().endswith("@warm-up") for f in spec.split(","))


def job_started() -> None:
    """Count a chunk job of this process and apply a ``job:N`` fault."""
    global _jobs
    if not os.environ.get(ENV):
        return
    with _lock:
        _jobs += 1
        n = _jobs
    hit(f"job:{n}")


def reset() -> None:
    """Forget the jobs counted and release hung threads (for in-process tests)."""
    global _jobs
    with _lock:
        _jobs = 0
    RELEASE.set()
