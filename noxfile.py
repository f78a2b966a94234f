"""Sessions for CI and people: `nox -s tests`, `nox -s validate`, `nox -s lint`, ..."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests", "lint"]
nox.options.reuse_existing_virtualenvs = True

PYPROJECT = nox.project.load_toml("pyproject.toml")


def _install(session: nox.Session, *groups: str) -> None:
    session.install("-e", ".")
    for group in groups:
        session.install(*nox.project.dependency_groups(PYPROJECT, group))


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (slow tests included, as CI runs it)."""
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
def classify(session: nox.Session) -> None:
    """Classify a database: nox -s classify -- --db PATH [--now EPOCH] [--json]."""
    if not session.posargs:
        session.error("Usage: nox -s classify -- --db PATH [--config TOML] [--now EPOCH] [--json]")
    _install(session)
    session.run("persona-bench", "classify", *session.posargs)
