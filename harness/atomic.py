"""The harness's one atomic file writer: a reader sees the old file or the new one, never half.

Every file the harness writes for people or other tools (``results.json``, ``report.md``,
``comparison.md``, a snapshot's manifest) goes through ``write_text``: the text is written to a
temporary file in the same folder, flushed to disk (``fsync``), renamed over the target, and the
folder itself is flushed so the rename survives a power cut.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from harness import HarnessError


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; an OSError becomes one ``HarnessError``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise HarnessError(f"cannot write {path}: {exc.strerror or exc}") from None
    with contextlib.suppress(OSError):  # a folder that cannot be opened read-only: best effort
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return path


__all__ = ["write_text"]
