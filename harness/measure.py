"""Run one command as a child process and measure it from outside: time, CPU, memory of its tree.

What is measured, and its limits (figures for this machine in ``docs/harness.md``):

- **wall**: monotonic time from just before ``Popen`` to the return of a *blocking* wait for the
  child's exit (``os.waitid`` in the calling thread): no polling, so the figure overshoots the
  child's life only by the kernel's wake-up of the waiting thread (and its taking the GIL back
  from the sampler thread: the switch interval is 0.5 ms while a run is measured).
- **CPU**, two accounts, the larger reported with its source (``cpu_source``):

  - ``rusage``: the child's ``wait4`` rusage (which holds every descendant someone in the tree
    waited for), plus the rusage of every *orphan* of the tree. While a run is measured the
    harness is the tree's child subreaper (Linux ``PR_SET_CHILD_SUBREAPER``), so a descendant
    whose parent exits without waiting (a double fork, a worker pool nobody joins, a
    forkserver left running) is re-parented to the harness, which reaps it, or kills and reaps
    it when the child has exited, and adds its rusage. No private API of the job is relied on.
  - ``proc``: every process of the tree the sampler saw, its own user + system time from
    ``/proc/PID/stat`` at the last sample, summed (each process once, keyed by pid and start
    time). It misses what a process burnt after its last sample, but needs no reaping: where
    the subreaper is unavailable it still counts workers nobody waits for.

- **memory**: a sampler thread reads the tree (the child, its descendants, re-listed by a scan
  of ``/proc`` that reads only new pids) and, per process, ``/proc/PID/smaps_rollup`` (one
  kernel-summed record: PSS, RSS, private pages) instead of parsing every mapping. Per sample,
  PSS and USS are summed over the tree and the largest single RSS is taken; the peaks over all
  samples are reported. Where ``smaps_rollup`` is unreadable RSS (``/proc/PID/statm``) is used
  and ``memory_source`` says so. A spike shorter than the sampling period can be missed.
- **the sampler's own cost** (``sampler``): its thread's CPU time (``time.thread_time``), the
  samples taken and its share of the run's wall. The interval adapts so that the sampler uses
  at most ``SAMPLER_BUDGET`` of one core: after each sample the next sleep is the sample's cost
  divided by the budget (between ``MIN_INTERVAL_S`` and ``MAX_INTERVAL_S``).

A timeout sends SIGTERM, then SIGKILL after a grace period, to the child's whole process group
(the child runs in its own session); any process of the tree left after the child exits is
killed the same way (and by pid, if it left the group): a replay never leaves a writer behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

KILL_GRACE_S = 3.0
STDERR_TAIL_LINES = 20
STDERR_TAIL_CHARS = 2000
SAMPLER_BUDGET = 0.02  # at most 2% of one core for the memory sampler
MIN_INTERVAL_S = 0.01
MAX_INTERVAL_S = 0.5
SWITCH_INTERVAL_S = 0.0005  # while measuring: the waiting thread gets the GIL back fast
_PR_SET_CHILD_SUBREAPER = 36
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True, kw_only=True)
class Measurement:
    """The outside view of one finished run."""

    command: tuple[str, ...]
    exit_code: int  # negative: killed by that signal (as subprocess reports it)
    timed_out: bool
    wall_s: float
    cpu_user_s: float
    cpu_system_s: float
    cpu_source: str  # "rusage" or "proc": the larger account (see the module docstring)
    cpu_rusage_s: float
    cpu_proc_s: float
    peak_pss_bytes: int
    peak_uss_bytes: int
    peak_rss_max_bytes: int
    samples: int
    memory_source: str  # "pss" or "rss" (fallback)
    # CPU time the VM's host gave to others while this machine's CPUs wanted to run, during
    # the run (``/proc/stat`` steal, every CPU summed; None where the kernel does not count it)
    host_steal_s: float | None = None
    sampler: dict[str, Any] = field(default_factory=dict)
    stdout: str = ""
    stderr_tail: str = ""

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


def steal_ticks(proc_stat: str) -> int | None:
    """The machine's steal time in clock ticks, from the text of ``/proc/stat`` (its ``cpu``
    line: user nice system idle iowait irq softirq steal ...), or None when it has none."""
    for line in proc_stat.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            return int(fields[8]) if len(fields) > 8 else None
    return None


def host_steal_s() -> float | None:
    """Seconds of CPU the VM's host has given to others since boot (None: not counted here).

    A virtual machine's CPUs run only when its host schedules them; the wall time of a run then
    grows by time nobody on this machine can see, which this counter measures.
    """
    try:
        with open("/proc/stat") as fh:
            ticks = steal_ticks(fh.read())
    except OSError:
        return None
    return None if ticks is None else ticks / _CLK_TCK


# ---- /proc readers (Linux); every reader returns None for a process that is gone ------------


def _stat(pid: int) -> tuple[int, int, int, int, tuple[int, int]] | None:
    """(ppid, pgid, sid, start time, (user ticks, system ticks)), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    # the command name may hold spaces and parentheses: split after the last ')'
    fields = raw[raw.rfind(b")") + 2 :].split()
    try:
        ticks = (int(fields[11]), int(fields[12]))  # utime, stime
        return int(fields[1]), int(fields[2]), int(fields[3]), int(fields[19]), ticks
    except (IndexError, ValueError):
        return None


