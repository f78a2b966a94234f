"""Crash and resume: SIGKILL at random points; --resume ends with the uninterrupted rows."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from classifier import PersonaConfig, RunOptions, run
from classifier.resume import ResumeError
from tests.helpers import DEFAULT_CONFIG, NOW, bulk_db, classify_cli, dump_outputs, job_meta

KILLS_PER_PATH = 12


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> tuple[Path, Path, dict, float]:
    """Source db, a config with small chunks (many commits), the uninterrupted outputs and the
    wall time of an uninterrupted run (kills are spread over it)."""
    base = tmp_path_factory.mktemp("resume")
    src = bulk_db(base / "src.db", wallets=1500)
    cfg = base / "config.toml"
    cfg.write_text(
        DEFAULT_CONFIG.read_text().replace("\n[personas]\n", "\n[personas]\nchunk_size = 15\n")
    )
    ref = base / "ref.db"
    shutil.copyfile(src, ref)
    start = time.monotonic()
    proc = classify_cli("--db", str(ref), "--now", str(NOW), "--config", str(cfg), "--serial")
    assert proc.returncode == 0
    return src, cfg, dump_outputs(ref), time.monotonic() - start


def _status(db: Path) -> str | None:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    row = conn.execute(
        "SELECT status FROM job_status WHERE job_name = 'persona_classification'"
    ).fetchone()
    conn.close()
    return row[0] if row else None


def _without_resume_marks(outputs: dict) -> dict:
    """job_status metadata minus the 'resumes' count, which records the interruption."""
    import json

    out = dict(outputs)
    rows = []
    for row in out["job_status"]:
        rec = dict(row)
        meta = json.loads(rec["metadata"])
        meta.pop("resumes", None)
        rec["metadata"] = meta
        rows.append(tuple(rec.items()))
    out["job_status"] = rows
    return out


@pytest.mark.slow
@pytest.mark.parametrize("tasks", ["0", "2"], ids=["serial", "parallel"])
def test_sigkill_at_random_points_then_resume(setup, tmp_path, tasks):
    """12 seeded SIGKILLs per path; each --resume ends with exactly the uninterrupted rows."""
    src, cfg, expected, wall = setup
    rng = random.Random(20261128 + int(tasks))
    args = ["--now", str(NOW), "--config", str(cfg), "--tasks", tasks]
    interrupted = 0
    for attempt in range(KILLS_PER_PATH):
        db = tmp_path / f"run{attempt}.db"
        shutil.copyfile(src, db)
        child = subprocess.Popen(
            [sys.executable, "-m", "persona_bench", "classify", "--db", str(db), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(rng.uniform(0.2, 1.0) * wall)
        os.killpg(child.pid, signal.SIGKILL)  # the job and its workers, no cleanup
        child.wait()
        if _status(db) == "running":
            interrupted += 1
            before = job_meta(db)
            proc = classify_cli("--db", str(db), "--resume", *args)
            assert proc.returncode == 0, proc.stderr
            after = job_meta(db)
            assert after["resumes"] == 1
            assert after.get("last_wallet", "") == "" or before.get("last_wallet")
        else:
            proc = classify_cli("--db", str(db), "--resume", *args)
            assert proc.returncode == 0, proc.stderr
        got = dump_outputs(db)
        assert _without_resume_marks(got) == _without_resume_marks(expected), f"attempt {attempt}"
        db.unlink()
    assert interrupted >= KILLS_PER_PATH // 2, f"only {interrupted} kills landed mid-run"


def test_resume_continues_after_the_last_committed_chunk(setup, tmp_path):
    """A run that fails mid-way (a real SQLite error) resumes at its last committed chunk."""
    src, _, expected, _ = setup
    db = tmp_path / "x.db"
    shutil.copyfile(src, db)
    conf = PersonaConfig(chunk_size=15)
    conn = sqlite3.connect(db)
    (victim,) = conn.execute(
        "SELECT proxy_wallet FROM wallets WHERE is_active = 1 ORDER BY proxy_wallet"
        " LIMIT 1 OFFSET 200"
    ).fetchone()
    conn.execute(
        "CREATE TRIGGER boom BEFORE INSERT ON wallet_exclusions WHEN NEW.proxy_wallet = ?"
        " BEGIN SELECT RAISE(ABORT, 'disk full'); END".replace("?", f"'{victim}'")
    )
    conn.commit()
    conn.close()
    with pytest.raises(sqlite3.IntegrityError, match="disk full"):
        run(RunOptions(db_path=db, now=NOW, tasks=0, config=conf))
    meta = job_meta(db)
    assert _status(db) == "failed"
    assert meta["phase"] == "classifying" and meta["last_wallet"] < victim
    conn = sqlite3.connect(db)
    assert "disk full" in conn.execute("SELECT last_error FROM job_status").fetchone()[0]
    conn.execute("DROP TRIGGER boom")
    conn.commit()
    conn.close()
    summary = run(RunOptions(db_path=db, tasks=0, config=conf, resume=True))
    assert summary["resumed"] and summary["now"] == NOW
    assert _without_resume_marks(dump_outputs(db)) == _without_resume_marks(expected)


def test_resume_refuses_another_config_or_now(setup, tmp_path):
    """An interrupted run is only continued with its own config and now."""
    src, _, _, _ = setup
    db = tmp_path / "x.db"
    shutil.copyfile(src, db)
    conn = sqlite3.connect(db)
    conn.execute(
        "INSERT OR REPLACE INTO job_status (job_name, status, metadata, updated_at) VALUES"
        " ('persona_classification', 'running', ?, 'x')",
        (f'{{"now": {NOW}, "config_hash": "{PersonaConfig().result_hash()}"}}',),
    )
    conn.commit()
    conn.close()
    with pytest.raises(ResumeError, match="config differs"):
        run(RunOptions(db_path=db, resume=True, config=PersonaConfig(stage1_min_total_trades=3)))
    with pytest.raises(ResumeError, match="differs from the interrupted run's now"):
        run(RunOptions(db_path=db, resume=True, now=NOW + 1))
    proc = classify_cli("--db", str(db), "--resume", "--now", str(NOW + 1))
    assert proc.returncode == 2 and "differs from the interrupted run's now" in proc.stderr


def test_resume_after_a_completed_run_writes_nothing(setup, tmp_path):
    """--resume on a completed run with the same now is a no-op: ids do not move."""
    src, cfg, expected, _ = setup
    db = tmp_path / "x.db"
    shutil.copyfile(src, db)
    args = ["--db", str(db), "--now", str(NOW), "--config", str(cfg)]
    assert classify_cli(*args, "--serial").returncode == 0
    proc = classify_cli(*args, "--resume")
    assert proc.returncode == 0 and "nothing to resume" in proc.stdout
    assert dump_outputs(db) == expected
