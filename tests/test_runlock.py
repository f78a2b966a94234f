"""One run per database: a second classify on a database whose run is live is refused."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from classifier import RunOptions, run
from classifier.runlock import RunLockedError, lock_path
from persona_bench.kernel.sqlitefile import connect_ro
from tests.helpers import NOW, bulk_db, classify_cli, dump_outputs


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> tuple[Path, dict]:
    """A small source and its serial outputs."""
    base = tmp_path_factory.mktemp("lock")
    src = bulk_db(base / "src.db", wallets=300, trades_per_active=40)
    ref = base / "ref.db"
    shutil.copyfile(src, ref)
    run(RunOptions(db_path=ref, now=NOW, tasks=0))
    return src, dump_outputs(ref)


def _held_run(db: Path, *extra: str) -> subprocess.Popen:
    """A classify that stops (alive, lock held) right after its first chunk commits."""
    env = {**os.environ, "PERSONA_BENCH_FAULT": "hang@after-commit:1"}
    cmd = [sys.executable, "-m", "persona_bench", "classify", "--db", str(db)]
    child = subprocess.Popen(
        [*cmd, "--now", str(NOW), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    while child.poll() is None:  # wait for progress: its first chunk committed
        conn = connect_ro(db)
        try:
            row = conn.execute("SELECT metadata FROM job_status").fetchone()
        except sqlite3.Error:
            row = None
        conn.close()
        if row and json.loads(row[0]).get("phase") == "classifying":
            return child
        time.sleep(0.01)
    raise AssertionError(f"the first run exited ({child.returncode}) before its first commit")


@pytest.mark.parametrize("tasks", ["0", "2"], ids=["serial", "parallel"])
def test_a_second_run_on_a_live_database_is_refused(source, tmp_path, tasks):
    """While a run is live, a second one (plain, --resume or --restart) exits 2 with one line
    naming the holder and writes nothing; once the holder is killed, --resume finishes."""
    src, expected = source
    db = tmp_path / "x.db"
    shutil.copyfile(src, db)
    first = _held_run(db, "--tasks", tasks)
    try:
        before = dump_outputs(db)
        link = tmp_path / "elsewhere" / "link.db"  # the same file under another name
        link.parent.mkdir()
        link.symlink_to(db)
        for path, extra in ((db, ()), (db, ("--resume",)), (db, ("--restart",)), (link, ())):
            proc = classify_cli("--db", str(path), "--now", str(NOW), "--serial", *extra)
            assert proc.returncode == 2, (extra, proc.stderr)
            assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
            assert "is being classified by another run" in proc.stderr
            assert f"pid {first.pid} on " in proc.stderr
            assert dump_outputs(db) == before, extra
        with pytest.raises(RunLockedError, match="another run"):
            run(RunOptions(db_path=db, now=NOW, tasks=0, resume=True))
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # no clean-up: the kernel drops its lock
        first.wait()
    assert lock_path(db).exists()  # left in place; a stale file blocks nobody
    proc = classify_cli("--db", str(db), "--resume", "--tasks", tasks)
    assert proc.returncode == 0, proc.stderr
    assert dump_outputs(db)["wallet_personas"] == expected["wallet_personas"]
    assert dump_outputs(db)["wallet_exclusions"] == expected["wallet_exclusions"]
    assert dump_outputs(db)["wallet_persona_traits"] == expected["wallet_persona_traits"]
