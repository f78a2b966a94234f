"""One run per database: an exclusive ``flock`` on a lock file beside it, held for the whole run.

The lock file is ``<database>.classify-lock``. A second run on the same database finds the lock
taken and is refused, naming the holder (pid, host, start time, written into the file by the
holder). The kernel releases a ``flock`` when the holder exits, however it exits (SIGKILL
included), so a crashed run never blocks the next one: a ``running`` row in ``job_status`` with
no lock holder is an interrupted run (see ``classifier.resume``). The file is left in place
after the run: deleting it would let two runs lock two different files of the same name.

SQLite's own locks cannot serve: a write transaction cannot be held across chunks while
readers (the workers) read, and its POSIX locks are per process and invisible to ``flock``.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from pathlib import Path

from persona_bench.kernel.errors import UserError


class RunLockedError(UserError):
    """Another classify run holds the database."""


def lock_path(db_path: Path) -> Path:
    """Beside the real file: two runs naming it through a symlink or another path meet."""
    real = db_path.resolve()
    return real.with_name(real.name + ".classify-lock")


class RunLock:
    """``with RunLock(db):`` holds the database for one run; raises RunLockedError if taken."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.path = lock_path(db_path)
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise UserError(f"cannot create the run lock {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown holder"
            os.close(fd)
            raise RunLockedError(
                f"database {self.db_path} is being classified by another run"
                f" ({holder}; it holds an exclusive lock on {self.path})"
            ) from None
        started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {started}\n".encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the flock
            self._fd = None
