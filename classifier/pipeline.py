"""One classification run (SPEC section 2): chunks -> Stage 1 -> features -> Stage 2 -> writes.

The writer walks active wallets in byte order, ``chunk_size`` at a time. A chunk is evaluated
(Stage 1 in one set-based query, then features for its passers only, Stage 2, and the rows it
writes: ``chunkrows``) inline on the serial path, or as one job on a pool fed ahead of the writer
(bounded) so that workers never wait at chunk boundaries; only the writes stay with the writer.
Each chunk's writes and its ``job_status`` progress row commit in one transaction, in wallet
order, whatever the path: the output is identical, and ``resume`` continues after the last
committed chunk.
"""

from __future__ import annotations

import logging
import resource
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import BrokenExecutor, CancelledError, Executor, Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, cast

from classifier import dask_backend, faults, forkserver, store, worker_snapshot
from classifier.config import PersonaConfig
from classifier.executor import (
    ChunkResult,
    Closing,
    JobParams,
    begin_close,
    chunk_job,
    close_pool,
    close_readers,
    evaluate_chunk,
    format_status_ts,
    format_ts,
    kill_workers,
    make_executor,
    warm_up_pool,
)
from classifier.options import RunOptions
from classifier.resume import plan as resume_plan
from classifier.runlock import RunLock
from classifier.worker_snapshot import SnapshotIdentity
from persona_bench.kernel import __version__

log = logging.getLogger("classifier")

COUNTERS = (
    "processed",
    "stage1_no_trades",
    "stage1_other",
    "stage2_excluded",
    "suitable",
    "unclassified",
    "errors",
)
READY_MIN_AGE_S = 7 * 86_400  # readiness gate: a first trade at least 7 days before now
MAX_POOL_RESTARTS = 2
MIN_CHUNKS_AHEAD = 16  # chunk results are small: a deep queue keeps workers busy past heavy chunks
POOL_EXIT_GRACE_S = 10.0  # idle workers exit at once; one still there after this is hung
HANG_FACTOR = 20  # without --task-timeout: a job 20x slower than the slowest so far is hung
FAILURES_IN_SUMMARY = 100


@dataclass(frozen=True)
class _Chunk:
    wallets: tuple[str, ...]
    future: Future[ChunkResult] | None
    pool: Executor | None  # the pool it was handed to: a retired pool's failures are old news


@dataclass
class _Run:
    """Mutable state of one run; everything the summary reports."""

    opts: RunOptions
    conn: Any
    now: int
    tasks: int
    backend: str | None
    executor: Executor | None
    owns_executor: bool
    snapshot: SnapshotIdentity | None = None
    warm_up: threading.Thread | None = None  # our process pool's first fork (warm_up_pool)
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    phases: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(
            ("stage1_s", "features_s", "classify_s", "write_s"), 0.0
        )
    )
    failures: list[dict[str, str]] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    busy_s: float = 0.0
    pool_restarts: int = 0
    recomputed: int = 0
    pool_dead: bool = False
    resumes: int = 0
    total: int = 0
    written: int = 0  # chunks committed by this process
    abandoned: int = 0  # hung worker threads left behind (threads cannot be killed)
    slowest_job_s: float = 0.0  # the slowest chunk job seen: the default hang timeout scales on it
    reader: store.WalletReader = field(init=False)
    params: JobParams = field(init=False)
    token: str | None = field(init=False)  # names this run's params in our own process pools
    config_hash: str = field(init=False)

    def __post_init__(self) -> None:
        # the serial path, and recomputation, read on the writer's connection (or the snapshot's:
        # opened by _run, closed by run)
        self.reader = store.WalletReader(self.conn)
        path = str(self.opts.db_path.resolve())
        self.params = JobParams(
            path, self.now, self.opts.config, self.opts.busy_timeout, self.snapshot
        )
        own_processes = self.owns_executor and self.backend == "process"
        self.token = self.params.token if own_processes else None
        self.config_hash = self.cfg.result_hash()

    @property
    def job(self) -> JobParams | str:
        """What a chunk job carries: our own process pool's workers got the params once."""
        return self.token if self.token is not None else self.params

    @property
    def cfg(self) -> PersonaConfig:
        return self.opts.config

    @property
    def ts(self) -> str:
        return format_ts(self.now)

    @property
    def status_ts(self) -> str:
        return format_status_ts(self.now)

    def meta(self, **extra: Any) -> dict[str, Any]:
        """job_status metadata: SPEC's keys first, then what a resume needs."""
        out: dict[str, Any] = {**self.counters, "total": self.total, **extra}
        out.update(now=self.now, config_hash=self.config_hash)
        if self.resumes:
            out["resumes"] = self.resumes
        return out


