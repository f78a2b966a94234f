"""The test suite's one import root: ``tests`` is a package, so every helper is ``tests.NAME``.

``tests/__init__.py`` makes pytest put the repository root (not ``tests/``) on ``sys.path``, so a
helper can only be imported as ``tests.helpers``, ``tests.oracle.random_db``, ... A module
imported under two names runs twice and holds two copies of its state (its classes differ, so
``isinstance`` and ``except`` silently stop matching); the check below refuses such a session
before any test runs, and tests/test_hygiene.py forbids the bare spellings in the source.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OWN = ("benchmarks", "classifier", "fixtures", "harness", "persona_bench", "tests")


def modules_loaded_twice() -> dict[Path, list[str]]:
    """Files of this repository that ``sys.modules`` holds under more than one name."""
    names: dict[Path, list[str]] = {}
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if name == "__main__" or not file:
            continue
        path = Path(file).resolve()
        if path.is_relative_to(ROOT) and path.relative_to(ROOT).parts[0] in OWN:
            names.setdefault(path, []).append(name)
    return {path: sorted(n) for path, n in names.items() if len(n) > 1}


def pytest_collection_finish(session: pytest.Session) -> None:
    twice = modules_loaded_twice()
    if twice:
        listed = "; ".join(f"{p.relative_to(ROOT)} as {' and '.join(n)}" for p, n in twice.items())
        raise pytest.UsageError(f"a module is imported under two names: {listed}")
