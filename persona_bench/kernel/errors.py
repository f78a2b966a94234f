"""The one user-error type, every class under it, and the documented exit codes.

    UserError                      bad input: one line on stderr, exit 2, no traceback
     ├── classifier.config.ConfigError          a [personas] key missing, unknown, mistyped, out
     │                                           of range
     ├── classifier.store.DatabaseError         the database is missing, not SQLite, lacks a table
     │    │                                      or column
     │    └── classifier.worker_snapshot.SnapshotError     a worker's snapshot file is missing,
     │         │                                            unreadable or a live database
     │         └── classifier.worker_snapshot.SnapshotMismatch   another file than the run's
     ├── classifier.store.RowError              a row that aborts the run at its chunk (SPEC 2.7)
     ├── classifier.resume.ResumeError          the interrupted run may not be continued so
     ├── classifier.resume.InterruptedRunError  a plain run met a killed one: --resume or --restart
     ├── classifier.runlock.RunLockedError      another classify run holds the database
     ├── classifier.dask_backend.DaskError      no Dask extra, no scheduler, or no worker
     ├── harness.HarnessError                   snapshot, replay or report input is unusable
     │    ├── harness.results.ResultsError      a results file this version cannot read
     │    └── harness.reporting.baseline.OtherMachineError   results from two machines
     └── fixtures.generator.FixtureError        bad profile, seed or scale; output not writable

    KeyboardInterrupt
     └── Interrupted                SIGINT or SIGTERM turned into an exception (validate), exit
                                    128 + N

tests/test_hygiene.py checks that this drawing names every subclass the project defines.

A full disk (or a file-size limit) that a command did not turn into a ``UserError`` itself is
still one line and exit 2 (``disk_full``). Anything else that escapes ``main`` is a bug and keeps
its traceback.
"""

from __future__ import annotations

import errno
import sqlite3

EXIT_OK = 0
EXIT_MISMATCH = 1  # validate: outputs differ; compare: a regression
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # SIGINT (Ctrl-C): 128 + 2, as a shell reports it
EXIT_TERMINATED = 143  # SIGTERM (kill, systemd, timeout): 128 + 15


class UserError(Exception):
    """An error in what the user gave us, reported as one line and exit code 2."""

    exit_code = EXIT_BAD_INPUT


class Interrupted(KeyboardInterrupt):
    """A signal asking us to stop, raised where the main thread is, so cleanup code runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """128 + the signal number, as a shell reports a process killed by it."""
        return 128 + self.signum


DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
# how SQLite says a write did not fit: SQLITE_FULL (ENOSPC), or an I/O error writing (EFBIG, EDQUOT)
SQLITE_WRITE_ERRORS = frozenset({"SQLITE_FULL", "SQLITE_IOERR_WRITE", "SQLITE_IOERR_FSYNC"})


def disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` says that the disk (or the file-size limit) is full."""
    if isinstance(exc, OSError):
        return exc.errno in DISK_FULL_ERRNOS
    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorname", None) in SQLITE_WRITE_ERRORS
    return False