def _memory(pid: int) -> tuple[int, int, int, bool] | None:
    """(PSS, USS, RSS) in bytes and whether PSS was readable; None when the process is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            text = fh.read()
    except FileNotFoundError:
        return None
    except OSError:
        text = b""
    values: dict[bytes, int] = {}
    for line in text.splitlines()[1:]:
        key, _, rest = line.partition(b":")
        if key in (b"Rss", b"Pss", b"Private_Clean", b"Private_Dirty"):
            values[key] = int(rest.split()[0]) * 1024
    if b"Pss" in values:
        uss = values.get(b"Private_Clean", 0) + values.get(b"Private_Dirty", 0)
        return values[b"Pss"], uss, values.get(b"Rss", 0), True
    try:  # no smaps_rollup (old kernel, other owner): resident pages
        with open(f"/proc/{pid}/statm", "rb") as fh:
            rss = int(fh.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return None
    return rss, rss, rss, False


def _pids() -> list[int]:
    try:
        return [int(n) for n in os.listdir("/proc") if n.isdigit()]
    except OSError:
        return []


def _set_subreaper(on: bool) -> bool:
    """Make this process the child subreaper of its descendants (Linux); whether it worked."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


# ---- the tree and its sampler ----------------------------------------------------------------


class _Tree:
    """The processes of one run: discovered incrementally, their last CPU and peak memory."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.me = os.getpid()
        self.members: dict[int, int] = {root: -1}  # pid -> start time (-1: not read yet)
        self.others: set[int] = set()  # pids seen and found unrelated (never re-read)
        self.cpu: dict[tuple[int, int], tuple[int, int]] = {}  # (pid, start) -> last ticks
        self.pss = self.uss = self.rss_max = 0
        self.samples = 0
        self.max_processes = 0
        self.source = "pss"
        self.lock = threading.Lock()

    def _belongs(self, ppid: int, pgid: int, sid: int) -> bool:
        # a descendant, or an orphan of the tree re-parented to us (it keeps the session)
        return ppid in self.members or (ppid in (1, self.me) and self.root in (pgid, sid))

    def discover(self) -> None:
        """Add the tree's new processes (reads /proc/PID/stat of unknown pids only)."""
        fresh: dict[int, tuple[int, int, int, int, tuple[int, int]]] = {}
        for pid in _pids():
            if pid in self.members or pid in self.others:
                continue
            st = _stat(pid)
            if st is not None:
                fresh[pid] = st
        grew = True
        while grew:  # parents before children, whatever order /proc listed them in
            grew = False
            for pid, (ppid, pgid, sid, _start, _ticks) in list(fresh.items()):
                if self._belongs(ppid, pgid, sid):
                    self.members[pid] = -1
                    del fresh[pid]
                    grew = True
        self.others.update(fresh)

    def sample(self) -> None:
        """One sample: every member's CPU and memory, folded into the peaks."""
        pss = uss = rss_max = alive = 0
        for pid in list(self.members):
            st = _stat(pid)
            if st is None:
                continue
            start = st[3]
            if self.members[pid] not in (-1, start):  # the pid was reused by a stranger
                continue
            self.members[pid] = start
            with self.lock:
                self.cpu[(pid, start)] = st[4]
            mem = _memory(pid)
            if mem is None:
                continue
            alive += 1
            pss += mem[0]
            uss += mem[1]
            rss_max = max(rss_max, mem[2])
            if not mem[3]:
                self.source = "rss"
        self.pss, self.uss = max(self.pss, pss), max(self.uss, uss)
        self.rss_max = max(self.rss_max, rss_max)
        self.samples += 1
        self.max_processes = max(self.max_processes, alive)

    def proc_cpu(self) -> tuple[float, float]:
        """(user, system) seconds: the last seen own CPU of every process seen."""
        with self.lock:
            ticks = list(self.cpu.values())
        return sum(u for u, _ in ticks) / _CLK_TCK, sum(s for _, s in ticks) / _CLK_TCK


