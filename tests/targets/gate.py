#!/usr/bin/env python3
"""Hold a replayed run until a live writer has committed N more batches than its snapshot holds.

    gate.py COPY PROGRESS ALLOWED N -- COMMAND...

COPY is the run's copy of the snapshot (``{db}``): its ``batch_log`` says how many of the
writer's batches the snapshot holds (S). The gate allows the writer (``wal_writer.py
--allowed``) S + N batches, waits until its ``--progress`` file says it committed them, then
becomes COMMAND (``exec``). So the writer provably commits N transactions after the snapshot,
while the validation's runs are under way: an overlap by progress, not by time.
"""

import os
import sqlite3
import sys
import time
from pathlib import Path

POLL_S = 0.005


def main() -> int:
    """Read S from the copy, allow and await S + N batches, run the command."""
    copy, progress, allowed, n = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
    command = sys.argv[sys.argv.index("--") + 1 :]
    conn = sqlite3.connect(Path(copy).resolve().as_uri() + "?mode=ro&immutable=1", uri=True)
    (snapshot_batches,) = conn.execute("SELECT count(*) FROM batch_log").fetchone()
    conn.close()
    target = snapshot_batches + n
    tmp = allowed.with_name(allowed.name + f".{os.getpid()}")
    tmp.write_text(str(max(target, int(allowed.read_text()))))
    os.replace(tmp, allowed)
    while int(progress.read_text() or 0) < target:
        time.sleep(POLL_S)  # a poll for the writer's progress; nothing depends on its length
    os.execv(command[0], command)
    return 127


if __name__ == "__main__":
    sys.exit(main())
