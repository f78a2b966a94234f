"""The validation harness: snapshot a live database, replay a job on copies, compare, measure.

It never imports ``classifier``: it runs a command (``persona-bench classify`` by default, or any
template), so it validates a build written in any language the same way.

In the order a validation runs (``validate`` drives them; docs/design.md draws it):

    settings   the command line and the [harness] TOML table -> one frozen ValidateSettings
    targets    named builds: a serial and a parallel command template each
    snapshot   live source (mode=ro, one-step backup) -> verified copy + manifest
    replay     command templates, a fresh copy per run, interleaved rounds, A/A pairs
    workdir    the output folder: allocation, lock, work folder, signals
    measure    wall, CPU and memory of a run's whole process tree, from outside
    inputs     proof that a run left its input tables alone
    compare    output tables row by row, ids included, floats bit-exact
    results    the verdict and the versioned results.json with machine metadata (atomic: writer)
    validate   ``persona-bench validate``: the steps above, in order
    reporting/ analysis, stats, console, document, plots, baseline (compare), report

and, to check the checker: ``selftest`` validates deliberately broken candidates (``canary``).
The fixture databases a validation may start from are written by ``fixtures`` (``validate``
imports it by name, only when a profile is asked for).

    persona_bench.kernel.errors.UserError
     └── HarnessError           snapshot, replay or report input is unusable (exit 2)
"""

from __future__ import annotations

from persona_bench.kernel.errors import UserError


class HarnessError(UserError):
    """Bad input to the harness: a source that is not a usable database, a bad template, ..."""


__all__ = ["HarnessError"]