class _Monitor(threading.Thread):
    """Samples the tree at an adaptive interval; enforces the timeout."""

    def __init__(self, tree: _Tree, deadline: float) -> None:
        super().__init__(name="persona-bench-sampler", daemon=True)
        self.tree = tree
        self.deadline = deadline
        self.kill_at: float | None = None
        self.timed_out = False
        self.stop = threading.Event()
        self.cpu_s = 0.0
        self.intervals: list[float] = []

    def run(self) -> None:
        used = time.thread_time()
        while not self.stop.is_set():
            before = time.thread_time()
            self.tree.discover()
            self.tree.sample()
            cost = time.thread_time() - before
            interval = min(max(cost / SAMPLER_BUDGET, MIN_INTERVAL_S), MAX_INTERVAL_S)
            self.intervals.append(interval)
            self._enforce_timeout()
            wake = min(interval, max(self._next_deadline() - time.monotonic(), 0.0))
            self.stop.wait(wake)
        self.cpu_s = time.thread_time() - used

    def _next_deadline(self) -> float:
        return self.kill_at if self.kill_at is not None else self.deadline

    def _enforce_timeout(self) -> None:
        now = time.monotonic()
        if not self.timed_out and now >= self.deadline:
            self.timed_out = True
            _signal_tree(self.tree, signal.SIGTERM)
            self.kill_at = now + KILL_GRACE_S
        elif self.kill_at is not None and now >= self.kill_at:
            _signal_tree(self.tree, signal.SIGKILL)
            self.kill_at = now + KILL_GRACE_S


def _signal_tree(tree: _Tree, sig: signal.Signals) -> None:
    """``sig`` to the child's process group and to every member that left it.

    A member is signalled by pid only while ``/proc`` still shows the process the sampler saw
    (same start time), so a pid reused by a stranger is never killed.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(tree.root, sig)
    for pid, start in list(tree.members.items()):
        st = _stat(pid)
        if pid == tree.root or st is None or st[1] == tree.root:  # gone, or in the group
            continue
        if start in (-1, st[3]) and (start != -1 or tree.root in (st[1], st[2])):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)


def _reap_leftovers(tree: _Tree, subreaper: bool) -> tuple[float, float]:
    """Kill what is left of the tree after the child's exit; reap our orphans: their CPU."""
    user = system = 0.0
    for _ in range(100):  # each pass kills one generation; a fork bomb is not our problem
        tree.discover()
        tree.sample()  # the last CPU of the leftovers, for the proc account
        _signal_tree(tree, signal.SIGKILL)
        if not subreaper:
            break
        reaped = False
        for pid in list(tree.members):
            if pid == tree.root:
                continue
            try:
                got, _status, ru = os.wait4(pid, 0)
            except ChildProcessError:  # not ours (another member's child): reaped by its parent
                continue
            if got:
                reaped = True
                user, system = user + ru.ru_utime, system + ru.ru_stime
                del tree.members[pid]
                tree.others.add(pid)
        if not reaped:
            break
    return user, system


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
        cpu_source="none",
        cpu_rusage_s=0.0,
        cpu_proc_s=0.0,
        peak_pss_bytes=0,
        peak_uss_bytes=0,
        peak_rss_max_bytes=0,
        samples=0,
        memory_source="none",
        stderr_tail=f"cannot start {command[0]!r}: {exc.strerror or exc}",
    )


def _wait_child(root: int) -> tuple[float, int, float, float, float, float]:
    """Block until ``root`` exits; reap orphans of its group meanwhile.

    Returns (exit time, status, child user, child system, orphans' user, orphans' system).
    """
    user = system = 0.0
    while True:
        # WNOWAIT: learn who exited without reaping, so the clock stops before any bookkeeping
        info = os.waitid(os.P_PGID, root, os.WEXITED | os.WNOWAIT)
        ended = time.monotonic()
        if info is None:  # cannot happen without WNOHANG; keep mypy and the reader sure
            continue
        pid, status, ru = os.wait4(info.si_pid, 0)
        if pid == root:
            return ended, status, ru.ru_utime, ru.ru_stime, user, system
        user, system = user + ru.ru_utime, system + ru.ru_stime


