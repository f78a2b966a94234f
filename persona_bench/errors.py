"""The one user-error type and the documented exit codes.

    UserError                 bad input: one line on stderr, exit 2, no traceback
     ├── classifier.ConfigError      a [personas] key is missing, unknown, mistyped, out of range
     ├── classifier.DatabaseError    the database is missing, not SQLite, lacks a table or column
     └── harness.HarnessError        snapshot, replay or report input is unusable

Anything else that escapes ``main`` is a bug and keeps its traceback.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_MISMATCH = 1  # validate: outputs differ; compare: a regression
EXIT_BAD_INPUT = 2


class UserError(Exception):
    """An error in what the user gave us, reported as one line and exit code 2."""

    exit_code = EXIT_BAD_INPUT
