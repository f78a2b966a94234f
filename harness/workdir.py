"""One validation's output folder and its lifetime: allocation, lock, work folder, signals.

- **Allocation.** The default folder ``reports/DATE-NAME`` is taken with an atomic ``mkdir`` (a
  folder that exists, even one created a moment ago by a validation started at the same time, is
  skipped: ``-2``, ``-3``, ...), so two validations never share it by accident.
- **Lock.** Whatever the folder, the validation holds an exclusive ``flock`` on it until it ends;
  a second validation given the same ``--out`` is refused with one line (exit 2) before it touches
  anything. The kernel drops the lock when the process dies, however it dies: no stale lock file.
- **Work folder.** ``OUT/.work`` holds the snapshot and the run copies (1-3 GB on ``prod``); it is
  removed on every way out, interruptions included.
- **Signals.** SIGTERM (and SIGINT, unless the shell had it ignored) raise ``Interrupted`` in the
  main thread, so the same cleanup runs as for Ctrl-C: the running job's process group is killed
  (``harness.measure``), ``results.json`` is written marked interrupted, the work folder removed;
  the exit code is 128 + the signal (130 for SIGINT, 143 for SIGTERM). A second signal during that
  cleanup is ignored, so the cleanup is not cut short.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from harness import HarnessError
from persona_bench.kernel.errors import Interrupted

WORK = ".work"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def default_out(name: str, root: Path = Path("reports")) -> Path:
    """Create and return a new folder ``ROOT/DATE-NAME[-N]`` (``mkdir`` decides, atomically)."""
    base = root / f"{datetime.now(UTC):%Y-%m-%d}-{name}"
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HarnessError(f"cannot create output folder {root}: {exc.strerror}") from None
    n = 1
    while True:
        candidate = base if n == 1 else base.with_name(f"{base.name}-{n}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:  # never overwrite an earlier (or concurrent) validation's folder
            n += 1
        except OSError as exc:
            raise HarnessError(f"cannot create output folder {candidate}: {exc.strerror}") from None


@contextlib.contextmanager
def claimed(out: Path) -> Iterator[Path]:
    """Hold ``out`` (created if needed) for this validation; yield its empty work folder."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise HarnessError(f"cannot create output folder {out}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise HarnessError(
                f"output folder {out} is in use by another validation; wait for it or give "
                "another --out"
            ) from None
        work = out / WORK
        try:
            shutil.rmtree(work, ignore_errors=True)  # a folder left by a validation killed -9
            work.mkdir()
        except OSError as exc:
            raise HarnessError(f"cannot create work folder {work}: {exc.strerror}") from None
        try:
            yield work
        finally:
            try:
                shutil.rmtree(work, ignore_errors=True)
            except KeyboardInterrupt:  # the first signal came mid-cleanup: finish it, then stop
                shutil.rmtree(work, ignore_errors=True)
                raise
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def stop_signals_interrupt() -> Iterator[None]:
    """Turn SIGTERM and SIGINT into ``Interrupted`` for the duration (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if not fired:  # later signals: the cleanup of the first one is already under way
            fired.append(signum)
            raise Interrupted(signum)

    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    for sig in STOP_SIGNALS:
        if previous[sig] is not signal.SIG_IGN:  # nohup / a shell's background job: keep it
            signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def signal_name(exc: BaseException) -> str:
    """``SIGTERM`` or ``SIGINT`` for an interruption (a bare KeyboardInterrupt is SIGINT)."""
    signum = getattr(exc, "signum", signal.SIGINT)
    return signal.Signals(signum).name


__all__ = ["WORK", "claimed", "default_out", "signal_name", "stop_signals_interrupt"]
