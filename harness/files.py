"""Files the harness writes for people: whole or not at all.

``write_text`` writes a temporary file beside the target, flushes it to disk and renames it over
the target, so a reader (or a crash, or a full disk) never leaves half a ``results.json`` or
``report.md``; the temporary file is removed on every way out.
"""

from __future__ import annotations

import os
from pathlib import Path

from harness import HarnessError


def write_text(path: Path, text: str, error: type[HarnessError] = HarnessError) -> Path:
    """Write ``text`` to ``path`` atomically; an ``OSError`` becomes ``error`` (one line)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())  # the rename must not land before the bytes do
        tmp.replace(path)
    except OSError as exc:
        raise error(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


__all__ = ["write_text"]
