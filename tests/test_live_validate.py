"""validate on a live source: a writer keeps committing while the harness snapshots and replays.

The overlap is made by progress, never by time: the writer commits until it has an allowance of
batches (``wal_writer.py --allowed``), the validation starts only once it committed some, and
every run is held by ``targets/gate.py`` until the writer has committed ``AFTER`` more batches
than the snapshot holds. So the snapshot is taken of a source with a live writer holding its WAL,
and the writer provably commits transactions after it, while the runs are under way.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import NOW, bulk_db, cli

TARGETS = Path(__file__).resolve().parent / "targets"
WRITER, GATE = TARGETS / "wal_writer.py", TARGETS / "gate.py"
PER_BATCH = 10
BEFORE, AFTER = 20, 30  # batches committed before the validation starts / after its snapshot
FIRST_ALLOWANCE = 200  # what the writer may commit before any run raises it


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _count(progress: Path) -> int:
    return int(progress.read_text() or 0) if progress.exists() else 0


def _gated(progress: Path, allowed: Path, *job: str) -> str:
    """A template: the gate, then our classifier on the run's copy."""
    gate = [sys.executable, str(GATE), "{db}", str(progress), str(allowed), str(AFTER), "--"]
    return " ".join([*gate, sys.executable, "-m", "persona_bench", "classify", *job])


@pytest.mark.slow
def test_validate_under_a_busy_writer_is_green_and_leaves_the_source_alone(tmp_path: Path):
    """Mid-stream snapshot of whole transactions, identical replays, the source not checkpointed."""
    source = bulk_db(tmp_path / "live.db", wallets=200)
    before = _digest(source)
    progress, allowed = tmp_path / "progress", tmp_path / "allowed"
    allowed.write_text(str(FIRST_ALLOWANCE))
    writer = subprocess.Popen(
        [
            *(sys.executable, str(WRITER), str(source), "0", str(PER_BATCH), "5"),
            *("--progress", str(progress), "--allowed", str(allowed)),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None and writer.stdin is not None
    try:
        assert writer.stdout.readline().strip() == "ready"
        while _count(progress) < BEFORE:  # the writer is under way before the snapshot
            assert writer.poll() is None
            time.sleep(0.005)
        out = tmp_path / "out"
        job = ("--db", "{db}", "--now", "{now}", "--json")
        proc = cli(
            *("validate", "--db", str(source), "--tasks", "2", "--repeat", "1"),
            *("--serial-cmd", _gated(progress, allowed, *job, "--serial")),
            *("--parallel-cmd", _gated(progress, allowed, *job, "--tasks", "{tasks}")),
            *("--ignore-column", "job_status.duration_ms", "--now", str(NOW), "--out", str(out)),
        )
        still_writing = writer.poll() is None and _digest(source) == before
    finally:
        allowed.write_text("stop")
        done = writer.stdout.readline().split()
        writer.stdin.write("\n")
        writer.stdin.flush()
        writer.wait(timeout=60)
        writer.stdin.close()
        writer.stdout.close()
    assert proc.returncode == 0, proc.stderr
    assert done[0] == "done"
    committed = int(done[1])
    results = json.loads((out / "results.json").read_text())
    seen = results["snapshot"]["row_counts"]["wallets"]
    assert seen % PER_BATCH == 0  # whole batches only (200 + 10 per committed batch)
    in_snapshot = (seen - 200) // PER_BATCH
    assert in_snapshot >= BEFORE, f"the snapshot missed batches committed before it: {seen}"
    assert committed >= in_snapshot + AFTER, "the writer did not go on during the runs"
    assert results["snapshot"]["integrity_check"] == "ok"
    assert results["verdict"]["identical"] is True
    assert all(r["inputs_changed"] == {} for r in results["runs"])
    assert still_writing, "the main database file changed while the writer held the WAL"
