"""Faults injected into Dask workers by progress, never by time: worker plugins for test_dask.

A plugin's ``transition`` hook runs in the worker's event loop when a task changes state, before
an ``executing`` task starts running: the moment "this worker starts chunk job N" is exact. Each
fault fires once per test (an ``O_EXCL`` marker file), so a worker the nanny restarts after the
fault, which receives the plugin again, runs normally.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

KEY_PREFIX = "persona-chunk-"  # classifier.dask_backend's task keys: persona-chunk-<token>-<n>


def _chunk_number(key: Any) -> int | None:
    text = str(key)
    if not text.startswith(KEY_PREFIX):
        return None
    return int(text.rsplit("-", 1)[1])


def _first(marker: Path) -> bool:
    """True once per marker: the first caller creates it (with this process's pid)."""
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    return True


class StopAtChunk(WorkerPlugin):
    """SIGSTOP the worker that starts chunk job ``n``; its pid goes to ``marker``.

    The stopped worker holds the job, so the run cannot finish before the test kills it.
    """

    name = "test-stop-at-chunk"

    def __init__(self, n: int, marker: str) -> None:
        self.n = n
        self.marker = marker

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if finish == "executing" and _chunk_number(key) == self.n and _first(Path(self.marker)):
            os.kill(os.getpid(), signal.SIGSTOP)


class TamperBeforeFirstChunk(WorkerPlugin):
    """Change one byte of ``path`` (size kept) when a worker starts its first chunk job.

    What a worker host whose copy differs from the writer's looks like, on one machine.
    """

    name = "test-tamper-snapshot"

    def __init__(self, path: str, marker: str) -> None:
        self.path = path
        self.marker = marker

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if finish == "executing" and _chunk_number(key) is not None and _first(Path(self.marker)):
            with open(self.path, "r+b") as fh:
                fh.seek(-1, os.SEEK_END)
                last = fh.read(1)
                fh.seek(-1, os.SEEK_END)
                fh.write(bytes([last[0] ^ 0xFF]))
