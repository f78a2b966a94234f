"""The validation harness: snapshot a live database, replay a job on copies, compare, measure.

It never imports ``classifier``: it runs a command (``persona-bench classify`` by default, or any
template), so it validates a build written in any language the same way.

    snapshot   live source (mode=ro, one-step backup) -> verified copy + manifest
    replay     command templates, a fresh copy per run, interleaved rounds, A/A pairs
    measure    wall, CPU and memory of a run's whole process tree, from outside
    compare    output tables row by row, ids included, floats bit-exact
    results    versioned results.json with machine metadata; validate, console, settings
    analysis   statistics and the recommendation; document, plots, report; baseline (compare)
    fixture    deterministic production-shaped databases (profiles, archetypes, draft)
    canary     deliberately broken candidates; selftest

    persona_bench.errors.UserError
     └── HarnessError           snapshot, replay or report input is unusable (exit 2)
"""

from __future__ import annotations

from persona_bench.errors import UserError


class HarnessError(UserError):
    """Bad input to the harness: a source that is not a usable database, a bad template, ..."""


__all__ = ["HarnessError"]