def run(opts: RunOptions, executor: Executor | None = None) -> dict[str, Any]:
    """Classify every active wallet of ``opts.db_path``; return the run summary.

    ``executor``: any ``concurrent.futures.Executor`` to compute features on (a Dask
    ``Client.get_executor()``, say); it is used as given and never shut down.

    The run holds the database's run lock throughout (``classifier.runlock``): a second run on
    the same database is refused. Every connection it opens is closed on every path.
    """
    wall0, cpu0 = time.perf_counter(), _cpu_s()
    # before any write: the snapshot's identity (one hash) and, for Dask, the scheduler
    snapshot = worker_snapshot.identify(opts.snapshot) if opts.snapshot is not None else None
    # checked (and output tables created: idempotent) before the lock, so that a file that is
    # no database gets no lock file beside it
    conn = store.open_writer(opts.db_path, opts.busy_timeout)
    try:
        with RunLock(opts.db_path):
            return _run_locked(opts, conn, executor, snapshot, wall0, cpu0)
    finally:
        conn.close()  # on every path, refusals and failures included


def _run_locked(
    opts: RunOptions,
    conn: Any,
    executor: Executor | None,
    snapshot: SnapshotIdentity | None,
    wall0: float,
    cpu0: float,
) -> dict[str, Any]:
    tasks, backend = opts.mode()
    owns = executor is None
    if executor is None and tasks and backend == "dask":
        executor = dask_backend.connect(opts.scheduler, opts.connect_timeout)
    if executor is not None:  # its own worker count, where it tells (for the look-ahead)
        tasks = getattr(executor, "_max_workers", None) or tasks or 1
        backend = backend if owns else "custom"
    try:
        action, resume_meta = resume_plan(
            store.job_row(conn),
            opts.now,
            opts.config.result_hash(),
            resume=opts.resume,
            restart=opts.restart,
        )
    except BaseException:
        _close_own(executor, owns)
        raise
    if action == "done":
        _close_own(executor, owns)
        return _completed_summary(opts, resume_meta or {})
    now = (
        int(resume_meta["now"])
        if resume_meta
        else (opts.now if opts.now is not None else int(time.time()))
    )
    state = _Run(opts, conn, now, tasks, backend if tasks else None, executor, owns, snapshot)
    closing: Closing | None = None
    released = False
    try:
        try:
            if state.tasks and state.executor is None:
                _start_pool(state)  # its start-up overlaps the writer's reads, status row, gate
            final_meta = _run(state, resume_meta)
            # the workers exit while the writer writes its last row and checkpoints
            closing, released = _release_workers(state), True
        finally:
            if not released:  # a failed run: its workers are gone before it is marked failed
                _await_workers(state, _release_workers(state))
        wall = time.perf_counter() - wall0
        store.begin(conn)
        store.write_job_status(
            conn,
            state.status_ts,
            status="idle",
            duration_ms=round(wall * 1000),
            last_error=None,
            metadata=final_meta,
        )
        store.commit(conn)
        # the run's writes into the database file itself, even when readers the run does not
        # own (a caller's process pool) keep SQLite from checkpointing at our close
        store.checkpoint(conn)
    except BaseException as exc:
        _mark_failed(state, exc)
        if isinstance(exc, sqlite3.Error) and store.is_busy(exc):
            raise store.DatabaseError(
                store.describe_sqlite_error(opts.db_path, exc, opts.busy_timeout)
            ) from None
        raise
    finally:
        if closing is not None:
            _await_workers(state, closing)
    skipped = final_meta.get("skipped")
    return _summary(state, skipped, wall, _cpu_s() - cpu0)


def _release_workers(state: _Run) -> Closing | None:
    """Tell our own pool (never a caller's) to shut down and close this run's reader
    connections; the pool's workers may still be exiting (``_await_workers``)."""
    closing = None
    if state.owns_executor and state.executor is not None:
        closing = begin_close(state.executor)
    if state.reader.conn is not state.conn:
        state.reader.conn.close()  # the snapshot's
    close_readers(state.params.token)
    return closing


