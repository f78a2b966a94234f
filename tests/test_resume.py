"""Crash and resume: SIGKILLs at points chosen by progress; --resume ends with the uninterrupted
rows, ids and AUTOINCREMENT counters, however often it is itself killed.

Kills come from the job's fault hook (``classifier.faults``, ``PERSONA_BENCH_FAULT``): the job
SIGKILLs itself just before or just after a given chunk commits, so every kill lands where the
test says, whatever the machine's speed.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from classifier import PersonaConfig, RunOptions, run
from classifier.resume import ResumeError
from persona_bench.kernel.sqlitefile import connect_ro
from tests.helpers import DEFAULT_CONFIG, NOW, bulk_db, classify_cli, dump_outputs, job_meta

CHUNK = 15
TRIALS_PER_PATH = 5


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> tuple[Path, Path, dict, list[str]]:
    """Source db, a config with small chunks (many commits), the uninterrupted outputs (with
    sqlite_sequence) and the active wallets in the order the job walks them."""
    base = tmp_path_factory.mktemp("resume")
    src = bulk_db(base / "src.db", wallets=600)
    cfg = base / "config.toml"
    cfg.write_text(
        DEFAULT_CONFIG.read_text().replace(
            "\n[personas]\n", f"\n[personas]\nchunk_size = {CHUNK}\n"
        )
    )
    ref = base / "ref.db"
    shutil.copyfile(src, ref)
    proc = classify_cli("--db", str(ref), "--now", str(NOW), "--config", str(cfg), "--serial")
    assert proc.returncode == 0, proc.stderr
    conn = connect_ro(src)
    wallets = [
        r[0]
        for r in conn.execute(
            "SELECT proxy_wallet FROM wallets WHERE is_active = 1"
            " ORDER BY proxy_wallet COLLATE BINARY"
        )
    ]
    conn.close()
    return src, cfg, _final(ref), wallets


def _status(db: Path) -> str | None:
    conn = connect_ro(db)
    row = conn.execute(
        "SELECT status FROM job_status WHERE job_name = 'persona_classification'"
    ).fetchone()
    conn.close()
    return row[0] if row else None


def _final(db: Path) -> dict:
    """The four output tables (ids included, minus the 'resumes' mark) and sqlite_sequence."""
    out = dict(dump_outputs(db))
    rows = []
    for row in out["job_status"]:
        rec = dict(row)
        if rec["job_name"] == "persona_classification":
            meta = json.loads(rec["metadata"])
            meta.pop("resumes", None)  # records the interruption itself
            rec["metadata"] = meta
        rows.append(tuple(rec.items()))
    out["job_status"] = rows
    conn = connect_ro(db)
    out["sqlite_sequence"] = conn.execute("SELECT * FROM sqlite_sequence ORDER BY 1").fetchall()
    conn.close()
    return out


def _classify(db: Path, cfg: Path, tasks: str, *extra: str, fault: str | None = None):
    """classify in a child process, with the fault hook armed when ``fault`` is given."""
    env = dict(os.environ)
    env.pop("PERSONA_BENCH_FAULT", None)
    if fault:
        env["PERSONA_BENCH_FAULT"] = fault
    cmd = [sys.executable, "-m", "persona_bench", "classify", "--db", str(db)]
    cmd += ["--now", str(NOW), "--config", str(cfg), "--tasks", tasks, *extra]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=False)


def _kill(db: Path, cfg: Path, tasks: str, fault: str, *extra: str) -> dict:
    """A run SIGKILLed by ``fault``; asserts it died of it and returns its progress row."""
    proc = _classify(db, cfg, tasks, *extra, fault=fault)
    assert proc.returncode == -9, f"{fault}: the kill did not land (exit {proc.returncode})"
    assert _status(db) == "running"
    return job_meta(db)


def _progress_after(wallets: list[str], chunks: int) -> str | None:
    """last_wallet once ``chunks`` chunks are committed."""
    return wallets[chunks * CHUNK - 1] if chunks else None


PATHS = pytest.mark.parametrize("tasks", ["0", "2"], ids=["serial", "parallel"])


@pytest.mark.slow
@PATHS
def test_a_kill_before_or_after_each_of_the_first_commits_resumes_exactly(setup, tmp_path, tasks):
    """Killed after the starting row, then before and after each of the first 3 commits:
    the progress row names exactly the last committed chunk and --resume ends identical."""
    src, cfg, expected, wallets = setup
    points = ["started"] + [f"{w}-commit:{n}" for n in (1, 2, 3) for w in ("before", "after")]
    for point in points:
        db = tmp_path / f"{point.replace(':', '')}.db"
        shutil.copyfile(src, db)
        meta = _kill(db, cfg, tasks, f"kill@{point}")
        if point == "started":
            committed = 0
        else:
            n = int(point.rsplit(":", 1)[1])
            committed = n if point.startswith("after") else n - 1
        assert meta.get("last_wallet") == _progress_after(wallets, committed), point
        assert meta["processed"] <= committed * CHUNK
        proc = _classify(db, cfg, tasks, "--resume")
        assert proc.returncode == 0, proc.stderr
        assert _final(db) == expected, point
        db.unlink()


@pytest.mark.slow
@PATHS
def test_a_resume_killed_at_any_point_resumes_from_the_last_committed_chunk(setup, tmp_path, tasks):
    """A resume killed after its starting row, then before and after its own first commit,
    still continues after the last committed chunk: same rows, ids and sqlite_sequence."""
    src, cfg, expected, wallets = setup
    db = tmp_path / "x.db"
    shutil.copyfile(src, db)
    meta = _kill(db, cfg, tasks, "kill@after-commit:2")
    assert meta["last_wallet"] == _progress_after(wallets, 2)
    # each resume counts its own chunks from 1
    for fault, committed in (
        ("kill@started", 2),
        ("kill@before-commit:1", 2),
        ("kill@after-commit:1", 3),
        ("kill@started", 3),
        ("kill@after-commit:2", 5),
    ):
        meta = _kill(db, cfg, tasks, fault, "--resume")
        assert meta.get("last_wallet") == _progress_after(wallets, committed), fault
    proc = _classify(db, cfg, tasks, "--resume")
    assert proc.returncode == 0, proc.stderr
    assert job_meta(db)["resumes"] == 6
    assert _final(db) == expected


@pytest.mark.slow
@PATHS
def test_one_random_kill_per_trial_lands_mid_run_and_resumes_exactly(setup, tmp_path, tasks):
    """Seeded trials: each kills the run at a random commit (before or after it) and, in one
    trial of two, its resume at another; every kill is asserted, every trial ends identical."""
    src, cfg, expected, wallets = setup
    chunks = -(-len(wallets) // CHUNK)
    rng = random.Random(20261202 + int(tasks))
    for trial in range(TRIALS_PER_PATH):
        db = tmp_path / f"trial{trial}.db"
        shutil.copyfile(src, db)
        n = rng.randint(1, chunks)
        when = rng.choice(("before", "after"))
        meta = _kill(db, cfg, tasks, f"kill@{when}-commit:{n}")
        committed = n if when == "after" else n - 1
        assert meta.get("last_wallet") == _progress_after(wallets, committed), (trial, when, n)
        if rng.random() < 0.5 and committed < chunks:
            m = rng.randint(1, chunks - committed)
            when = rng.choice(("before", "after"))
            meta = _kill(db, cfg, tasks, f"kill@{when}-commit:{m}", "--resume")
            committed += m if when == "after" else m - 1
            assert meta.get("last_wallet") == _progress_after(wallets, committed), trial
        proc = _classify(db, cfg, tasks, "--resume")
        assert proc.returncode == 0, proc.stderr
        assert _final(db) == expected, f"trial {trial}"
        db.unlink()


def test_a_run_without_resume_after_a_kill_is_refused(setup, tmp_path):
    """After a kill, a plain run refuses in one line naming --resume and --restart, and writes
    nothing; --restart starts afresh."""
    src, cfg, _, _ = setup
    db = tmp_path / "x.db"
    shutil.copyfile(src, db)
    _kill(db, cfg, "0", "kill@after-commit:2")
    before = _final(db)
    proc = _classify(db, cfg, "0")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "was killed after wallet" in proc.stderr
    assert "--resume" in proc.stderr and "--restart" in proc.stderr
    assert _final(db) == before
    proc = _classify(db, cfg, "0", "--resume", "--restart")
    assert proc.returncode == 2 and "contradict" in proc.stderr
    proc = _classify(db, cfg, "0", "--restart")
    assert proc.returncode == 0, proc.stderr
    assert _status(db) == "idle" and "resumes" not in job_meta(db)


def test_resume_continues_after_the_last_committed_chunk(setup, tmp_path):
    """A run that fails mid-way (a real SQLite error) resumes at its last committed chunk."""
    src, _, expected, wallets = setup
    db = tmp_path / "x.db"
    shutil.copyfile(src, db)
    conf = PersonaConfig(chunk_size=CHUNK)
    excluded = {dict(row)["proxy_wallet"] for row in expected["wallet_exclusions"]}
    victim = next(w for w in wallets[len(wallets) // 2 :] if w in excluded)
    conn = sqlite3.connect(db)
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
    assert _final(db) == expected


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
    assert _final(db) == expected


def test_only_a_killed_run_stops_a_plain_run():
    """A row of ours left 'running' (killed) refuses a plain run; 'failed' (the error recorded,
    exit non-zero) and 'idle' start afresh; rows of another job's format never refuse."""
    from classifier.resume import InterruptedRunError, plan

    h = PersonaConfig().result_hash()
    ours = json.dumps({"now": NOW, "config_hash": h, "last_wallet": "0xa"})
    for status, meta, refused in (
        ("running", ours, True),
        ("failed", ours, False),
        ("idle", ours, False),
        ("running", '{"processed": 5}', False),
    ):
        prior = {"status": status, "metadata": meta}
        if refused:
            with pytest.raises(InterruptedRunError, match="killed after wallet 0xa"):
                plan(prior, None, h, resume=False, restart=False)
        else:
            assert plan(prior, None, h, resume=False, restart=False) == ("fresh", None)
        assert plan(prior, None, h, resume=False, restart=True) == ("fresh", None)


