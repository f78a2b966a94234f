"""Bad input to validate and classify: one line, exit 2, nothing written beside the source.

Also bad rows (SPEC 7): handled as SPEC says, counted, and never a crash.
"""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from classifier import RunOptions, run
from tests.helpers import DAY, DEFAULT_CONFIG, NOW, build_db, bulk_db, cli, history, wallet


def validate(*args: str) -> subprocess.CompletedProcess[str]:
    return cli("validate", "--tasks", "2", "--repeat", "1", "--now", str(NOW), *args)


def _files(folder: Path) -> dict[str, bytes]:
    """The folder's files and bytes, less the -shm index and an empty -wal: SQLite's read-only
    WAL access creates them beside an idle source (docs/harness.md); the database is unchanged."""
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    return {
        name: data
        for name, data in files.items()
        if not name.endswith("-shm") and not (name.endswith("-wal") and not data)
    }


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    return bulk_db(folder / "data.db", wallets=60)


def _drop(db: Path, sql: str) -> None:
    conn = sqlite3.connect(db)
    conn.execute(sql)
    conn.commit()
    conn.close()


CONFIG_EDITS = {
    "unknown-key": ("[personas]\n", "[personas]\nsurprise = 1\n"),
    "wrong-type": ("stage1_min_total_trades = 10\n", "stage1_min_total_trades = 10.5\n"),
    "out-of-range": ("noise_max_abs_roi = 0.02", "noise_max_abs_roi = -1.0"),
    "missing-key": ("sniper_max_trades = 20\n", ""),
}


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("no-table", "input table markets is missing"),
        ("no-column", "column trades_raw.price is missing"),
        ("unknown-key", "unknown key personas.surprise"),
        ("wrong-type", "personas.stage1_min_total_trades must be an integer"),
        ("out-of-range", "personas.noise_max_abs_roi must be >= 0"),
        ("missing-key", "personas.sniper_max_trades is missing"),
    ],
)
def test_validate_refuses_what_the_job_refuses(
    source: Path, tmp_path: Path, case: str, message: str
):
    """A source lacking a table or column, or a bad config: exit 2, one line, source untouched."""
    args = ["--db", str(source), "--out", str(tmp_path / "out")]
    if case == "no-table":
        _drop(source, "DROP TABLE markets")
    elif case == "no-column":
        _drop(source, "ALTER TABLE trades_raw DROP COLUMN price")
    else:
        old, new = CONFIG_EDITS[case]
        text = DEFAULT_CONFIG.read_text()
        assert old in text
        cfg = tmp_path / "bad.toml"
        cfg.write_text(
            text.replace(old, new, 1)
            if case != "unknown-key"
            else text.replace("\n" + old, "\n" + new, 1)
        )
        args += ["--config", str(cfg)]
    before = _files(source.parent)
    proc = validate(*args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert message in last and "Traceback" not in proc.stderr
    assert _files(source.parent) == before


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "does not exist"),
        (lambda p: p.mkdir(), "directory"),
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_text("not a database " * 40), "not a SQLite database"),
    ],
    ids=["missing", "directory", "empty", "not-sqlite"],
)
def test_validate_refuses_unusable_sources(tmp_path: Path, make, message: str):
    """Missing, a directory, empty, not SQLite: exit 2 with one line; nothing is created."""
    db = tmp_path / "x.db"
    make(db)
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = validate("--db", str(db), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "out") == before


