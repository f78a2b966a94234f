"""Where feature jobs run: inline (serial), a process pool, a thread pool, or any Executor.

A feature job is ``feature_job(wallets, params)``: it reads each wallet's rows through a read-only
connection owned by the worker (opened once per worker thread, by the pool's ``initializer`` or
lazily on first use, so a foreign executor such as Dask's works too), computes the features and
returns a ``WalletResult``. A data error is a result, not an exception: only a dead or hung
worker makes a future fail, and the pipeline recomputes its wallets.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from classifier import store
from classifier.features import FeatureError, Features, compute_features


@dataclass(frozen=True, slots=True)
class JobParams:
    """What every feature job of one run shares (picklable)."""

    db_path: str
    now: int
    window_days: int
    busy_timeout: float

    @property
    def cutoff(self) -> int:
        return self.now - self.window_days * 86_400

    @property
    def cutoff_text(self) -> str:
        # production's datetime(cutoff, 'unixepoch')
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.cutoff))


@dataclass(frozen=True, slots=True)
class WalletResult:
    """Features of one wallet, or the one-line error that made them fail."""

    wallet: str
    features: Features | None
    error: str | None
    busy_s: float


def compute_wallet(conn: sqlite3.Connection, wallet: str, params: JobParams) -> WalletResult:
    """Read and compute one wallet's features on ``conn``: the same code on every path."""
    start = time.perf_counter()
    try:
        inputs = store.wallet_inputs(conn, wallet, params.cutoff, params.cutoff_text)
        features: Features | None = compute_features(inputs, params.now, params.window_days)
        error = None
    except FeatureError as exc:
        features, error = None, str(exc)
    return WalletResult(wallet, features, error, time.perf_counter() - start)


_local = threading.local()


def _worker_connection(params: JobParams) -> sqlite3.Connection:
    """This worker thread's read-only connection to ``params.db_path``, opened once."""
    conns: dict[str, sqlite3.Connection] | None = getattr(_local, "conns", None)
    if conns is None:
        conns = _local.conns = {}
    conn = conns.get(params.db_path)
    if conn is None:
        conn = conns[params.db_path] = store.open_reader(Path(params.db_path), params.busy_timeout)
    return conn


def init_worker(params: JobParams) -> None:
    """Pool initializer: open the worker's connection before the first job."""
    _worker_connection(params)


def feature_job(wallets: tuple[str, ...], params: JobParams) -> list[WalletResult]:
    """The unit of work submitted to an executor: a few wallets of one chunk.

    A job per wallet would cost as much in pickling and queueing as the work itself for the
    many small wallets; a few per job keeps the pool busy without starving the tail.
    """
    conn = _worker_connection(params)
    return [compute_wallet(conn, wallet, params) for wallet in wallets]


def make_executor(backend: str, tasks: int, params: JobParams) -> Executor:
    """A pool of ``tasks`` workers, each with its own read-only connection."""
    if backend == "thread":
        return ThreadPoolExecutor(
            max_workers=tasks,
            thread_name_prefix="features",
            initializer=init_worker,
            initargs=(params,),
        )
    # forkserver: a fork is ~5 ms (spawn ~30 ms per worker) and no worker inherits the writer's
    # connection (NOTES-sqlite.md: a forked child kept using an inherited one and lost writes).
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["classifier.executor"])
    return ProcessPoolExecutor(
        max_workers=tasks, mp_context=context, initializer=init_worker, initargs=(params,)
    )


def close_pool(executor: Executor, grace_s: float) -> list[str]:
    """Shut a pool down, waiting at most ``grace_s`` for its workers; kill the ones still there.

    ``shutdown(wait=True)`` would wait forever for a hung (stopped, deadlocked) worker that
    holds no job, so the run could finish its work and never exit. Returns one line per worker
    that had to be killed.
    """
    procs = list((getattr(executor, "_processes", None) or {}).values())
    manager = getattr(executor, "_executor_manager_thread", None)
    executor.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + grace_s
    killed = []
    for proc in procs:
        proc.join(max(deadline - time.monotonic(), 0.0))
        if proc.is_alive():
            proc.kill()
            proc.join()
            killed.append(f"worker pid {proc.pid} did not exit within {grace_s:g} s: killed")
    if manager is not None:
        manager.join()
    return killed


def kill_workers(executor: Executor) -> None:
    """Stop a broken or hung pool now: its processes are killed, pending work cancelled."""
    if isinstance(executor, ProcessPoolExecutor):
        # Python 3.14 has kill_workers(); before it, CPython keeps them in _processes.
        for proc in list((getattr(executor, "_processes", None) or {}).values()):
            if proc.is_alive():
                proc.kill()
    executor.shutdown(wait=False, cancel_futures=True)


def reap_forkserver() -> None:
    """Wait for the fork server so that the workers' CPU time reaches our RUSAGE_CHILDREN.

    Workers are children of the fork server, which reaps them; until we wait for the server
    itself, their CPU is counted nowhere a parent can see. ``_stop`` is CPython's (3.8+).
    """
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    stop = getattr(server, "_stop", None)
    if stop is not None and getattr(server, "_forkserver_pid", None) is not None:
        stop()