def _await_workers(state: _Run, closing: Closing | None) -> None:
    """Wait for the workers of ``_release_workers`` (a hung one is killed), then the fork
    server, so that their CPU time reaches this process's RUSAGE_CHILDREN."""
    if closing is not None:
        state.events += closing.wait(POOL_EXIT_GRACE_S)
        if state.backend == "process":
            forkserver.reap()


def _close_own(executor: Executor | None, owns: bool) -> None:
    if owns and executor is not None:
        close_pool(executor, POOL_EXIT_GRACE_S)


def _new_pool(state: _Run) -> Executor:
    """A fresh pool of the run's backend (for Dask: a new connection to the scheduler)."""
    if state.backend == "dask":
        return dask_backend.connect(state.opts.scheduler, state.opts.connect_timeout)
    return make_executor(state.backend or "process", state.tasks, state.params, state.token)


def _completed_summary(opts: RunOptions, meta: dict[str, Any]) -> dict[str, Any]:
    """``--resume`` after a completed run: nothing is written; its counters are reported."""
    state = _Run(opts, None, int(meta["now"]), 0, None, None, False, None)
    state.counters.update({k: int(meta.get(k, 0)) for k in COUNTERS})
    state.total = int(meta.get("total", 0))
    return _summary(state, "nothing to resume: the run completed", 0.0, 0.0)


def _mark_failed(state: _Run, exc: BaseException) -> None:
    """status failed and last_error; the last committed progress stays for a resume.

    Not when the database is locked by another writer: that would wait a second time for the
    same lock, and nothing of this run was written anyway.
    """
    if isinstance(exc, sqlite3.Error) and store.is_busy(exc):
        store.rollback(state.conn)
        return
    try:
        store.rollback(state.conn)
        store.begin(state.conn)
        store.write_job_status(
            state.conn,
            state.status_ts,
            status="failed",
            last_error=f"{type(exc).__name__}: {exc}",
        )
        store.commit(state.conn)
    except Exception as inner:  # the database itself may be what failed
        log.error("persona_classification: could not record the failure: %s", inner)


def _run(state: _Run, resume_meta: dict[str, Any] | None) -> dict[str, Any]:
    """The body of a run; returns the final job_status metadata."""
    conn = state.conn
    if state.snapshot is not None:  # inputs from the verified snapshot, outputs to the database
        state.reader = store.WalletReader(
            worker_snapshot.open_inputs(state.snapshot, state.opts.busy_timeout)
        )
    inputs = state.reader.conn
    state.total = store.count_active(inputs)
    last_wallet = None
    if resume_meta is not None:
        state.resumes = int(resume_meta.get("resumes", 0)) + 1
        last_wallet = resume_meta.get("last_wallet")
        if last_wallet is not None:
            for key in COUNTERS:
                state.counters[key] = int(resume_meta.get(key, 0))

    # a resume's starting row keeps its progress: killed before its first chunk commits, the
    # next resume still starts after last_wallet
    progress = {"last_wallet": last_wallet} if last_wallet is not None else {}
    store.begin(conn)
    store.write_job_status(
        conn,
        state.status_ts,
        status="running",
        last_run_at=state.status_ts,
        last_error=None,
        metadata=state.meta(phase="starting", **progress),
    )
    store.commit(conn)
    faults.hit("started")

    if last_wallet is None:
        skipped = _gate(state)
        if skipped is not None:
            return skipped

    done = store.count_active(inputs, through=last_wallet) if last_wallet is not None else 0
    pages = store.active_wallet_pages(inputs, state.cfg.chunk_size, after=last_wallet)
    unreadable = _loop(state, pages, done)
    if unreadable is not None:
        raise unreadable
    return state.meta(classified=state.counters["processed"], completed=True)


def unreadable_error(
    page: list[str | store.Unreadable], done: int, total: int
) -> store.RowError | None:
    """The error to end the run with when ``page`` (the chunk after the first ``done`` active
    wallets) holds a wallet production cannot read, else None.

    Production reads each chunk's wallets with a typed read and aborts the run on the first
    that fails; every chunk before it was written (SPEC 2.7).
    """
    for i, entry in enumerate(page):
        if isinstance(entry, store.Unreadable):
            return store.RowError(
                f"active wallet {done + i + 1} of {total} in the job's order cannot be read:"
                f" {entry.why} (expected TEXT); the run stops at its chunk (wallets"
                f" {done + 1}-{done + len(page)}) as production's does, after the {done}"
                " wallets before it"
            )
    return None


