"""A run collects garbage rarely (``classifier.gcpolicy``), and process workers yield the CPU
to the writer; neither setting leaks into a program that calls the CLI in-process."""

from __future__ import annotations

import gc
import os
from pathlib import Path

from classifier import gcpolicy, pipeline
from classifier.config import PersonaConfig
from classifier.executor import WORKER_NICENESS, JobParams, close_pool, make_executor
from persona_bench.cli import main
from tests.helpers import NOW, bulk_db


def test_few_collections_inside_the_block_and_the_callers_settings_after() -> None:
    before = gc.get_threshold()
    with gcpolicy.few_collections():
        assert gc.get_threshold()[0] == gcpolicy.YOUNG_THRESHOLD
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_classify_runs_the_job_with_few_collections(tmp_path: Path, monkeypatch) -> None:
    db = bulk_db(tmp_path / "bulk.db", wallets=40)
    seen: list[tuple[int, ...]] = []
    run = pipeline.run

    def watched(opts, *args):
        seen.append(gc.get_threshold())
        return run(opts, *args)

    monkeypatch.setattr(pipeline, "run", watched)
    before = gc.get_threshold()
    assert main(["classify", "--db", str(db), "--now", str(NOW), "--serial"]) == 0
    assert seen and seen[0][0] == gcpolicy.YOUNG_THRESHOLD
    assert gc.get_threshold() == before


def test_process_workers_run_niced_with_few_collections(tmp_path: Path) -> None:
    db = bulk_db(tmp_path / "bulk.db", wallets=10)
    pool = make_executor("process", 1, JobParams(str(db), NOW, PersonaConfig(), 30.0))
    try:
        niceness = pool.submit(os.nice, 0).result(timeout=60)
        threshold = pool.submit(gc.get_threshold).result(timeout=60)
    finally:
        close_pool(pool, 10.0)
    assert niceness == min(os.nice(0) + WORKER_NICENESS, 19)
    assert threshold[0] == gcpolicy.YOUNG_THRESHOLD
