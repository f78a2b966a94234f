"""The verified snapshot that workers read: its identity, checked once per worker process per run.

A worker on another machine must not open the live WAL database: WAL keeps its index in shared
memory, which only processes of one host can share, so a live database read over a network share
can give wrong rows; and a worker that reads another file at the same path silently computes
other rows. So with ``RunOptions.snapshot`` (``classify --snapshot PATH``, required by the Dask
backend) every process that reads the job's inputs (the writer and each worker) reads one closed,
frozen copy, such as ``persona-bench snapshot SRC DEST`` writes; the outputs still go to the
database being classified.

- The writer computes the identity (``identify``): size and sha256 of its copy, checked against
  ``PATH.manifest.json`` when ``persona-bench snapshot`` wrote one, plus a fresh per-run token.
- The job parameters carry it. A worker process checks its own file once per run (``verify``,
  cached by the token, so a long-lived worker serving many runs checks each run again): a file
  whose size or sha256 differs is refused with ``SnapshotMismatch``, naming the path, the host
  and both hashes. Afterwards each job re-stats the file (one ``stat``): a file changed since is
  hashed again.
- The hash is skipped when it cannot tell anything new: a process on the writer's host whose
  file is the very inode the writer hashed, unchanged since (device, inode, size, mtime and
  ctime in nanoseconds: ``ctime`` cannot be set back by a user), is reading the verified bytes.
  So a local pool pays one ``stat`` per job, a remote worker one hash per run.
- The verified file is opened ``mode=ro&immutable=1``: no locks, no ``-shm``, no WAL lookup
  (../shared/NOTES-sqlite.md: ``immutable=1`` is wrong for a live file, fine for a frozen one).
  A snapshot with a non-empty ``-wal`` beside it is live, and refused.

Errors (all ``UserError``: one line, exit 2)::

    DatabaseError
     └── SnapshotError        not a closed snapshot, missing, or unreadable
          └── SnapshotMismatch    the file is not the run's snapshot (other size or sha256)
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from classifier import store
from classifier.store import DatabaseError
from persona_bench.kernel.sqlitefile import check_sqlite_file, sha256_file

MANIFEST_SUFFIX = ".manifest.json"  # what ``persona-bench snapshot SRC DEST`` writes beside DEST

StatKey = tuple[int, int, int, int, int]


class SnapshotError(DatabaseError):
    """The snapshot file is missing, unreadable, or a live database rather than a closed copy."""


class SnapshotMismatch(SnapshotError):
    """A process found another file than the run's snapshot at its path."""


@dataclass(frozen=True, slots=True)
class SnapshotIdentity:
    """What every reader of one run must find at ``path`` (picklable; in ``JobParams``)."""

    path: str  # absolute, symlinks not resolved: each host resolves its own
    size: int
    sha256: str
    token: str  # this run's: the per-process check is cached by it, never by path alone
    host: str  # the writer's host name
    stat_key: StatKey  # the writer's (dev, inode, size, mtime_ns, ctime_ns) of the hashed file


def _stat_key(path: Path) -> StatKey:
    st = path.stat()
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def check_closed(path: Path) -> None:
    """Refuse what is not a closed SQLite snapshot: missing, not SQLite, or live (WAL pages)."""
    check_sqlite_file(path, SnapshotError, "snapshot")
    wal = Path(f"{path}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise SnapshotError(
            f"snapshot {path} has a non-empty {wal.name}: it is a live WAL database, not a "
            "closed snapshot (take one with: persona-bench snapshot SRC DEST)"
        )


def _read_manifest(path: Path) -> tuple[int, str] | None:
    """(size_bytes, sha256) from ``PATH.manifest.json``, or None when there is none."""
    manifest = Path(f"{path}{MANIFEST_SUFFIX}")
    if not manifest.exists():
        return None
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        return int(data["size_bytes"]), str(data["sha256"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SnapshotError(
            f"snapshot manifest {manifest} is unreadable (expected the JSON that "
            f"persona-bench snapshot writes; {type(exc).__name__}: {exc})"
        ) from None


def identify(path: Path) -> SnapshotIdentity:
    """The writer's side: check and hash its copy once; the identity every worker must match."""
    path = Path(os.path.abspath(path))
    check_closed(path)
    key = _stat_key(path)
    digest = sha256_file(path)
    size = key[2]
    expected = _read_manifest(path)
    if expected is not None and expected != (size, digest):
        raise SnapshotMismatch(
            f"snapshot {path} does not match its manifest {path.name}{MANIFEST_SUFFIX}: "
            f"expected sha256 {expected[1]} ({expected[0]} bytes), got {digest} ({size} bytes)"
        )
    identity = SnapshotIdentity(
        str(path), size, digest, secrets.token_hex(8), socket.gethostname(), key
    )
    with _lock:
        _remember(identity.token, key)  # the writer's own reads need no second hash
    return identity


_lock = threading.Lock()  # one check per process and run, whatever the number of threads
_verified: dict[str, StatKey] = {}  # run token -> stat key of the file that matched
_KEEP_RUNS = 4  # runs sharing one long-lived worker at a time, without re-hashing each other out


def verify(identity: SnapshotIdentity) -> None:
    """A worker's side: refuse a file that is not the run's snapshot; hash once per run."""
    path = Path(identity.path)
    with _lock:
        try:
            key = _stat_key(path)
        except OSError as exc:
            raise SnapshotError(
                f"snapshot {path} is missing or unreadable on worker host {socket.gethostname()} "
                f"({exc.strerror}): copy the run's snapshot there first"
            ) from None
        if _verified.get(identity.token) == key:
            return
        if socket.gethostname() == identity.host and key == identity.stat_key:
            _remember(identity.token, key)  # the very file the writer hashed, unchanged
            return
        check_closed(path)
        digest = sha256_file(path)
        if (key[2], digest) != (identity.size, identity.sha256):
            raise SnapshotMismatch(
                f"snapshot {path} on worker host {socket.gethostname()} is not the run's: "
                f"expected sha256 {identity.sha256} ({identity.size} bytes), "
                f"got {digest} ({key[2]} bytes)"
            )
        _remember(identity.token, key)


def _remember(token: str, key: StatKey) -> None:
    """Record a checked file; a long-lived worker keeps the last few runs' entries only."""
    _verified.pop(token, None)
    _verified[token] = key
    while len(_verified) > _KEEP_RUNS:
        del _verified[next(iter(_verified))]  # the oldest run


def open_reader(identity: SnapshotIdentity, busy_timeout: float) -> sqlite3.Connection:
    """A verified snapshot's read-only connection (``immutable=1``: the file is frozen)."""
    verify(identity)
    return store.open_snapshot_reader(Path(identity.path), busy_timeout)


def open_inputs(identity: SnapshotIdentity, busy_timeout: float) -> sqlite3.Connection:
    """The writer's reader on the snapshot, its input tables checked like the database's."""
    conn = open_reader(identity, busy_timeout)
    try:
        store.check_inputs(conn)
    except DatabaseError as exc:
        conn.close()
        raise SnapshotError(f"snapshot {identity.path}: {exc}") from None
    except sqlite3.Error as exc:
        conn.close()
        raise SnapshotError(
            store.describe_sqlite_error(Path(identity.path), exc, busy_timeout)
        ) from None
    return conn


__all__ = [
    "SnapshotError",
    "SnapshotIdentity",
    "SnapshotMismatch",
    "check_closed",
    "identify",
    "open_inputs",
    "open_reader",
    "sha256_file",
    "verify",
]
