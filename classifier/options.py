"""How to run the job (``RunOptions``): cheap to import, so that ``classify`` knows whether it
needs a process pool, and starts its fork server, before it imports the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from classifier.config import PersonaConfig
from classifier.dask_backend import CONNECT_TIMEOUT_S
from persona_bench.kernel.argtypes import MAX_NOW
from persona_bench.kernel.errors import UserError

HANG_FLOOR_S = 60.0  # without task_timeout: a hang is never called before a minute (a first
# chunk has nothing to compare with; pipeline.hang_timeout)


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """How to run the job; the config decides what it computes."""

    db_path: Path
    config: PersonaConfig = field(default_factory=PersonaConfig)
    now: int | None = None  # None: the wall clock, read once
    tasks: int | None = None  # None: the config decides; 0: serial
    backend: str | None = None  # None: the config's parallel_backend
    resume: bool = False
    restart: bool = False  # discard an interrupted run's progress and start afresh
    busy_timeout: float = 30.0
    task_timeout: float | None = None  # a feature job running longer is a hung worker
    hang_floor_s: float = HANG_FLOOR_S  # without task_timeout: see pipeline.hang_timeout()
    snapshot: Path | None = None  # read the inputs from this closed copy (worker_snapshot)
    scheduler: str | None = None  # backend "dask": the scheduler's address
    connect_timeout: float = CONNECT_TIMEOUT_S
    # our process pool takes every chunk: the writer computes none while the pool's first worker
    # is forked (how many it would depends on the machine's speed; tests of the pool set this)
    pool_only: bool = False

    def __post_init__(self) -> None:
        if self.now is not None and not 0 <= self.now <= MAX_NOW:
            raise UserError(f"now must be a time from 1970 to 9999 (got {self.now})")
        if self.backend == "dask" and (not self.scheduler or self.snapshot is None):
            raise UserError(
                "--backend dask needs --scheduler ADDRESS and --snapshot PATH (a closed copy "
                "every worker has at that path: persona-bench snapshot SRC DEST; docs/scale-out.md)"
            )
        if self.scheduler and self.backend != "dask":
            raise UserError(f"--scheduler is for --backend dask (got backend {self.backend!r})")

    def mode(self) -> tuple[int, str]:
        """(tasks, backend): tasks 0 means the serial path."""
        tasks = self.tasks
        if tasks is None:
            tasks = self.config.parallel_tasks if self.config.parallel_enabled else 0
        return tasks, self.backend or self.config.parallel_backend
