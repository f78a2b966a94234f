"""The versioned ``results.json`` of a validation: metadata, settings, runs and the verdict.

The schema is documented in ``docs/contracts.md`` (``SCHEMA_VERSION``); ``harness.report`` and
``harness.baseline`` read it. Results carry their context (machine, Python, SQLite, package
version, git commit) so that figures from two machines are never compared unknowingly.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import sqlite3
import subprocess
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from harness import HarnessError
from harness.files import write_text
from persona_bench import __version__

SCHEMA_VERSION = 1
KIND = "persona-bench.validate"
REPO = Path(__file__).resolve().parents[1]
MAX_MISMATCHES = 20  # runs listed in verdict.mismatches; every run keeps its own diff


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_state(repo: Path = REPO) -> tuple[str | None, bool | None]:
    """(commit, has local changes) of the harness's own checkout; (None, None) outside git."""
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None, None
    return head or None, bool(status)


def collect_metadata() -> dict[str, Any]:
    """The machine and software the results come from."""
    commit, dirty = git_state()
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_bytes": psutil.virtual_memory().total,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "package_version": __version__,
        "git_commit": commit,
        "git_dirty": dirty,
    }


def now_iso() -> str:
    """The current UTC time as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_verdict(runs: Sequence[Mapping[str, Any]], reference: str) -> dict[str, Any]:
    """Identical only when every run completed and matched the reference."""
    failed = [r for r in runs if r.get("failed")]
    mismatched = [r for r in runs if not r.get("failed") and r.get("identical") is False]
    serial_mismatch = any(r.get("mode") == "serial" for r in mismatched)
    return {
        "identical": bool(runs) and not failed and not mismatched,
        "reference": reference,
        "failed_runs": len(failed),
        "mismatched_runs": len(mismatched),
        # the serial path disagreeing with itself: the job is not deterministic at all
        "nondeterministic": serial_mismatch,
        "mismatches": [
            {"label": r["label"], "round": r["round"], "tables": r.get("diff") or {}}
            for r in mismatched[:MAX_MISMATCHES]
        ],
    }


def build_results(
    *,
    name: str,
    settings: Mapping[str, Any],
    snapshot: Mapping[str, Any],
    runs: Sequence[Mapping[str, Any]],
    reference: str,
    metadata: Mapping[str, Any] | None = None,
    created_at: str | None = None,
) -> dict[str, Any]:
    """The whole results document, in the documented key order."""
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": KIND,
        "name": name,
        "created_at": created_at or now_iso(),
        "metadata": dict(metadata) if metadata is not None else collect_metadata(),
        "settings": dict(settings),
        "snapshot": dict(snapshot),
        "runs": [dict(r) for r in runs],
        "verdict": build_verdict(runs, reference),
    }


def write_results(results: Mapping[str, Any], path: Path) -> Path:
    """Write ``results`` atomically (a reader never sees half a file, a full disk leaves none)."""
    return write_text(path, json.dumps(results, indent=2) + "\n")


def read_results(path: Path) -> dict[str, Any]:
    """Read a results file written by ``validate``; a wrong kind or version is refused."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HarnessError(f"{path}: no such results file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HarnessError(f"{path}: not a readable results.json ({exc})") from None
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise HarnessError(f"{path}: not a persona-bench validate results file")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise HarnessError(
            f"{path}: schema_version {data.get('schema_version')!r}, expected {SCHEMA_VERSION}"
        )
    return data


__all__ = [
    "KIND",
    "SCHEMA_VERSION",
    "build_results",
    "build_verdict",
    "collect_metadata",
    "git_state",
    "read_results",
    "write_results",
]
