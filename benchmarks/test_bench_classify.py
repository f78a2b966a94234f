"""Benchmarks of the classifier on the prod fixture (17,657 active wallets, ~1.43M trades).

    nox -s bench            # or: python3 -m pytest benchmarks --benchmark-only
    nox -s bench_gate       # the same, failed when a median is 10% slower than the last saved run

Groups: ``feature phase`` (Stage 1 and features, no writes) and ``whole run``; every benchmark's
``extra_info`` has ``tasks``, ``backend`` and ``wallets`` so saved runs can be compared by them.
The feature phase (Stage 1 and features of every chunk, no writes) is timed alone, inline and
through each pool, on the read-only fixture; whole runs classify a fresh copy every round. The
machine has 2 cores: read ratios within one run of this suite, never across runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from classifier import PersonaConfig, RunOptions, run
from classifier.executor import JobParams, chunk_job, close_pool, evaluate_chunk, make_executor
from classifier.store import WalletReader, active_wallets, open_reader

CHUNK = PersonaConfig().chunk_size


def _feature_phase(path: Path, now: int, tasks: int, backend: str) -> int:
    """Stage 1 + features of every chunk, inline (tasks 0) or on a fresh pool; no writes."""
    conn = open_reader(path)
    wallets = active_wallets(conn)
    params = JobParams(str(path), now, PersonaConfig(), 30.0)
    chunks = [tuple(wallets[i : i + CHUNK]) for i in range(0, len(wallets), CHUNK)]
    if tasks == 0:
        reader = WalletReader(conn)
        results = [evaluate_chunk(reader, c, params) for c in chunks]
    else:
        pool = make_executor(backend, tasks, params)
        results = list(pool.map(chunk_job, chunks, [params] * len(chunks)))
        close_pool(pool, 10.0)
    conn.close()
    return sum(r.passers for r in results)


@pytest.mark.parametrize(
    ("tasks", "backend"),
    [
        (0, "serial"),
        (2, "process"),
        (4, "process"),
        (8, "process"),
        (16, "process"),
        (2, "thread"),
        (4, "thread"),
    ],
    ids=lambda v: str(v),
)
def test_bench_feature_phase(
    benchmark: Any, prod_db: tuple[Path, int], tasks: int, backend: str
) -> None:
    """Stage 1 and features for all 17,657 wallets (about 1,100 reach features)."""
    path, now = prod_db
    benchmark.group = "feature phase"
    benchmark.extra_info.update(tasks=tasks, backend=backend, fixture="prod")
    passers = benchmark.pedantic(
        _feature_phase, args=(path, now, tasks, backend), rounds=5, iterations=1, warmup_rounds=1
    )
    benchmark.extra_info["wallets"] = passers
    assert passers > 1000


@pytest.mark.parametrize("tasks", [0, 2, 4, 8, 12, 16])
def test_bench_whole_run(
    benchmark: Any, prod_db: tuple[Path, int], fresh_copy: Any, tasks: int
) -> None:
    """A whole classification (writes included) of a fresh copy of prod, processes backend."""
    _, now = prod_db
    benchmark.group = "whole run"
    benchmark.extra_info.update(
        tasks=tasks, backend="serial" if tasks == 0 else "process", fixture="prod"
    )

    def classify(db: Path) -> dict[str, Any]:
        return run(RunOptions(db_path=db, now=now, tasks=tasks, backend="process"))

    summary = benchmark.pedantic(classify, setup=fresh_copy, rounds=3, iterations=1)
    benchmark.extra_info["wallets"] = summary["counters"]["processed"]
    assert summary["counters"]["stage1_no_trades"] == 15_212
