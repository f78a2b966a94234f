"""How far the harness's wall clock overshoots a child's life: ``sleep 0.5``, N times.

    python benchmarks/wall_overshoot.py [N]     # N = 20 by default

Prints the median, quartiles and range of ``wall_s - 0.5`` for ``harness.measure.run_measured``
and, as the floor, for a bare ``subprocess.run`` (fork, exec and wait, nothing else). A figure,
not a test: timings are never asserted (docs/harness.md quotes it with the machine's load).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from harness.measure import run_measured

SLEEP = 0.5


def _bare() -> float:
    started = time.monotonic()
    subprocess.run(["sleep", str(SLEEP)], check=True)
    return time.monotonic() - started


def main(n: int) -> None:
    """Print the overshoot of both ways of timing ``sleep 0.5``, in milliseconds."""
    ways = {
        "run_measured (blocking wait)": lambda: (
            run_measured(["sleep", str(SLEEP)], timeout_s=30).wall_s
        ),
        "bare subprocess.run": _bare,
    }
    print(f"load average {os.getloadavg()[0]:.1f}, {n} runs each")
    for name, way in ways.items():
        over = [(way() - SLEEP) * 1000 for _ in range(n)]
        q1, _, q3 = statistics.quantiles(over, n=4)
        print(
            f"{name}: median {statistics.median(over):.1f} ms (IQR {q1:.1f} to {q3:.1f}, "
            f"min {min(over):.1f}, max {max(over):.1f})"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
