"""Where chunk jobs run: inline (serial), a process pool, a thread pool, or any Executor.

A job is ``chunk_job(wallets, job)``: Stage 1 for one chunk (one set-based query), the
features of its passers only, Stage 2, and the rows the chunk writes. It reads through a
read-only connection owned by the worker (opened once per worker thread, by the pool's
``initializer`` or lazily on first use, so a foreign executor such as Dask's works too). ``job``
is the run's ``JobParams``, or, on a pool this module made, the run's token: the pool's
initializer gave every worker the params once, so a job carries only its wallets. The serial
path calls ``evaluate_chunk`` inline on the writer's connection: the same code. A data error is
a result, not an exception: only a dead or hung worker makes a future fail, and the pipeline
recomputes its chunk.

Worker state (the connection and the market-category map it caches) is keyed by the run's
token, not by the path: an executor reused across runs never serves a run from an earlier run's
connection (markets re-categorised since, or another file now at the same path). Process
workers die with the job (``classifier.lifeline``).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
import uuid
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from classifier import faults, forkserver, gcpolicy, store, worker_snapshot
from classifier.chunkrows import ChunkRows, chunk_rows
from classifier.config import PersonaConfig
from classifier.features import FeatureError, Features, compute_features
from classifier.lifeline import SERVER_PID_ENV, die_with_parent
from classifier.stage1 import stage1
from classifier.worker_snapshot import SnapshotIdentity

# multiprocessing and concurrent.futures.process are imported where a process pool is made:
# the serial path never needs them, and importing them is start-up time (docs/design.md).
# Process workers run below the writer's priority: with more workers than cores, the writer,
# whose commits every chunk waits for, would otherwise get one CPU share in tasks + 1.
WORKER_NICENESS = 10


def format_ts(now: int) -> str:
    """The run's timestamp in the three row tables (UTC, milliseconds .000), as production's
    ``strftime('%Y-%m-%d %H:%M:%f', 'now')``."""
    return time.strftime("%Y-%m-%d %H:%M:%S.000", time.gmtime(now))


def format_status_ts(now: int) -> str:
    """The run's timestamp in ``job_status`` (no milliseconds), as production's
    ``datetime('now')``."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now))


@dataclass(frozen=True, slots=True)
class JobParams:
    """What every job of one run shares (picklable)."""

    db_path: str
    now: int
    config: PersonaConfig
    busy_timeout: float
    snapshot: SnapshotIdentity | None = None
    token: str = field(
        default_factory=lambda: uuid.uuid4().hex
    )  # one per run  # read inputs from this verified copy instead

    @property
    def cutoff(self) -> int:
        return self.now - self.config.window_days * 86_400

    @property
    def ts(self) -> str:
        return format_ts(self.now)


@dataclass(frozen=True, slots=True)
class WalletResult:
    """Features of one wallet, or the one-line error that made them fail."""

    wallet: str
    features: Features | None
    error: str | None


@dataclass(frozen=True, slots=True)
class ChunkResult:
    """What a chunk writes (its rows, counters and failures), and how long its parts took.

    Plain tuples, not the per-wallet objects: the writer unpickles this beside busy workers.
    """

    rows: ChunkRows
    last_wallet: str
    passers: int  # wallets that passed Stage 1 (features computed or failed)
    stage1_s: float
    features_s: float
    classify_s: float


def compute_wallet(reader: store.WalletReader, wallet: str, params: JobParams) -> WalletResult:
    """Read and compute one wallet's features."""
    try:
        inputs = reader.inputs(wallet, params.cutoff)
        features = compute_features(inputs, params.now, params.config.window_days)
    except FeatureError as exc:
        return WalletResult(wallet, None, str(exc))
    return WalletResult(wallet, features, None)


