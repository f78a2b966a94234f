"""The check made before connecting to a database file we were given, and the read-only connect.

``sqlite3.connect()`` creates a missing file and sees an empty one as an empty database, and its
errors only surface at the first statement; so the file is checked first, without opening it.
``connect_ro`` is the one way this project opens a file it must not change. The file's sha256,
which names a snapshot, is here too: the harness and the classifier both need it.
"""

from __future__ import annotations

import hashlib
import sqlite3
import struct
from pathlib import Path
from typing import Any

from persona_bench.kernel.errors import UserError

HEADER = b"SQLite format 3\x00"


def check_sqlite_file(path: Path, error: type[UserError], what: str = "database") -> int:
    """Raise ``error`` unless ``path`` is a whole SQLite file; return its page size."""
    if not path.exists():
        raise error(f"{what} {path} does not exist")
    if path.is_dir():
        raise error(f"{what} {path} is a directory (expected a SQLite file)")
    try:
        with path.open("rb") as fh:
            header = fh.read(100)
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror}") from None
    size = path.stat().st_size
    if size == 0:
        raise error(f"{what} {path} is an empty file (expected a SQLite database)")
    if len(header) < 100 or header[:16] != HEADER:
        raise error(f"{what} {path} is not a SQLite database (bad header)")
    (raw_page_size,) = struct.unpack(">H", header[16:18])
    page_size = 65536 if raw_page_size == 1 else raw_page_size
    if page_size < 512 or page_size & (page_size - 1):
        raise error(f"{what} {path} is not a SQLite database (page size {raw_page_size})")
    # the in-header page count is valid when "version-valid-for" equals the change counter
    (change_counter,) = struct.unpack(">I", header[24:28])
    (pages,) = struct.unpack(">I", header[28:32])
    (valid_for,) = struct.unpack(">I", header[92:96])
    if size % page_size or (valid_for == change_counter and size < pages * page_size):
        raise error(
            f"{what} {path} is truncated ({size} bytes, header says {pages} pages of {page_size})"
        )
    return page_size


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def connect_ro(path: Path | str, *, immutable: bool = False, **kwargs: Any) -> sqlite3.Connection:
    """A connection that can never create, write or checkpoint ``path``: ``file:PATH?mode=ro``.

    The path is made absolute and URI-quoted (``as_uri``), so a name with ``?``, ``#`` or ``%``
    opens that file. ``immutable``: the file promises not to change while open (a verified copy),
    so SQLite takes no locks and reads no ``-wal``. ``kwargs`` go to ``sqlite3.connect``.
    """
    suffix = "?mode=ro&immutable=1" if immutable else "?mode=ro"
    return sqlite3.connect(Path(path).resolve().as_uri() + suffix, uri=True, **kwargs)
