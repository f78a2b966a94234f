"""Run one command as a child process and measure it from outside: time, CPU, memory of its tree.

What is measured, and its limits:

- **wall**: monotonic time from ``Popen`` to the child's exit (``os.wait4``).
- **CPU**: user and system time from ``os.wait4`` on the direct child. The kernel adds to a
  process's rusage the rusage of every descendant it waited for, so a job whose worker processes
  are joined (``ProcessPoolExecutor``, ``multiprocessing``, ``waitpid``) is counted whole. A
  descendant that is never waited for (orphaned, or still running when the child exits and then
  killed by us) is not counted.
- **memory**: the tree (the child and all its descendants, re-listed at every sample) is sampled
  every ``interval_s`` (default 25 ms; one sample of a big process costs 25-60 ms, so the real
  period is longer). Per sample, PSS and USS are summed over the tree and the largest single RSS is
  taken; the peaks of these three over all samples are reported. Summed PSS is the honest figure
  for a tree sharing pages (summed RSS over-counts shared pages, summed USS under-counts). Where
  PSS is unavailable (no ``memory_full_info``, or access denied) RSS is used and ``memory_source``
  says so. A spike shorter than the sampling period can be missed.

A timeout sends SIGTERM, then SIGKILL after a grace period, to the child's whole process group
(the child runs in its own session), and any process left in the group after the child exits is
killed the same way: a replay never leaves a writer behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

DEFAULT_INTERVAL_S = 0.025
KILL_GRACE_S = 3.0
STDERR_TAIL_LINES = 20
STDERR_TAIL_CHARS = 2000


@dataclass(frozen=True, kw_only=True)
class Measurement:
    """The outside view of one finished run."""

    command: tuple[str, ...]
    exit_code: int  # negative: killed by that signal (as subprocess reports it)
    timed_out: bool
    wall_s: float
    cpu_user_s: float
    cpu_system_s: float
    peak_pss_bytes: int
    peak_uss_bytes: int
    peak_rss_max_bytes: int
    samples: int
    memory_source: str  # "pss" or "rss" (fallback)
    stdout: str
    stderr_tail: str

    @property
    def cpu_s(self) -> float:
        """User plus system CPU time."""
        return self.cpu_user_s + self.cpu_system_s

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict without the (possibly long) stdout."""
        data = asdict(self)
        data.pop("stdout")
        data["command"] = list(self.command)
        data["cpu_s"] = self.cpu_s
        return data


@dataclass
class _Peaks:
    pss: int = 0
    uss: int = 0
    rss_max: int = 0
    samples: int = 0
    source: str = "pss"


def _tree(pid: int) -> list[psutil.Process]:
    """The process and all its descendants now; empty when it is gone."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return []


def _sample(pid: int, peaks: _Peaks) -> None:
    """One sample of the tree's memory, folded into ``peaks``."""
    pss = uss = rss_max = 0
    for proc in _tree(pid):
        try:
            if peaks.source == "pss":
                try:
                    info = proc.memory_full_info()
                    pss += getattr(info, "pss", info.rss)
                    uss += info.uss
                    rss_max = max(rss_max, info.rss)
                    if not hasattr(info, "pss"):
                        peaks.source = "rss"
                    continue
                except psutil.AccessDenied:
                    peaks.source = "rss"  # from now on; this sample falls through to RSS
            rss = proc.memory_info().rss
            pss += rss
            uss += rss
            rss_max = max(rss_max, rss)
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            continue  # exited between listing and reading: it no longer holds memory
    peaks.pss = max(peaks.pss, pss)
    peaks.uss = max(peaks.uss, uss)
    peaks.rss_max = max(peaks.rss_max, rss_max)
    peaks.samples += 1


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _tail(path: Path) -> str:
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 8 * STDERR_TAIL_CHARS))
        text = fh.read().decode("utf-8", errors="replace")
    lines = text.rstrip("\n").splitlines()[-STDERR_TAIL_LINES:]
    return "\n".join(lines)[-STDERR_TAIL_CHARS:]


def _not_started(command: Sequence[str], exc: OSError) -> Measurement:
    """The measurement of a command that could not even start (exit code 127, like a shell)."""
    return Measurement(
        command=tuple(command),
        exit_code=127,
        timed_out=False,
        wall_s=0.0,
        cpu_user_s=0.0,
        cpu_system_s=0.0,
        peak_pss_bytes=0,
        peak_uss_bytes=0,
        peak_rss_max_bytes=0,
        samples=0,
        memory_source="none",
        stdout="",
        stderr_tail=f"cannot start {command[0]!r}: {exc.strerror or exc}",
    )


def run_measured(
    command: Sequence[str],
    *,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    interval_s: float = DEFAULT_INTERVAL_S,
) -> Measurement:
    """Run ``command`` to completion (or timeout) and measure it; never raises for its failure."""
    with tempfile.TemporaryDirectory(prefix="persona-bench-run-") as tmp:
        out_path, err_path = Path(tmp, "stdout"), Path(tmp, "stderr")
        with out_path.open("wb") as out, err_path.open("wb") as err:
            peaks = _Peaks()
            start = time.monotonic()
            try:
                # files, not pipes: a chatty child can never block on a full pipe while we sample
                proc = subprocess.Popen(
                    list(command),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    env=dict(env) if env is not None else None,
                    cwd=cwd,
                    start_new_session=True,
                )
            except OSError as exc:  # no such program, not executable: a failed run, not a crash
                return _not_started(command, exc)
            timed_out = False
            deadline = start + timeout_s
            kill_at: float | None = None
            try:
                while True:
                    _sample(proc.pid, peaks)
                    pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
                    if pid:
                        break
                    now = time.monotonic()
                    if not timed_out and now >= deadline:
                        timed_out = True
                        _signal_group(proc.pid, signal.SIGTERM)
                        kill_at = now + KILL_GRACE_S
                    elif kill_at is not None and now >= kill_at:
                        _signal_group(proc.pid, signal.SIGKILL)
                        kill_at = None
                    time.sleep(interval_s)
            except BaseException:  # Ctrl-C or a bug here: the job must not outlive the harness
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait()
                raise
            wall = time.monotonic() - start
            proc.returncode = os.waitstatus_to_exitcode(status)  # we reaped it, not Popen
            if _group_alive(proc.pid):  # leftovers of the job: never let them keep writing
                _signal_group(proc.pid, signal.SIGKILL)
        stdout = out_path.read_bytes().decode("utf-8", errors="replace")
        stderr_tail = _tail(err_path)
    return Measurement(
        command=tuple(command),
        exit_code=proc.returncode,
        timed_out=timed_out,
        wall_s=wall,
        cpu_user_s=rusage.ru_utime,
        cpu_system_s=rusage.ru_stime,
        peak_pss_bytes=peaks.pss,
        peak_uss_bytes=peaks.uss,
        peak_rss_max_bytes=peaks.rss_max,
        samples=peaks.samples,
        memory_source=peaks.source,
        stdout=stdout,
        stderr_tail=stderr_tail,
    )


__all__ = ["Measurement", "run_measured"]