def _start_pool(state: _Run) -> None:
    """Our own pool, made before the writer reads and gates; with processes, the fork server
    starts now, so that its interpreter imports the classifier on the other core meanwhile and
    the first chunk's worker is a fork away (workers are spawned as chunks are submitted)."""
    backend = state.backend or "process"
    if backend == "process":
        forkserver.start()
    state.executor = make_executor(backend, state.tasks, state.params, state.token)
    if backend == "process" and not (state.opts.pool_only or faults.pool_only()):
        state.warm_up = warm_up_pool(state.executor)


def _gate(state: _Run) -> dict[str, Any] | None:
    """SPEC 2.3: the final metadata when no wallet can be classified yet, else None."""
    cfg, conn = state.cfg, state.reader.conn
    if state.total == 0:
        meta: dict[str, Any] = {"classified": 0, "skipped": "no wallets"}
    elif not store.has_ready_wallet(conn, cfg.stage1_min_total_trades, state.now - READY_MIN_AGE_S):
        meta = {
            "classified": 0,
            "skipped": "insufficient trade history",
            "total_wallets": state.total,
            "min_trades_required": cfg.stage1_min_total_trades,
            "min_tracking_days": 7,
        }
    else:
        return None
    return meta


def _loop(
    state: _Run, pages: Iterator[list[str | store.Unreadable]], done: int
) -> store.RowError | None:
    """Feed chunk jobs to the pool ahead of the writer (bounded), write each chunk in order.

    ``pages``: the chunks still to classify, after the first ``done`` active wallets. Returns
    the error to end the run with when a chunk holds an unreadable wallet (every chunk before
    it written), else None.
    """
    ahead = max(MIN_CHUNKS_AHEAD, 4 * state.tasks) if state.executor is not None else 1
    pending: deque[_Chunk] = deque()
    stop: store.RowError | None = None
    while True:
        while stop is None and len(pending) < ahead and (page := next(pages, None)) is not None:
            stop = unreadable_error(page, done, state.total)
            if stop is None:
                chunk = _submit(state, cast(tuple[str, ...], tuple(page)))
                pending.append(chunk)
                done += len(page)
                if chunk.future is None and state.executor is not None:
                    break  # computed here (the pool starts, or failed): one chunk at a time
        if not pending:
            return stop
        _write_chunk(state, _collect(state, pending.popleft()))


def _submit(state: _Run, wallets: tuple[str, ...]) -> _Chunk:
    """A chunk job on the pool, or nothing yet: serial, no pool left, or the pool's first worker
    is still being forked (the writer computes the chunk itself meanwhile: ``warm_up_pool``)."""
    if state.executor is None or state.pool_dead:
        return _Chunk(wallets, None, None)
    if state.warm_up is not None:
        if state.warm_up.is_alive():
            return _Chunk(wallets, None, None)
        state.warm_up = None
    try:
        future = state.executor.submit(chunk_job, wallets, state.job)
    except BrokenExecutor as exc:  # a worker died since the last submit (BrokenProcessPool)
        _pool_failed(state, f"worker pool broken ({type(exc).__name__}: {exc})")
        return _submit(state, wallets)  # on the new pool, or inline when there is none
    return _Chunk(wallets, future, state.executor)


def _collect(state: _Run, chunk: _Chunk) -> ChunkResult:
    """A chunk's Stage 1 and features: from its job, or computed here (serial, or recomputed)."""
    t0 = time.perf_counter()
    result = _result_of(state, chunk) if chunk.future is not None else None
    if result is not None:
        job_s = result.stage1_s + result.features_s + result.classify_s
        state.busy_s += job_s
        state.slowest_job_s = max(state.slowest_job_s, job_s)
        state.phases["features_s"] += time.perf_counter() - t0  # waiting for the job
        return result
    if chunk.future is not None:
        state.recomputed += len(chunk.wallets)
    result = evaluate_chunk(state.reader, chunk.wallets, state.params)
    state.phases["stage1_s"] += result.stage1_s
    state.phases["features_s"] += result.features_s
    state.phases["classify_s"] += result.classify_s
    return result


def _result_of(state: _Run, chunk: _Chunk) -> ChunkResult | None:
    """The job's result, or None when its worker died or hung (its chunk is recomputed)."""
    assert chunk.future is not None
    current = chunk.pool is state.executor and not state.pool_dead
    if not current and not chunk.future.done():
        return None  # handed to a pool that was retired: never wait for it
    timeout = hang_timeout(state.opts, state.slowest_job_s)
    try:
        return chunk.future.result(timeout=timeout)
    except (BrokenExecutor, CancelledError) as exc:
        if current:
            _pool_failed(state, f"worker pool broken ({type(exc).__name__}: {exc})")
    except FutureTimeout:
        _pool_failed(state, f"a chunk job ran over {timeout:g} s (hung worker)")
    return None


