"""Tests for harness.measure: a real child process tree, measured from outside."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import psutil
import pytest

from harness import measure
from harness.measure import run_measured

PY = sys.executable


def test_exit_code_stdout_and_stderr_tail_are_captured() -> None:
    """The child's exit status, its stdout and the last lines of its stderr are kept."""
    script = (
        "import sys\n"
        "print('out')\n"
        "for i in range(100): print('line', i, file=sys.stderr)\n"
        "sys.exit(5)\n"
    )
    m = run_measured([PY, "-c", script], timeout_s=30)
    assert m.exit_code == 5
    assert not m.timed_out
    assert m.stdout == "out\n"
    assert m.stderr_tail.splitlines()[-1] == "line 99"
    assert "line 0\n" not in m.stderr_tail


def test_memory_of_grandchildren_is_summed_over_the_tree() -> None:
    """Two grandchildren holding 150 MB each count in the tree's summed PSS, not in the max RSS."""
    hold = "x = bytearray(150_000_000); import time; time.sleep(1.0)"
    script = (
        "import subprocess, sys\n"
        f"ps = [subprocess.Popen([sys.executable, '-c', {hold!r}]) for _ in range(2)]\n"
        "[p.wait() for p in ps]\n"
    )
    m = run_measured([PY, "-c", script], timeout_s=60)
    assert m.exit_code == 0
    assert m.peak_pss_bytes >= 290_000_000
    assert 150_000_000 <= m.peak_rss_max_bytes < 290_000_000
    assert m.peak_uss_bytes <= m.peak_pss_bytes
    assert m.memory_source in ("pss", "rss")


def test_cpu_of_waited_for_children_is_counted() -> None:
    """CPU burnt in children the job waits for is part of its user+sys time."""
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.4: pass"
    script = (
        "import subprocess, sys\n"
        f"ps = [subprocess.Popen([sys.executable, '-c', {burn!r}]) for _ in range(2)]\n"
        "[p.wait() for p in ps]\n"
    )
    m = run_measured([PY, "-c", script], timeout_s=60)
    assert m.exit_code == 0
    assert m.cpu_s >= 0.75
    assert m.cpu_s == m.cpu_user_s + m.cpu_system_s


def _until_ready(script: str, ready: Path, timeout_s: float) -> measure.Measurement:
    """Run ``script`` under ``timeout_s``; again with twice the timeout while it timed out before
    writing ``ready`` (a loaded machine can take longer than the timeout just to start Python).

    The timeout must hit the child once it is set up (its grandchild started, its SIGTERM
    handler installed): that is progress the child reports, so no machine speed decides it.
    """
    for _ in range(8):
        ready.unlink(missing_ok=True)
        m = run_measured([PY, "-c", script], timeout_s=timeout_s)
        if ready.exists():
            return m
        timeout_s *= 2
    raise AssertionError(f"the child never got ready within {timeout_s / 2:g} s")


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    """On timeout the child and its grandchildren are gone, and the run says it timed out."""
    pidfile = tmp_path / "grandchild.pid"
    script = (
        "import subprocess, sys, time\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        f"open({str(pidfile)!r} + '.tmp', 'w').write(str(p.pid))\n"
        f"import os; os.replace({str(pidfile)!r} + '.tmp', {str(pidfile)!r})\n"
        "time.sleep(120)\n"
    )
    m = _until_ready(script, pidfile, timeout_s=1.0)
    assert m.timed_out
    assert m.exit_code != 0
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while psutil.pid_exists(grandchild) and time.monotonic() < deadline:
        try:
            if psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    alive = psutil.pid_exists(grandchild) and (
        psutil.Process(grandchild).status() != psutil.STATUS_ZOMBIE
    )
    assert not alive


def test_a_child_ignoring_sigterm_is_killed(tmp_path: Path) -> None:
    """A child that ignores SIGTERM is SIGKILLed after the grace period."""
    ready = tmp_path / "ready"
    script = (
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"open({str(ready)!r}, 'w').close()\ntime.sleep(120)"
    )
    m = _until_ready(script, ready, timeout_s=0.5)
    assert m.timed_out
    assert m.exit_code == -9


