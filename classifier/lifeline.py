"""Worker processes die with the process that started them (Linux parent-death signal).

A SIGKILLed job cannot clean up, and its process-pool workers block forever on their job queue
(each holds both ends of the queue's pipe, so they never see EOF); with them the fork server,
the resource tracker, the database files and the job's inherited stdout stay open, and
``classify ... | cat`` never ends. ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` asks the kernel to kill a
process when its parent exits: the fork server (whose parent is the job) sets it when it starts
(``classifier.forkserver_guard``), every worker (whose parent is the fork server) in its pool
initializer. The fork server starts while the job goes on: a job killed before the server armed
its signal is caught by the job's pid, which the job leaves in the environment the server
inherits (``JOB_PID_ENV``); likewise a worker whose server died before the worker armed its own
(``SERVER_PID_ENV``). A parent's death is seen at once in ``getppid()`` (the orphan is
re-parented even while the dead parent is an unreaped zombie). Workers hold the server's
"alive" pipe, so the server's own watch on it cannot end them: the signal must. Elsewhere than
Linux this does nothing.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


JOB_PID_ENV = "PERSONA_BENCH_JOB_PID"  # the job's pid, for the fork server it starts
SERVER_PID_ENV = "PERSONA_BENCH_FORKSERVER_PID"  # the fork server's, for the workers it forks
MAIN_PATH_ENV = "PERSONA_BENCH_MAIN_PATH"  # the job's main script, for the fork server to run


def die_with_parent(expected_parent: int | None = None) -> bool:
    """Have the kernel SIGKILL this process when its parent exits; True when it is armed.

    The kernel tracks the parent *thread* that created this process. A parent that died before
    the call is caught by comparing the parent pid with ``expected_parent`` (when known) and
    before and after arming.
    """
    if not sys.platform.startswith("linux"):
        return False
    parent = os.getppid()
    if expected_parent is not None and parent != expected_parent:
        os.kill(os.getpid(), signal.SIGKILL)  # orphaned before we could arm the signal
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        armed = libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False
    if armed and os.getppid() != parent:  # orphaned already, before the signal was armed
        os.kill(os.getpid(), signal.SIGKILL)
    return armed
