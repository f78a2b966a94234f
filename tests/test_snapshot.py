"""Tests for harness.snapshot: consistent copies of a live WAL source, which is never changed."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from harness import HarnessError
from harness.snapshot import check_sqlite_file, manifest_path, take_snapshot
from tests.harness_support import file_digest, make_db

WRITER = Path(__file__).resolve().parent / "targets" / "wal_writer.py"


def _start_writer(db: Path, batches: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), str(db), str(batches), "10", "5"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _finish_writer(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None and proc.stdin is not None
    assert proc.stdout.readline().split()[0] == "done"
    proc.stdin.write("\n")
    proc.stdin.flush()
    assert proc.wait(timeout=30) == 0
    proc.stdin.close()
    proc.stdout.close()


def _incomplete_batches(path: Path) -> tuple[int, list[str]]:
    """(batches seen, problems): every batch in batch_log must be whole, and no stray rows."""
    conn = sqlite3.connect(path)
    logged = dict(conn.execute("SELECT batch, wallets FROM batch_log").fetchall())
    trades = dict(conn.execute("SELECT batch, trades FROM batch_log").fetchall())
    seen_w = dict(
        conn.execute(
            "SELECT discovered_from, count(*) FROM wallets WHERE discovered_from LIKE 'batch%' "
            "GROUP BY discovered_from"
        ).fetchall()
    )
    seen_t = dict(
        conn.execute(
            "SELECT asset, count(*) FROM trades_raw WHERE asset LIKE 'batch%' GROUP BY asset"
        ).fetchall()
    )
    conn.close()
    problems = [
        f"batch {b}"
        for b in logged
        if seen_w.get(f"batch{b}") != logged[b] or seen_t.get(f"batch{b}") != trades[b]
    ]
    problems += [name for name in seen_w.keys() | seen_t.keys() if int(name[5:]) not in logged]
    return len(logged), problems


@pytest.mark.slow
def test_snapshots_under_a_busy_writer_hold_whole_transactions(tmp_path: Path) -> None:
    """Snapshots taken while another process commits pass integrity_check, hold whole batches."""
    source = make_db(tmp_path / "live.db", wallets=50)
    control = tmp_path / "control.db"
    shutil.copyfile(source, control)
    main_before = file_digest(source)
    writer = _start_writer(source, batches=1500)
    seen: list[int] = []
    try:
        # until >= 20 snapshots were taken and the writer's last batch is visible
        while len(seen) < 20 or seen[-1] < 1500:
            dest = tmp_path / f"snap{len(seen)}.db"
            assert take_snapshot(source, dest).integrity_check == "ok"
            batches, problems = _incomplete_batches(dest)
            assert problems == [], f"{dest.name}: incomplete {problems[:3]}"
            seen.append(batches)
            dest.unlink()
    finally:
        # the writer keeps its connection open: the main file changes only by a checkpoint
        main_during = file_digest(source)
        _finish_writer(writer)
    assert len(seen) >= 20
    assert any(0 < n < 1500 for n in seen), f"no snapshot overlapped the writer: {seen}"
    assert main_during == main_before, "the main database file changed: someone checkpointed"
    alone = _start_writer(control, batches=1500)
    _finish_writer(alone)
    for suffix in ("", "-wal", "-shm"):
        assert file_digest(Path(f"{source}{suffix}")) == file_digest(Path(f"{control}{suffix}"))


def test_snapshot_of_an_idle_source_leaves_its_bytes_unchanged(tmp_path: Path) -> None:
    """With a writer's open WAL, a snapshot changes neither the db nor the -wal file."""
    source = make_db(tmp_path / "live.db", wallets=30)
    writer = _start_writer(source, batches=5)
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().split()[0] == "done"
        wal = Path(f"{source}-wal")
        before = (file_digest(source), file_digest(wal))
        manifest = take_snapshot(source, tmp_path / "copy.db")
        assert (file_digest(source), file_digest(wal)) == before
        assert manifest.row_counts["wallets"] == 30 + 5 * 10
    finally:
        assert writer.stdin is not None and writer.stdout is not None
        writer.stdin.write("\n")
        writer.stdin.flush()
        writer.wait(timeout=30)
        writer.stdin.close()
        writer.stdout.close()