def test_leftover_descendants_are_killed_when_the_child_exits(tmp_path: Path) -> None:
    """A background process the job leaves behind does not outlive the run."""
    pidfile = tmp_path / "orphan.pid"
    script = (
        "import subprocess, sys\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
    )
    m = run_measured([PY, "-c", script], timeout_s=30)
    assert m.exit_code == 0
    orphan = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            if psutil.Process(orphan).status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"process {orphan} still running")


def test_a_missing_program_is_a_failed_run_not_a_crash() -> None:
    """A command that cannot start gives exit code 127 and says why."""
    m = run_measured([os.path.join("no", "such", "program")], timeout_s=5)
    assert m.exit_code == 127
    assert "cannot start" in m.stderr_tail


def _orphan_burner(linger: bool) -> str:
    """A target whose grandchild burns 0.6 s of CPU; nobody waits for it (a double fork).

    The child reaps only the middle process, waits for the grandchild's "burnt" byte on a pipe
    (progress, not a sleep) and exits; the grandchild then exits too, or lingers until killed.
    """
    tail = "signal.pause()" if linger else "os._exit(0)"
    return (
        "import os, signal, time\n"
        "r, w = os.pipe()\n"
        "middle = os.fork()\n"
        "if middle == 0:\n"
        "    if os.fork() == 0:\n"
        "        t = time.process_time()\n"
        "        while time.process_time() - t < 0.6: pass\n"
        "        os.write(w, b'x')\n"
        f"        {tail}\n"
        "    os._exit(0)\n"
        "os.waitpid(middle, 0)\n"
        "os.close(w)\n"
        "assert os.read(r, 1) == b'x'\n"
    )


@pytest.mark.parametrize("linger", [False, True], ids=["exits", "lingers"])
def test_cpu_of_an_unreaped_grandchild_is_counted(linger: bool) -> None:
    """A grandchild nobody waits for is reaped by the harness (subreaper): its CPU counts."""
    m = run_measured([PY, "-c", _orphan_burner(linger)], timeout_s=60)
    assert m.exit_code == 0, m.stderr_tail
    assert m.cpu_s >= 0.55
    assert m.cpu_rusage_s >= 0.55 and m.cpu_source in ("rusage", "proc")
    assert m.sampler["subreaper"] is True


def test_without_a_subreaper_the_proc_account_counts_a_lingering_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where the harness cannot adopt orphans, /proc's per-process account still counts them."""
    monkeypatch.setattr(measure, "_set_subreaper", lambda on: False)
    m = run_measured([PY, "-c", _orphan_burner(linger=True)], timeout_s=60)
    assert m.exit_code == 0, m.stderr_tail
    assert m.cpu_rusage_s < 0.3  # the child's own start-up only: the grandchild is not its
    assert m.cpu_source == "proc" and m.cpu_s >= 0.55


def test_the_sampler_reports_its_own_cost() -> None:
    """Every measurement carries the sampler's CPU time, samples and interval."""
    m = run_measured([PY, "-c", "pass"], timeout_s=30)
    cost = m.sampler
    assert cost["samples"] == m.samples >= 1
    assert 0 <= cost["cpu_s"] <= m.wall_s + 0.05
    assert cost["budget"] == measure.SAMPLER_BUDGET
    assert cost["interval_s"]["min"] >= measure.MIN_INTERVAL_S


def test_steal_is_the_eighth_value_of_the_cpu_line() -> None:
    """/proc/stat: cpu user nice system idle iowait irq softirq steal guest guest_nice."""
    text = "cpu  10 20 30 40 50 60 70 80 90 100\ncpu0 1 2 3 4 5 6 7 8 9 10\nintr 5\n"
    assert measure.steal_ticks(text) == 80
    assert measure.steal_ticks("cpu  10 20 30 40\n") is None  # a kernel that does not count it
    assert measure.steal_ticks("intr 5\n") is None


def test_a_measured_run_records_the_hosts_steal_time() -> None:
    """Every measurement says how much CPU the host took meanwhile (0 on a quiet host)."""
    if measure.host_steal_s() is None:  # not Linux, or no steal column: nothing to check
        assert run_measured([PY, "-c", "pass"], timeout_s=30).host_steal_s is None
        return
    m = run_measured([PY, "-c", "pass"], timeout_s=30)
    assert m.host_steal_s is not None and m.host_steal_s >= 0.0