def test_validate_refuses_a_corrupt_source(source: Path, tmp_path: Path):
    """A database whose pages are damaged fails the integrity check: exit 2."""
    data = bytearray(source.read_bytes())
    for offset in range(4096 * 3, len(data), 4096 * 5):
        data[offset + 8 : offset + 40] = b"\xff" * 32
    bad = tmp_path / "bad.db"
    bad.write_bytes(bytes(data))
    proc = validate("--db", str(bad), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr


def test_validate_refuses_an_unwritable_output_folder(source: Path, tmp_path: Path):
    """--out under a regular file cannot be created: exit 2, one line."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = validate("--db", str(source), "--out", str(blocker / "out"))
    assert proc.returncode == 2
    assert "cannot create output folder" in proc.stderr


def test_bad_rows_are_handled_counted_and_never_crash(tmp_path: Path):
    """Odd sides, zero and negative sizes, prices outside 0..1, future trades, orphan trades
    and a text price: the run completes; only the text price is an error."""
    odd = []
    for i, (side, size, price) in enumerate(
        [
            ("buy", 5.0, 0.5),
            ("", 5.0, 0.5),  # a NULL side would fail the wallet (SPEC 2.7)
            ("MERGE", 1.0, 0.2),
            ("BUY", 0.0, 0.4),
            ("SELL", -3.0, 0.6),
            ("BUY", 2.0, 1.7),
            ("SELL", 2.0, -0.3),
            ("BUY", 1.0, 0.5),
            ("SELL", 1.0, 0.6),
            ("BUY", 4.0, 0.1),
            ("SELL", 4.0, 0.9),
        ]
    ):
        odd.append(
            {
                "proxy_wallet": "0xodd",
                "condition_id": f"m{i % 3}",
                "side": side,
                "size": size,
                "price": price,
                "timestamp": NOW - (60 - i) * DAY,
            }
        )
    odd.append(
        {
            "proxy_wallet": "0xodd",
            "condition_id": "m1",
            "side": "BUY",
            "size": 1.0,
            "price": 0.5,
            "timestamp": NOW + 30 * DAY,
        }
    )  # in the future
    text_price = history("0xtext", 12, first=NOW - 90 * DAY)
    text_price[-1]["price"] = "0.5x"
    orphan = history("0xorphan", 12, first=NOW - 90 * DAY)  # no wallets row
    db = build_db(
        tmp_path / "a.db",
        {
            "wallets": [wallet("0xodd"), wallet("0xtext")],
            "trades_raw": odd + text_price + orphan,
            "markets": [{"condition_id": "m0", "category": "Sports"}],
        },
    )
    summary = run(RunOptions(db_path=db, now=NOW, tasks=0))
    c = summary["counters"]
    assert c["errors"] == 1 and summary["failures"][0]["wallet"] == "0xtext"
    assert "price is text '0.5x' (expected INTEGER or REAL)" in summary["failures"][0]["error"]
    assert c["processed"] + c["unclassified"] + c["errors"] == 2  # the orphan is not active


def test_unreadable_wallet_fails_the_run_after_the_chunks_before_it(tmp_path: Path):
    """A blob proxy_wallet (it sorts after every text) stops the run at its chunk, as production's
    run aborts: the chunks before it stay committed, job_status is 'failed' with last_error, the
    CLI exits 2 with one line; --resume stops at the same place and writes no row twice."""
    db = build_db(
        tmp_path / "a.db",
        {
            "wallets": [wallet(f"0xw{i}") for i in range(5)] + [wallet(b"\xff\x00")],  # type: ignore[arg-type]
            "trades_raw": history("0xw1", 12, first=NOW - 90 * DAY),
        },
    )
    config = tmp_path / "chunks.toml"
    text = DEFAULT_CONFIG.read_text().replace("\n[personas]\n", "\n[personas]\nchunk_size = 2\n")
    config.write_text(text)
    first = cli("classify", "--db", str(db), "--now", str(NOW), "--config", str(config), "--serial")
    assert first.returncode == 2 and first.stdout == ""
    (line,) = first.stderr.strip().splitlines()
    assert line.startswith("persona-bench classify: error: active wallet 6 of 6")
    assert "proxy_wallet is a blob of 2 bytes" in line and "after the 4 wallets before it" in line
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT proxy_wallet, reason FROM wallet_exclusions ORDER BY id").fetchall()
    status, error = conn.execute("SELECT status, last_error FROM job_status").fetchone()
    conn.close()
    # chunks {0xw0, 0xw1} and {0xw2, 0xw3} are written; {0xw4, blob} is not
    assert {w for w, _ in rows} == {"0xw0", "0xw1", "0xw2", "0xw3"}
    assert status == "failed" and "RowError: active wallet 6 of 6" in error
    again = cli("classify", "--db", str(db), "--resume", "--config", str(config), "--serial")
    assert again.returncode == 2 and len(again.stderr.strip().splitlines()) == 1
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT COUNT(*) FROM wallet_exclusions").fetchone()[0] == len(rows)
    conn.close()