def run_measured(
    command: Sequence[str],
    *,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Measurement:
    """Run ``command`` to completion (or timeout) and measure it; never raises for its failure."""
    with tempfile.TemporaryDirectory(prefix="persona-bench-run-") as tmp:
        out_path, err_path = Path(tmp, "stdout"), Path(tmp, "stderr")
        with out_path.open("wb") as out, err_path.open("wb") as err:
            subreaper = _set_subreaper(True)
            # the sampler thread may hold the GIL when the child exits; CPython's default 5 ms
            # switch interval would delay the waiting thread's clock by up to that much
            switch = sys.getswitchinterval()
            sys.setswitchinterval(min(switch, SWITCH_INTERVAL_S))
            try:
                steal0 = host_steal_s()
                start = time.monotonic()
                try:
                    # files, not pipes: a chatty child can never block on a full pipe
                    proc = subprocess.Popen(
                        list(command),
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=err,
                        env=dict(env) if env is not None else None,
                        cwd=cwd,
                        start_new_session=True,
                    )
                except OSError as exc:  # no such program, not executable: a failed run
                    return _not_started(command, exc)
                tree = _Tree(proc.pid)
                monitor = _Monitor(tree, start + timeout_s)
                monitor.start()
                try:
                    ended, status, c_user, c_sys, o_user, o_sys = _wait_child(proc.pid)
                except BaseException:  # Ctrl-C or a bug: the job must not outlive the harness
                    _signal_tree(tree, signal.SIGKILL)
                    monitor.stop.set()
                    proc.wait()
                    raise
                wall = ended - start
                steal1 = host_steal_s()
                proc.returncode = os.waitstatus_to_exitcode(status)  # we reaped it, not Popen
                monitor.stop.set()
                monitor.join()
                l_user, l_sys = _reap_leftovers(tree, subreaper)
            finally:
                sys.setswitchinterval(switch)
                if subreaper:
                    _set_subreaper(False)
        stdout = out_path.read_bytes().decode("utf-8", errors="replace")
        stderr_tail = _tail(err_path)
    r_user, r_sys = c_user + o_user + l_user, c_sys + o_sys + l_sys
    p_user, p_sys = tree.proc_cpu()
    use_proc = p_user + p_sys > r_user + r_sys
    return Measurement(
        command=tuple(command),
        exit_code=proc.returncode,
        timed_out=monitor.timed_out,
        wall_s=wall,
        cpu_user_s=p_user if use_proc else r_user,
        cpu_system_s=p_sys if use_proc else r_sys,
        cpu_source="proc" if use_proc else "rusage",
        cpu_rusage_s=r_user + r_sys,
        cpu_proc_s=p_user + p_sys,
        peak_pss_bytes=tree.pss,
        peak_uss_bytes=tree.uss,
        peak_rss_max_bytes=tree.rss_max,
        host_steal_s=None if steal0 is None or steal1 is None else steal1 - steal0,
        samples=tree.samples,
        memory_source=tree.source,
        sampler=_sampler_report(monitor, tree, wall, subreaper),
        stdout=stdout,
        stderr_tail=stderr_tail,
    )


def _sampler_report(monitor: _Monitor, tree: _Tree, wall: float, subreaper: bool) -> dict[str, Any]:
    """The sampler's own cost, for results.json."""
    intervals: Iterable[float] = monitor.intervals or [0.0]
    listed = list(intervals)
    return {
        "cpu_s": round(monitor.cpu_s, 6),
        "share_of_wall": round(monitor.cpu_s / wall, 6) if wall > 0 else None,
        "samples": tree.samples,
        "max_processes": tree.max_processes,
        "interval_s": {
            "min": round(min(listed), 6),
            "median": round(sorted(listed)[len(listed) // 2], 6),
            "max": round(max(listed), 6),
        },
        "budget": SAMPLER_BUDGET,
        "subreaper": subreaper,
    }


__all__ = ["SAMPLER_BUDGET", "Measurement", "run_measured"]
