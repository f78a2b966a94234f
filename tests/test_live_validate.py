"""validate on a live source: a writer keeps committing while the harness snapshots and replays."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import NOW, bulk_db, cli

WRITER = Path(__file__).resolve().parent / "targets" / "wal_writer.py"
BATCHES, PER_BATCH = 4000, 10


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_validate_under_a_busy_writer_is_green_and_leaves_the_source_alone(tmp_path: Path):
    """Mid-stream snapshot of whole transactions, identical replays, the source not checkpointed."""
    source = bulk_db(tmp_path / "live.db", wallets=200)
    before = _digest(source)
    writer = subprocess.Popen(
        [sys.executable, str(WRITER), str(source), str(BATCHES), str(PER_BATCH), "5"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None and writer.stdin is not None
    try:
        assert writer.stdout.readline().strip() == "ready"
        out = tmp_path / "out"
        proc = cli(
            "validate",
            "--db",
            str(source),
            "--tasks",
            "2",
            "--repeat",
            "1",
            "--now",
            str(NOW),
            "--out",
            str(out),
        )
        still_writing = writer.poll() is None and _digest(source) == before
    finally:
        assert writer.stdout.readline().strip() == "done"
        writer.stdin.write("\n")
        writer.stdin.flush()
        writer.wait(timeout=60)
        writer.stdin.close()
        writer.stdout.close()
    assert proc.returncode == 0, proc.stderr
    results = json.loads((out / "results.json").read_text())
    seen = results["snapshot"]["row_counts"]["wallets"]
    assert 200 < seen < 200 + BATCHES * PER_BATCH, f"the snapshot did not overlap: {seen}"
    assert seen % PER_BATCH == 0  # whole batches only (200 + 10 per committed batch)
    assert results["snapshot"]["integrity_check"] == "ok"
    assert results["verdict"]["identical"] is True
    assert still_writing, "the main database file changed while the writer held the WAL"