def test_blob_categories_crash_neither_a_run_nor_its_resume(tmp_path):
    """Issue 14 item 1: tiny with 10% of market categories stored as BLOBs beside text ones:
    the serial run finishes, and a run killed mid-way resumes to the same rows."""
    from fixtures.generator import generate, read_meta

    src = tmp_path / "tiny.db"
    generate(src, "tiny", 1, None)
    now = str(read_meta(src)["now"])
    conn = sqlite3.connect(src)
    conn.execute("UPDATE markets SET category = CAST(category AS BLOB) WHERE rowid % 10 = 0")
    (blobs,) = conn.execute(
        "SELECT COUNT(*) FROM markets WHERE typeof(category) = 'blob'"
    ).fetchone()
    conn.commit()
    conn.close()
    assert blobs > 0
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        DEFAULT_CONFIG.read_text().replace("\n[personas]\n", "\n[personas]\nchunk_size = 15\n")
    )
    args = ["--now", now, "--config", str(cfg), "--serial"]
    ref = tmp_path / "ref.db"
    shutil.copyfile(src, ref)
    proc = classify_cli("--db", str(ref), *args)
    assert proc.returncode == 0, proc.stderr
    db = tmp_path / "x.db"
    shutil.copyfile(src, db)
    env = {**os.environ, "PERSONA_BENCH_FAULT": "kill@after-commit:3"}
    cmd = [sys.executable, "-m", "persona_bench", "classify", "--db", str(db), *args]
    killed = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert killed.returncode == -9, killed.stderr
    proc = classify_cli("--db", str(db), "--resume", *args)
    assert proc.returncode == 0, proc.stderr
    assert _final(db) == _final(ref)