def evaluate_chunk(
    reader: store.WalletReader, wallets: tuple[str, ...], params: JobParams
) -> ChunkResult:
    """Stage 1 for a chunk, features for its passers only (about 6% in production), Stage 2."""
    t0 = time.perf_counter()
    cap = params.config.stage1_min_total_trades
    summaries = store.stage1_summaries(reader.conn, wallets, params.now, cap)
    outcomes = [stage1(s, params.now, params.config) for s in summaries]
    t1 = time.perf_counter()
    results = {o.wallet: compute_wallet(reader, o.wallet, params) for o in outcomes if o.passed}
    t2 = time.perf_counter()
    rows = chunk_rows(outcomes, results, params.config, params.ts)
    t3 = time.perf_counter()
    return ChunkResult(rows, wallets[-1], len(results), t1 - t0, t2 - t1, t3 - t2)


_local = threading.local()
_opened: dict[str, list[sqlite3.Connection]] = {}  # run token -> readers opened in this process
_opened_lock = threading.Lock()
_finished: set[str] = set()  # tokens of runs whose readers were closed (32 bytes a run)


def _worker_reader(params: JobParams) -> store.WalletReader:
    """This worker thread's reader for this run, on its own read-only connection, opened once.

    A thread that meets a new run token closes its readers of earlier runs first.
    """
    readers: dict[str, store.WalletReader] | None = getattr(_local, "readers", None)
    if readers is None:
        readers = _local.readers = {}
    snap = params.snapshot
    if snap is not None:  # a verified snapshot: checked once per process and run, then a stat
        worker_snapshot.verify(snap)
    reader = readers.get(params.token)
    if reader is None:
        if params.token in _finished:
            # a job abandoned by its run (hung, then released) must not open a connection
            # that nobody would close
            raise RuntimeError("the run this job belongs to has finished")
        for token in list(readers):
            _forget(token, readers.pop(token).conn)
        if snap is None:
            conn = store.open_reader(Path(params.db_path), params.busy_timeout)
        else:
            conn = worker_snapshot.open_reader(snap, params.busy_timeout)
        with _opened_lock:
            _opened.setdefault(params.token, []).append(conn)
        reader = readers[params.token] = store.WalletReader(conn)
    return reader


def _forget(token: str, conn: sqlite3.Connection) -> None:
    with _opened_lock:
        conns = _opened.get(token, [])
        if conn in conns:
            conns.remove(conn)
        if not conns:
            _opened.pop(token, None)
    conn.close()


def close_readers(token: str) -> None:
    """Close every reader this process opened for run ``token`` (thread workers, at run end).

    The run's writes then reach the database file at the writer's close (SQLite checkpoints
    the WAL when the last connection closes).
    """
    with _opened_lock:
        conns = _opened.pop(token, [])
        _finished.add(token)
    for conn in conns:
        conn.close()


_params_by_token: dict[str, JobParams] = {}  # this worker's runs, by token (set once per worker)


def init_worker(params: JobParams, token: str | None = None) -> None:
    """Pool initializer: keep the run's params under ``token``, open the worker's connection."""
    if token is not None:
        _params_by_token[token] = params
    _worker_reader(params)


def init_process_worker(params: JobParams, token: str | None = None) -> None:
    """Process pool initializer: die with the fork server (hence the job), yield the CPU to
    the writer, collect garbage rarely (``gcpolicy``), then as above."""
    server = os.environ.get(SERVER_PID_ENV)
    die_with_parent(int(server) if server is not None else None)
    os.nice(WORKER_NICENESS)
    gcpolicy.apply()
    init_worker(params, token)


def chunk_job(wallets: tuple[str, ...], job: JobParams | str) -> ChunkResult:
    """The unit of work submitted to an executor: one chunk.

    ``job``: the run's params, or the token its pool's initializer registered them under (a
    job then pickles its wallets only, not the whole config). Whole chunks keep the writer's
    process nearly idle (it only writes), which matters on a 2-core machine: a writer that also
    ran Stage 1 and fed wallets one by one was starved by its own workers.
    """
    faults.job_started()
    params = _params_by_token[job] if isinstance(job, str) else job
    return evaluate_chunk(_worker_reader(params), wallets, params)


