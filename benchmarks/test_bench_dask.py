"""The Dask backend against the process pool: per-chunk overhead and the feature phase on prod.

    python3 -m pytest benchmarks/test_bench_dask.py --benchmark-only     # or nox -s bench

Both executors have 2 workers of 1 thread on this 2-core machine (a ``LocalCluster`` of worker
processes, started once for the session). ``chunk overhead``: 200 chunk-sized jobs that do no work
(100 wallet addresses and the run's ``JobParams`` out, the addresses back), fed 16 ahead and
collected in order as the pipeline does: the cost of moving a chunk through each executor.
``feature phase (dask)``: Stage 1 and features of every prod chunk, the workers reading a verified
snapshot (the writer's hash of the fixture is taken once, outside the timing). docs/scale-out.md
turns these figures into a model of when a cluster pays off.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import pytest

from classifier import PersonaConfig, dask_backend, worker_snapshot
from classifier.executor import JobParams, chunk_job, close_pool, make_executor
from classifier.store import active_wallets, open_reader

CHUNK = PersonaConfig().chunk_size
JOBS = 200
AHEAD = 16  # pipeline.MIN_CHUNKS_AHEAD


def echo_job(wallets: tuple[str, ...], params: JobParams) -> tuple[str, ...]:
    """A chunk job that does no work: what remains is the executor's cost per chunk."""
    return wallets


@pytest.fixture(scope="session")
def dask_address() -> Iterator[str]:
    """A LocalCluster of 2 worker processes, 1 thread each, for the whole session."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        yield str(cluster.scheduler_address)


@pytest.fixture(scope="session")
def prod_chunks(prod_db: tuple[Path, int]) -> list[tuple[str, ...]]:
    path, _ = prod_db
    conn = open_reader(path)
    wallets = active_wallets(conn)
    conn.close()
    return [tuple(wallets[i : i + CHUNK]) for i in range(0, len(wallets), CHUNK)]


def _in_order(pool: Executor, fn: Any, chunks: list[tuple[str, ...]], params: JobParams) -> int:
    """Submit ``AHEAD`` chunks ahead and collect them in order, like ``pipeline._loop``."""
    todo = iter(chunks)
    pending: deque[Any] = deque()
    done = 0
    while True:
        while len(pending) < AHEAD and (chunk := next(todo, None)) is not None:
            pending.append(pool.submit(fn, chunk, params))
        if not pending:
            return done
        pending.popleft().result()
        done += 1


def _pool(backend: str, address: str, params: JobParams) -> Executor:
    if backend == "dask":
        return dask_backend.connect(address)
    return make_executor("process", 2, params)


@pytest.mark.parametrize("backend", ["process", "dask"])
def test_bench_chunk_overhead(
    benchmark: Any,
    prod_db: tuple[Path, int],
    prod_chunks: list[tuple[str, ...]],
    dask_address: str,
    backend: str,
) -> None:
    """200 no-op chunk jobs through a warm executor (2 workers): the per-chunk overhead."""
    path, now = prod_db
    params = JobParams(str(path), now, PersonaConfig(), 30.0)
    chunks = (prod_chunks * 2)[:JOBS]
    pool = _pool(backend, dask_address, params)
    _in_order(pool, echo_job, chunks[:AHEAD], params)  # workers up and warm
    benchmark.group = "chunk overhead"
    benchmark.extra_info.update(backend=backend, tasks=2, jobs=JOBS)
    try:
        done = benchmark.pedantic(
            _in_order, args=(pool, echo_job, chunks, params), rounds=5, iterations=1
        )
    finally:
        close_pool(pool, 10.0)
    assert done == JOBS


def _feature_phase(pool: Executor, chunks: list[tuple[str, ...]], params: JobParams) -> int:
    return _in_order(pool, chunk_job, chunks, params)


@pytest.mark.parametrize("backend", ["process", "dask"])
def test_bench_feature_phase_executors(
    benchmark: Any,
    prod_db: tuple[Path, int],
    prod_chunks: list[tuple[str, ...]],
    dask_address: str,
    backend: str,
) -> None:
    """Stage 1 and features of all prod chunks on 2 warm workers, reading a verified snapshot."""
    path, now = prod_db
    identity = worker_snapshot.identify(path)  # the cached fixture is a closed file
    params = JobParams(str(path), now, PersonaConfig(), 30.0, identity)
    pool = _pool(backend, dask_address, params)
    _in_order(pool, chunk_job, prod_chunks[:AHEAD], params)  # connections open, snapshot checked
    benchmark.group = "feature phase (executors)"
    benchmark.extra_info.update(backend=backend, tasks=2, chunks=len(prod_chunks))
    try:
        done = benchmark.pedantic(
            _feature_phase, args=(pool, prod_chunks, params), rounds=3, iterations=1
        )
    finally:
        close_pool(pool, 10.0)
    assert done == len(prod_chunks)
