"""persona-bench selftest: the canary catches every broken candidate, and can itself fail."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from harness import canary
from harness.selftest import _mismatch
from tests.helpers import NOW, bulk_db, dump_outputs


@pytest.mark.slow
def test_selftest_catches_every_broken_candidate():
    """The installed harness flags a missing row, a last-bit float, other ids and a slow run."""
    proc = subprocess.run(
        [sys.executable, "-m", "persona_bench", "selftest"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[-1] == "selftest: 6 of 6 checks hold"
    assert all(line.startswith("ok") for line in lines[:-1]), proc.stdout


def test_a_green_verdict_counts_as_not_caught():
    """If the harness called a broken candidate identical, the selftest check reports a miss."""
    green = {"verdict": {"identical": True, "mismatches": []}}
    assert _mismatch("wallet_exclusions", "missing")(0, green) is None
    red = {
        "verdict": {
            "mismatches": [
                {"tables": {"wallet_exclusions": {"differ": 0, "missing": 1, "extra": 0}}}
            ]
        }
    }
    assert _mismatch("wallet_exclusions", "missing")(1, red) is not None
    assert _mismatch("wallet_exclusions", "missing")(0, red) is None  # exit 0 is a miss too


@pytest.mark.parametrize("mode", ["drop-row", "skip-row", "float-bit", "reorder"])
def test_each_canary_breaks_exactly_what_it_says(tmp_path: Path, mode: str):
    """The canary runs the real job, then changes its wallet_exclusions as named."""
    src = bulk_db(tmp_path / "src.db", wallets=150)
    honest, broken = tmp_path / "honest.db", tmp_path / "broken.db"
    shutil.copyfile(src, honest)
    shutil.copyfile(src, broken)
    job = [sys.executable, "-m", "persona_bench", "classify", "--now", str(NOW), "--serial"]
    assert subprocess.call([*job, "--db", str(honest)], stdout=subprocess.DEVNULL) == 0
    assert canary.main([mode, "--", *job, "--db", str(broken)]) == 0
    before = dump_outputs(honest)["wallet_exclusions"]
    after = dump_outputs(broken)["wallet_exclusions"]
    assert dump_outputs(honest)["wallet_personas"] == dump_outputs(broken)["wallet_personas"]
    if mode == "drop-row":
        assert len(after) == len(before) - 1 and set(after) < set(before)
    elif mode == "skip-row":  # one row never written: the ones after it moved up an id
        ids = [dict(row)["id"] for row in before]
        assert [dict(row)["id"] for row in after] == ids[:-1]
        rest = [tuple(v for k, v in row if k != "id") for row in after]
        gone = [tuple(v for k, v in row if k != "id") for row in before]
        assert len(rest) == len(gone) - 1 and all(row in gone for row in rest)
        assert rest != gone[:-1]
    elif mode == "float-bit":
        changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
        assert len(changed) == 1
        ((a, b),) = changed
        assert dict(b)["metric_value"] != dict(a)["metric_value"]
        assert abs(dict(b)["metric_value"] - dict(a)["metric_value"]) < 1e-12
    else:
        strip = sorted(tuple(v for k, v in row if k != "id") for row in before)
        assert sorted(tuple(v for k, v in row if k != "id") for row in after) == strip
        assert before != after
    conn = sqlite3.connect(broken)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def test_the_input_canary_deletes_one_trade_and_leaves_the_outputs(tmp_path: Path):
    """delete-input: the job's outputs as an honest run's, one trades_raw row fewer."""
    src = bulk_db(tmp_path / "src.db", wallets=150)
    honest, broken = tmp_path / "honest.db", tmp_path / "broken.db"
    shutil.copyfile(src, honest)
    shutil.copyfile(src, broken)
    job = [sys.executable, "-m", "persona_bench", "classify", "--now", str(NOW), "--serial"]
    assert subprocess.call([*job, "--db", str(honest)], stdout=subprocess.DEVNULL) == 0
    assert canary.main(["delete-input", "--", *job, "--db", str(broken)]) == 0
    assert dump_outputs(honest) == dump_outputs(broken)
    counts = []
    for db in (honest, broken):
        conn = sqlite3.connect(db)
        counts.append(conn.execute("SELECT count(*) FROM trades_raw").fetchone()[0])
        conn.close()
    assert counts[1] == counts[0] - 1
