"""Benchmarks of the fixture generator (pytest-benchmark; a fresh output file every round).

    python3 -m pytest benchmarks/test_bench_fixture.py --benchmark-only

Never under xdist: the rounds would compete for the same two cores.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fixtures.generator import generate


def _fresh(folder: Path, profile: str) -> Callable[[], tuple[tuple[Any, ...], dict[str, Any]]]:
    """A pedantic ``setup``: a new output path per round, the previous round's file deleted."""
    counter = itertools.count()

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        for old in folder.glob(f"{profile}-*.db*"):
            old.unlink()
        return (folder / f"{profile}-{next(counter)}.db", profile), {}

    return setup


def test_bench_generate_tiny(benchmark: Any, tmp_path: Path) -> None:
    """Writing the tiny profile (~200 wallets, ~60k trades)."""
    benchmark.group = "fixture"
    benchmark.extra_info.update(profile="tiny")
    meta = benchmark.pedantic(generate, setup=_fresh(tmp_path, "tiny"), rounds=5, iterations=1)
    assert meta["profile"] == "tiny"


@pytest.mark.slow
def test_bench_generate_prod(benchmark: Any, tmp_path: Path) -> None:
    """Writing the prod profile (17,687 wallets, ~1.5M trades, ~1 GB); issue 4 allows 60 s."""
    benchmark.group = "fixture"
    benchmark.extra_info.update(profile="prod")
    meta = benchmark.pedantic(generate, setup=_fresh(tmp_path, "prod"), rounds=3, iterations=1)
    assert int(meta["rows"].split("trades_raw ")[1].split(",")[0]) > 1_000_000