def hang_timeout(opts: RunOptions, slowest_job_s: float) -> float:
    """Seconds the writer waits for the chunk it needs next before calling its worker hung.

    ``--task-timeout`` when given; else derived from the run itself: HANG_FACTOR times the
    slowest chunk job completed so far, never less than ``opts.hang_floor_s``. The job the
    writer waits for is the oldest one submitted, so it is running, not queued.
    """
    if opts.task_timeout is not None:
        return opts.task_timeout
    return max(opts.hang_floor_s, HANG_FACTOR * slowest_job_s)


def _pool_failed(state: _Run, why: str) -> None:
    """Retire the pool; start a fresh one unless it failed too often or is not ours."""
    if state.pool_dead or state.executor is None:
        return
    log.warning("persona_classification: %s; recomputing its chunks serially", why)
    state.events.append(why)
    state.pool_dead = True
    if not state.owns_executor:
        return  # a caller's executor is never shut down: the rest of the run goes inline
    if state.backend == "thread" and "hung" in why:
        # a thread cannot be killed: it is abandoned, still blocked, and its chunks recomputed
        state.abandoned += 1
        state.events.append("a hung worker thread cannot be killed: abandoned")
    state.events += kill_workers(state.executor)
    if state.pool_restarts < MAX_POOL_RESTARTS:
        # jobs handed to the dead pool are recomputed here; chunks not yet submitted use the new one
        state.pool_restarts += 1
        state.executor = _new_pool(state)
        state.pool_dead = False
        state.events.append(f"started a new worker pool ({state.pool_restarts})")


def _write_chunk(state: _Run, chunk: ChunkResult) -> None:
    """Every write of one chunk, plus its progress row, in one transaction (rows built by the
    chunk's job: the writer runs SQL only, which keeps its transaction short)."""
    t0 = time.perf_counter()
    rows = chunk.rows
    counters = dict(state.counters)
    for key, n in rows.counts.items():
        counters[key] += n
    for wallet, error in rows.failures:
        log.warning("persona_classification: wallet %s: features failed: %s", wallet, error)
    conn = state.conn
    store.begin(conn)
    store.write_chunk(conn, rows.writes)
    saved, state.counters = state.counters, counters
    store.write_job_status(
        conn,
        state.status_ts,
        metadata=state.meta(phase="classifying", last_wallet=chunk.last_wallet),
    )
    state.written += 1
    faults.hit(f"before-commit:{state.written}")
    try:
        store.commit(conn)
    except BaseException:
        state.counters = saved
        raise
    faults.hit(f"after-commit:{state.written}")
    state.failures.extend({"wallet": w, "error": e} for w, e in rows.failures)
    state.phases["write_s"] += time.perf_counter() - t0


def _cpu_s() -> float:
    """User + system CPU of this process and its waited-for children."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def _summary(state: _Run, skipped: str | None, wall: float, cpu: float) -> dict[str, Any]:
    """The run summary (``classify --json``; format in docs/contracts.md)."""
    phases = {k: round(v, 6) for k, v in state.phases.items()}
    phases["other_s"] = round(max(wall - sum(state.phases.values()), 0.0), 6)
    return {
        "schema": "persona-bench.classify/1",
        "version": __version__,
        "db": str(state.opts.db_path),
        "now": state.now,
        "now_iso": state.ts,
        "config_hash": state.cfg.result_hash(),
        "config": state.cfg.as_dict(),
        "mode": "parallel" if state.tasks else "serial",
        "backend": state.backend,
        "tasks": state.tasks,
        "resumed": state.resumes > 0,
        "skipped": skipped,
        "total": state.total,
        "counters": dict(state.counters),
        "failures": state.failures[:FAILURES_IN_SUMMARY],
        "phases": phases,
        "wall_s": round(wall, 6),
        "cpu_s": round(cpu, 6),
        "workers": {
            "busy_s": round(state.busy_s, 6),
            "utilization": round(state.busy_s / (state.tasks * wall), 4) if state.tasks else 0.0,
            "pool_restarts": state.pool_restarts,
            "recomputed": state.recomputed,
            "abandoned_threads": state.abandoned,
            "events": state.events,
        },
    }