def make_executor(
    backend: str, tasks: int, params: JobParams, token: str | None = None
) -> Executor:
    """A pool of ``tasks`` workers, each with its own read-only connection.

    With a ``token``, every worker keeps ``params`` under it: submit ``chunk_job(wallets,
    token)``. Without one, jobs must carry their params.
    """
    initargs: tuple[Any, ...] = (params, token)
    if backend == "thread":
        return ThreadPoolExecutor(
            max_workers=tasks,
            thread_name_prefix="features",
            initializer=init_worker,
            initargs=initargs,
        )
    from concurrent.futures import ProcessPoolExecutor

    # forkserver: a fork is cheaper than a spawn (docs/design.md) and no worker inherits the
    # writer's connection (NOTES-sqlite.md: a forked child using an inherited one loses writes).
    return ProcessPoolExecutor(
        max_workers=tasks,
        mp_context=forkserver.context(),
        initializer=init_process_worker,
        initargs=initargs,
    )


def warm_up_pool(executor: Executor) -> threading.Thread:
    """Fork the pool's first worker on a thread of its own; the thread ends once it is forked.

    ``ProcessPoolExecutor.submit`` forks workers as jobs arrive, and the first fork waits for the
    fork server to finish its imports: a writer submitting its first chunk would wait with it,
    one core idle. While this thread is alive the writer computes chunks itself instead.
    """

    def submit_first() -> None:
        faults.hit("warm-up")
        # a broken pool shows again at the writer's own next submit
        with contextlib.suppress(Exception):
            executor.submit(int)  # a no-op: the worker's initializer opens its reader

    thread = threading.Thread(target=submit_first, name="pool-warm-up", daemon=True)
    thread.start()
    return thread


@dataclass
class Closing:
    """A pool told to shut down whose workers may still be exiting (``begin_close``)."""

    executor: Executor
    procs: list[Any]
    manager: threading.Thread | None

    def wait(self, grace_s: float) -> list[str]:
        """Wait at most ``grace_s`` for the workers; kill the ones still there.

        ``shutdown(wait=True)`` would wait forever for a hung (stopped, deadlocked) worker that
        holds no job, so the run could finish its work and never exit. Returns one line per
        worker that had to be killed.
        """
        deadline = time.monotonic() + grace_s
        killed = []
        for proc in self.procs:
            proc.join(max(deadline - time.monotonic(), 0.0))
            if proc.is_alive():
                proc.kill()
                proc.join()
                killed.append(f"worker pid {proc.pid} did not exit within {grace_s:g} s: killed")
        if self.manager is not None:
            self.manager.join()
        return killed + _reported(self.executor)


def begin_close(executor: Executor) -> Closing:
    """Tell a pool to shut down, without waiting: its workers exit while the caller goes on."""
    # taken before shutdown(), which drops the executor's references to them
    procs = list((getattr(executor, "_processes", None) or {}).values())
    manager = getattr(executor, "_executor_manager_thread", None)
    executor.shutdown(wait=False, cancel_futures=True)
    return Closing(executor, procs, manager)


def close_pool(executor: Executor, grace_s: float) -> list[str]:
    """Shut a pool down, waiting at most ``grace_s`` for its workers (``Closing.wait``)."""
    return begin_close(executor).wait(grace_s)


def _reported(executor: Executor) -> list[str]:
    """Faults an executor reports itself once shut down (the Dask backend's lost workers)."""
    return list(getattr(executor, "events", None) or ())


def kill_workers(executor: Executor) -> list[str]:
    """Stop a broken or hung pool now: its processes are killed, pending work cancelled."""
    if not isinstance(executor, ThreadPoolExecutor):
        # a process pool: Python 3.14 has kill_workers(); before it, CPython keeps them in
        # _processes (absent from a foreign executor: nothing to kill here then)
        for proc in list((getattr(executor, "_processes", None) or {}).values()):
            if proc.is_alive():
                proc.kill()
    executor.shutdown(wait=False, cancel_futures=True)
    return _reported(executor)