def test_manifest_describes_the_copy(tmp_path: Path) -> None:
    """The manifest has the counts, the sha256 of the copy and the copy is a WAL-mode file alone."""
    source = make_db(tmp_path / "src.db", wallets=40)
    dest = tmp_path / "copy.db"
    m = take_snapshot(source, dest)
    assert m.row_counts["wallets"] == 40
    assert m.row_counts["trades_raw"] == sum(i % 5 for i in range(40))
    assert m.active_wallets == 40 - len([i for i in range(40) if i % 17 == 0])
    assert m.classified_wallets == 0
    assert m.sha256 == file_digest(dest)
    assert m.size_bytes == dest.stat().st_size == m.page_count * m.page_size
    assert not Path(f"{dest}-wal").exists()
    conn = sqlite3.connect(dest)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_classified_wallets_counts_personas_and_exclusions(tmp_path: Path) -> None:
    """Wallets with a persona or an exclusion are counted once as already classified."""
    source = make_db(tmp_path / "src.db", wallets=10)
    conn = sqlite3.connect(source)
    with conn:
        conn.execute(
            "INSERT INTO wallet_exclusions (proxy_wallet, reason, excluded_at) VALUES "
            "('a', 'X', 't'), ('a', 'Y', 't'), ('b', 'X', 't')"
        )
        conn.execute(
            "INSERT INTO wallet_personas (proxy_wallet, persona, confidence, classified_at) "
            "VALUES ('b', 'P', 0.5, 't'), ('c', 'P', 0.5, 't')"
        )
    conn.close()
    assert take_snapshot(source, tmp_path / "copy.db").classified_wallets == 3


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (None, "does not exist"),
        (b"", "empty"),
        (b"hello, not a database at all" * 10, "not a SQLite database"),
    ],
)
def test_unusable_sources_are_refused_without_creating_them(
    tmp_path: Path, content: bytes | None, match: str
) -> None:
    """A missing, empty or non-SQLite source is a one-line error, and no file is created."""
    source = tmp_path / "src.db"
    if content is not None:
        source.write_bytes(content)
    with pytest.raises(HarnessError, match=match):
        take_snapshot(source, tmp_path / "copy.db")
    assert source.exists() == (content is not None)
    assert not (tmp_path / "copy.db").exists()


def test_a_directory_is_refused(tmp_path: Path) -> None:
    """A directory given as the source is refused."""
    with pytest.raises(HarnessError, match="is a directory"):
        check_sqlite_file(tmp_path)


def test_a_truncated_database_is_refused(tmp_path: Path) -> None:
    """A database cut short is refused before or during the copy, and the copy is removed."""
    source = make_db(tmp_path / "src.db", wallets=300)
    data = source.read_bytes()
    truncated = tmp_path / "cut.db"
    truncated.write_bytes(data[: len(data) // 2 + 100])
    with pytest.raises(HarnessError, match="truncated"):
        take_snapshot(truncated, tmp_path / "copy.db")
    assert not (tmp_path / "copy.db").exists()


def test_an_existing_destination_is_refused(tmp_path: Path) -> None:
    """The snapshot never overwrites an existing file."""
    source = make_db(tmp_path / "src.db", wallets=5)
    dest = tmp_path / "copy.db"
    dest.write_bytes(b"precious")
    with pytest.raises(HarnessError, match="already exists"):
        take_snapshot(source, dest)
    assert dest.read_bytes() == b"precious"


def test_a_locked_source_times_out_with_a_clear_error(tmp_path: Path) -> None:
    """A source held under an exclusive lock is reported after the busy timeout, not waited on."""
    source = make_db(tmp_path / "src.db", wallets=5)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys\n"
            f"c = sqlite3.connect({str(source)!r}, isolation_level=None)\n"
            "c.execute('PRAGMA locking_mode=EXCLUSIVE')\n"
            "c.execute('BEGIN EXCLUSIVE')\n"
            "print('locked', flush=True)\n"
            "sys.stdin.readline()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(HarnessError, match="locked"):
            take_snapshot(source, tmp_path / "copy.db", busy_timeout_s=0.3)
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=10)
        holder.stdin.close()
        assert holder.stdout is not None
        holder.stdout.close()


def test_snapshot_command_writes_the_manifest(tmp_path: Path) -> None:
    """`persona-bench snapshot SRC DEST` writes the copy and DEST.manifest.json, exit 0."""
    from harness import snapshot

    source = make_db(tmp_path / "src.db", wallets=5)
    dest = tmp_path / "copy.db"
    parser = __import__("argparse").ArgumentParser()
    snapshot.add_arguments(parser)
    assert snapshot.run(parser.parse_args([str(source), str(dest)])) == 0
    assert '"sha256"' in manifest_path(dest).read_text()
