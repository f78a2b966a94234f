"""Sessions for CI and people: `nox -s tests`, `nox -s validate`, `nox -s lint`, ..."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests", "lint"]
nox.options.reuse_existing_virtualenvs = True

PYPROJECT = nox.project.load_toml("pyproject.toml")


def _install(session: nox.Session, *groups: str) -> None:
    session.install("-e", ".")
    for group in groups:
        session.install(*nox.project.dependency_groups(PYPROJECT, group))


def _python(version: str) -> str:
    """An interpreter for ``version``: on PATH, else one pyenv installed (its shim may be
    inactive); else the bare version, which nox reports as missing."""
    root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    found = [shutil.which(f"python{version}")]
    found += sorted(glob.glob(f"{root}/versions/{version}*/bin/python{version}"), reverse=True)
    for exe in found:
        if exe and subprocess.run([exe, "-c", ""], capture_output=True).returncode == 0:
            return exe
    return version


NEWEST_PYTHON = "3.13"  # requires-python is >= 3.11: the suite runs on the floor and on this


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (slow tests included, as CI runs it)."""
    _install(session, "test")
    session.run("pytest", *session.posargs)


@nox.session(name=f"tests-{NEWEST_PYTHON}", python=_python(NEWEST_PYTHON), default=False)
def tests_newest(session: nox.Session) -> None:
    """The test suite on the newest Python we promise."""
    _install(session, "test")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff (lint and format check) and mypy."""
    _install(session, "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


@nox.session(default=False)
def validate(session: nox.Session) -> None:
    """Validate serial vs parallel on the prod fixture (or: nox -s validate -- --db PATH ...)."""
    _install(session)
    session.run("persona-bench", "validate", *session.posargs)


@nox.session(default=False)
def installed(session: nox.Session) -> None:
    """A non-editable install (pip install .) used from an empty folder: fixture, then validate."""
    session.install(".")
    work = Path(session.create_tmp()).resolve() / "installed"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    with session.chdir(work):  # no source tree in sight: data must come from the package
        session.run("persona-bench", "fixture", "--profile", "tiny", "--out", "tiny.db")
        session.run(
            *("persona-bench", "validate", "--profile", "tiny", "--repeat", "1", "--tasks", "2"),
            *("--cache-dir", str(work / "cache")),
        )


@nox.session(default=False)
def classify(session: nox.Session) -> None:
    """Classify a database: nox -s classify -- --db PATH [--now EPOCH] [--json]."""
    if not session.posargs:
        session.error("Usage: nox -s classify -- --db PATH [--config TOML] [--now EPOCH] [--json]")
    _install(session)
    session.run("persona-bench", "classify", *session.posargs)


@nox.session(default=False)
def report(session: nox.Session) -> None:
    """Re-render a report: the newest reports/*/results.json, or nox -s report -- RESULTS.json."""
    if len(session.posargs) > 1:
        session.error("Usage: nox -s report [-- RESULTS.json]")
    if session.posargs:
        path = session.posargs[0]
    else:
        # newest by modification time: the folder validate wrote last
        found = sorted(Path("reports").glob("*/results.json"), key=lambda p: p.stat().st_mtime)
        if not found:
            session.error("No reports/*/results.json yet: run nox -s validate first")
        path = str(found[-1])
    _install(session)
    session.run("persona-bench", "report", path)


BENCH_ARGS = (
    "benchmarks",
    "--benchmark-only",
    "--benchmark-group-by=group",
    "--benchmark-columns=min,median,max,stddev,rounds",
)


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """pytest-benchmark suite on the prod fixture; JSON saved under .benchmarks/."""
    _install(session, "bench")
    session.run("pytest", *BENCH_ARGS, "--benchmark-autosave", *session.posargs)


@nox.session(default=False)
def bench_gate(session: nox.Session) -> None:
    """The benchmarks, failed when a median is 10% slower than the last saved run (not saved)."""
    _install(session, "bench")
    if not list(Path(".benchmarks").glob("*/*.json")):
        session.error("No saved benchmark run to compare with: run nox -s bench first")
    gate = []
    if not any(a.startswith("--benchmark-compare-fail") for a in session.posargs):
        gate = ["--benchmark-compare", "--benchmark-compare-fail=median:10%"]
    session.run("pytest", *BENCH_ARGS, *gate, *session.posargs)
