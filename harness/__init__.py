"""The validation harness: snapshot a live database, replay a job on copies, compare, measure.

It never imports ``classifier``: it runs a command (``persona-bench classify`` by default, or any
template), so it validates a build written in any language the same way.

    persona_bench.errors.UserError
     └── HarnessError           snapshot, replay or report input is unusable (exit 2)
"""

from __future__ import annotations

from persona_bench.errors import UserError


class HarnessError(UserError):
    """Bad input to the harness: a source that is not a usable database, a bad template, ..."""


__all__ = ["HarnessError"]
