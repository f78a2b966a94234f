"""A full disk (or a read-only one) under validate, snapshot, fixture and report: one line, exit 2.

The small disk is real: a tmpfs of a few KiB mounted, in a private mount namespace
(``unshare --mount``; with ``--user --map-root-user`` when not root), only for the command under
test, so nothing is mounted on the machine and nothing outlives the test. Writes fail with ENOSPC
(SQLite: SQLITE_FULL) exactly as on a full production disk. What the command leaves on the small
disk is copied out before the namespace ends, and checked: no half-written file may stay.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.harness_support import NOW, make_db, toy_template

# run "$@" on a tmpfs mounted at $2 with options $1, then copy what it left there to $3
SCRIPT = (
    'mount -t tmpfs -o "$1" tmpfs "$2" || exit 97; mnt=$2; saved=$3; shift 3; "$@"; rc=$?; '
    'cp -a "$mnt" "$saved" || exit 98; exit $rc'
)
IGNORE = ("--ignore-column", "job_status.duration_ms")


def on_small_disk(
    tmp_path: Path, options: str, *args: str
) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    """Run ``persona-bench ARGS`` with ``{small}`` in them on a tmpfs; (process, mount, copy)."""
    mount, saved = tmp_path / "small", tmp_path / "left-on-small-disk"
    mount.mkdir()
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    argv = [str(a).replace("{small}", str(mount)) for a in args]
    proc = subprocess.run(
        [
            *("unshare", "--mount", "--propagation", "private", *user),
            *("sh", "-c", SCRIPT, "sh", options, str(mount), str(saved)),
            *(sys.executable, "-m", "persona_bench", *argv),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode not in (97, 98), proc.stderr  # the small disk itself worked
    return proc, mount, saved


def _one_line_exit_2(proc: subprocess.CompletedProcess[str], command: str, *said: str) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith(f"persona-bench {command}: error: "), proc.stderr
    for text in said:
        assert text in line, line
    return line


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A small production-shaped source (about 100 KiB) on the ordinary disk."""
    return make_db(tmp_path / "source.db", wallets=200)


def _kib(path: Path, times: float) -> str:
    return f"size={int(path.stat().st_size * times) // 4096 * 4}k"


@pytest.mark.parametrize(
    ("times", "said"),
    [
        (0.5, "cannot write snapshot"),  # the snapshot does not fit
        (1.5, "cannot copy the snapshot to"),  # the snapshot fits, a run's copy does not
    ],
    ids=["snapshot", "run-copy"],
)
def test_validate_on_a_full_disk_says_so_in_one_line_and_leaves_no_work_folder(
    source: Path, tmp_path: Path, times: float, said: str
) -> None:
    """Exit 2, one line naming what could not be written, the .work folder removed."""
    proc, _, saved = on_small_disk(
        tmp_path,
        _kib(source, times),
        *("validate", "--db", str(source), "--out", "{small}/out"),
        *("--serial-cmd", toy_template(), "--parallel-cmd", toy_template()),
        *("--tasks", "2", "--repeat", "1", "--now", str(NOW), *IGNORE),
    )
    line = _one_line_exit_2(proc, "validate", said)
    assert "full" in line or "No space left" in line
    assert _files(saved) == []  # no snapshot, no copy, no partial results


def test_snapshot_on_a_full_disk_leaves_nothing(source: Path, tmp_path: Path) -> None:
    """The snapshot command: one line, and no partial copy or manifest."""
    proc, _, saved = on_small_disk(
        tmp_path, _kib(source, 0.5), "snapshot", str(source), "{small}/snap.db"
    )
    _one_line_exit_2(proc, "snapshot", "cannot write snapshot", "full")
    assert _files(saved) == []


@pytest.mark.parametrize(
    ("options", "dest", "said"),
    [
        ("ro,size=1m", "{small}/snap.db", "unable to open database file"),  # read-only disk
        ("size=1m", "{small}/" + "x" * 300 + ".db", "File name too long"),
    ],
    ids=["read-only", "name-too-long"],
)
def test_a_snapshot_destination_that_cannot_be_written_is_one_line(
    source: Path, tmp_path: Path, options: str, dest: str, said: str
) -> None:
    """Not a traceback: the destination is named with the reason."""
    proc, _, saved = on_small_disk(tmp_path, options, "snapshot", str(source), dest)
    _one_line_exit_2(proc, "snapshot", "cannot write snapshot", said)
    assert _files(saved) == []


def test_fixture_on_a_full_disk_leaves_no_partial_database(tmp_path: Path) -> None:
    """The generator writes under a temporary name: on a full disk, nothing stays."""
    proc, _, saved = on_small_disk(
        tmp_path, "size=1m", "fixture", "--profile", "tiny", "--out", "{small}/tiny.db"
    )
    _one_line_exit_2(proc, "fixture", "cannot write", "tiny.db")
    assert _files(saved) == []


@pytest.fixture
def results(source: Path, tmp_path: Path) -> Path:
    """A real results.json of a green validation (on the ordinary disk)."""
    out = tmp_path / "validated"
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "persona_bench", "validate", "--db", str(source)),
            *("--serial-cmd", toy_template(), "--parallel-cmd", toy_template(), "--tasks", "2"),
            *("--repeat", "1", "--now", str(NOW), "--out", str(out), *IGNORE),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return out / "results.json"


def _png_whole(path: Path) -> bool:
    data = path.read_bytes()
    return data.startswith(b"\x89PNG\r\n\x1a\n") and data.endswith(b"IEND\xaeB`\x82")


@pytest.mark.parametrize("room", [0, 24], ids=["no-room-for-results", "no-room-for-plots"])
def test_report_on_a_full_disk_leaves_no_partial_file(
    results: Path, tmp_path: Path, room: int
) -> None:
    """results.json is whole or absent, plots are whole or absent, no temporary file stays."""
    size = (results.stat().st_size // 4096 + 1) * 4 + room if room else 4
    proc, _, saved = on_small_disk(
        tmp_path, f"size={size}k", "report", str(results), "--out", "{small}/report"
    )
    _one_line_exit_2(proc, "report", "cannot write")
    left = _files(saved)
    assert all(name.endswith((".json", ".png")) for name in left), left  # no .tmp, no report.md
    if "report/results.json" in left:
        copy: Any = json.loads((saved / "report" / "results.json").read_text())
        assert copy == json.loads(results.read_text())
    else:
        assert room == 0
    for png in saved.rglob("*.png"):
        assert _png_whole(png), png
    shutil.rmtree(saved)
