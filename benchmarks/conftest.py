"""Shared fixtures of the benchmark suite (``nox -s bench``; never under xdist)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fixtures.generator import ensure_fixture
from persona_bench.kernel.sqlitefile import connect_ro


@pytest.fixture(scope="session")
def prod_db() -> tuple[Path, int]:
    """The cached prod fixture (generated on first use) and its reference now."""
    path = ensure_fixture("prod")
    conn = connect_ro(path)
    (now,) = conn.execute("SELECT value FROM persona_bench_meta WHERE key = 'now'").fetchone()
    conn.close()
    return path, int(now)


@pytest.fixture
def fresh_copy(prod_db: tuple[Path, int], tmp_path: Path) -> Callable[[], tuple[Any, Any]]:
    """A pedantic ``setup``: every round classifies its own fresh copy of prod."""
    src, _ = prod_db

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        dst = tmp_path / "run.db"
        for old in tmp_path.glob("run.db*"):
            old.unlink()
        shutil.copyfile(src, dst)
        fd = os.open(dst, os.O_RDONLY)  # no writeback of the copy during the timed run
        os.fsync(fd)
        os.close(fd)
        return (dst,), {}

    return setup
