"""The writer's connection lets the WAL grow between commits: no checkpoint (a file sync) every
few chunks; the run checkpoints once at its end."""

from __future__ import annotations

from pathlib import Path

from classifier import pipeline, store
from tests.helpers import NOW, bulk_db


def _wal_sizes(tmp_path: Path, name: str, monkeypatch) -> list[int]:
    """The WAL file's size after each commit of a serial run on a fresh database."""
    db = bulk_db(tmp_path / name, wallets=300, trades_per_active=40)
    sizes: list[int] = []
    commit = store.commit

    def watched(conn) -> None:
        commit(conn)
        sizes.append(Path(f"{db}-wal").stat().st_size)

    monkeypatch.setattr(store, "commit", watched)
    pipeline.run(pipeline.RunOptions(db_path=db, now=NOW, tasks=0))
    monkeypatch.setattr(store, "commit", commit)
    return sizes


def test_the_writer_does_not_checkpoint_between_chunks(tmp_path: Path, monkeypatch) -> None:
    conn = store.open_writer(bulk_db(tmp_path / "pragma.db", wallets=10))
    try:
        (pages,) = conn.execute("PRAGMA wal_autocheckpoint").fetchone()
    finally:
        conn.close()
    assert pages == store.WAL_AUTOCHECKPOINT_PAGES > 1000  # above SQLite's default

    grown = _wal_sizes(tmp_path, "grown.db", monkeypatch)
    assert len(grown) > 3 and grown == sorted(grown)
    # with a small limit the WAL is checkpointed and reused from its start: it stays small
    monkeypatch.setattr(store, "WAL_AUTOCHECKPOINT_PAGES", 4)
    reused = _wal_sizes(tmp_path, "reused.db", monkeypatch)
    assert max(reused) < grown[-1] / 2
