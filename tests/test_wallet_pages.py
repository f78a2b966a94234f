"""The writer walks the active wallets a page (a chunk) at a time, keyed on the last wallet it
read: the same wallets in the same order as reading the whole list, without holding it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from classifier import pipeline, store
from tests.helpers import NOW, build_db, history, wallet

# byte order: uppercase before lowercase, a prefix before its extensions, UTF-8 by code point
ADDRESSES = ["0xA", "0xa", "0xa0", "0xa00", "0xb", "0xé", "0x€", "0x𝄞", "0xz", "b", "a"]


def _db(tmp_path: Path, addresses: list) -> Path:
    rows = [wallet(a) for a in addresses] + [wallet("0xinactive", active=0)]
    return build_db(tmp_path / "w.db", {"wallets": rows})


@pytest.mark.parametrize("size", [1, 2, 3, 5, 11, 12, 100])
def test_pages_walk_the_whole_list_in_order(tmp_path: Path, size: int) -> None:
    conn = sqlite3.connect(_db(tmp_path, ADDRESSES))
    whole = store.active_wallets(conn)
    pages = list(store.active_wallet_pages(conn, size))
    assert [w for page in pages for w in page] == whole == sorted(ADDRESSES, key=str.encode)
    assert all(len(page) == size for page in pages[:-1])
    assert store.count_active(conn) == len(whole)
    after = whole[3]
    rest = [w for page in store.active_wallet_pages(conn, size, after=after) for w in page]
    assert rest == whole[4:] and store.count_active(conn, through=after) == 4
    conn.close()


def test_the_walk_ends_at_the_page_holding_an_unreadable_wallet(tmp_path: Path) -> None:
    db = _db(tmp_path, [*ADDRESSES, b"\xff\x00"])  # a blob sorts after every text
    conn = sqlite3.connect(db)
    pages = list(store.active_wallet_pages(conn, 4))
    conn.close()
    flat = [w for page in pages for w in page]
    assert flat[:-1] == sorted(ADDRESSES, key=str.encode)
    assert isinstance(flat[-1], store.Unreadable) and "blob of 2 bytes" in flat[-1].why


def test_a_run_never_reads_the_whole_wallet_list(tmp_path: Path, monkeypatch) -> None:
    addresses = [f"0xw{i:03d}" for i in range(23)]
    trades = [t for a in addresses[::4] for t in history(a, 12)]
    tables = {"wallets": [wallet(a) for a in addresses], "trades_raw": trades}
    db = build_db(tmp_path / "r.db", tables)

    def whole_list(conn):
        raise AssertionError("the run read the whole wallet list")

    monkeypatch.setattr(store, "active_wallets", whole_list)
    pages: list[int] = []
    walk = store.active_wallet_pages

    def counted(conn, size, after=None):
        for page in walk(conn, size, after):
            pages.append(len(page))
            yield page

    monkeypatch.setattr(store, "active_wallet_pages", counted)
    cfg = pipeline.PersonaConfig(chunk_size=5)
    summary = pipeline.run(pipeline.RunOptions(db_path=db, now=NOW, tasks=0, config=cfg))
    assert summary["total"] == 23 and summary["counters"]["processed"] > 0
    assert pages == [5, 5, 5, 5, 3]
