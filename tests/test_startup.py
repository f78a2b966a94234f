"""How a parallel run starts: what runs before the first chunk, and in which process.

The wall time a pool run adds to the serial one is mostly its start: the fork server's own
interpreter and imports, a worker's preparation, a writer waiting for its first fork. These
tests pin the choices that keep it short (``classifier.forkserver``, ``docs/design.md``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import NOW, bulk_db, dump_outputs


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    return bulk_db(tmp_path_factory.mktemp("startup") / "src.db")


def _classify(cmd: list[str], db: Path, *extra: str, env: dict[str, str] | None = None) -> dict:
    args = [*cmd, "classify", "--db", str(db), "--now", str(NOW), "--json", *extra]
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout))


def test_importing_classify_does_not_import_the_pipeline() -> None:
    """``classifier.cli`` (and the package) import no pipeline: the fork server can start first."""
    code = (
        "import sys, classifier.cli; "
        "print(sorted(m for m in ('classifier.pipeline', 'classifier.executor', "
        "'classifier.store', 'multiprocessing') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_classify_starts_the_fork_server_before_importing_the_pipeline(source, tmp_path):
    """The server's start-up (a fresh interpreter importing the classifier) overlaps ours."""
    db = tmp_path / "x.db"
    shutil.copyfile(source, db)
    code = (
        "import sys\n"
        "from classifier import forkserver\n"
        "real = forkserver.start\n"
        "def start():\n"
        "    print('pipeline imported:', 'classifier.pipeline' in sys.modules, file=sys.stderr)\n"
        "    real()\n"
        "forkserver.start = start\n"
        "from persona_bench.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    args = [sys.executable, "-c", code, "classify", "--db", str(db), "--now", str(NOW)]
    proc = subprocess.run(
        [*args, "--tasks", "2", "--backend", "process"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "pipeline imported: False" in proc.stderr


def test_workers_do_not_run_the_main_script_again(source, tmp_path):
    """The fork server runs the job's main script once for every worker it forks.

    Otherwise each worker runs it itself, as spawn does (tens of ms a worker, x16 at 16 tasks).
    The script logs each process that runs it: the job and the fork server, no worker.
    """
    db = tmp_path / "x.db"
    shutil.copyfile(source, db)
    log = tmp_path / "ran.log"
    script = tmp_path / "job.py"
    script.write_text(
        "import os, sys\n"
        f"with open({str(log)!r}, 'a') as fh:\n"
        "    fh.write(f'{os.getpid()}\\n')\n"
        "from persona_bench.cli import main\n"
        "if __name__ == '__main__':\n"
        "    sys.exit(main())\n"
    )
    # a fault that never fires: the writer leaves every chunk to the pool (faults.pool_only),
    # so that workers are forked whatever the machine's speed
    env = {**os.environ, "PERSONA_BENCH_FAULT": "kill@job:1000000"}
    summary = _classify([sys.executable, str(script)], db, "--tasks", "3", env=env)
    assert summary["workers"]["busy_s"] > 0  # the workers ran the chunks
    assert len(log.read_text().split()) == 2


def test_the_writer_computes_chunks_while_the_pool_starts(source, tmp_path):
    """Until the pool's first worker is forked, the writer computes chunks itself: here the
    fork never comes (the warm-up thread hangs), so the writer computes them all; rows as
    serial."""
    db, ref = tmp_path / "x.db", tmp_path / "ref.db"
    shutil.copyfile(source, db)
    shutil.copyfile(source, ref)
    _classify([sys.executable, "-m", "persona_bench"], ref, "--serial")
    env = {**os.environ, "PERSONA_BENCH_FAULT": "hang@warm-up"}
    cmd = [sys.executable, "-m", "persona_bench"]
    summary = _classify(cmd, db, "--tasks", "2", "--backend", "process", env=env)
    assert summary["mode"] == "parallel"
    assert summary["workers"]["busy_s"] == 0  # no chunk job ran on the pool
    assert summary["phases"]["stage1_s"] > 0  # the writer ran Stage 1 itself
    assert dump_outputs(db) == dump_outputs(ref)
