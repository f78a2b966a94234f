"""The shared kernel: what the classifier, the harness, the fixture generator and the CLI all use.

    errors       UserError (one line, exit 2), Interrupted, the exit codes, disk_full
    sqlitefile   check a database file before connecting; open one read-only; sha256 of a file
    argtypes     argparse types (integer, seconds, epoch) saying what they expected and got
    __version__  the package version (results.json and the job's metadata record it)

It imports nothing of this project outside itself: the classifier imports it, so it must stay
below the CLI, the harness and the generator (tests/test_hygiene.py checks the layering).
"""

__version__ = "0.1.0"
