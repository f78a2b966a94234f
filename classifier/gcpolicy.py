"""Fewer garbage collections while the job runs (a process-wide setting, hence restorable).

A run allocates a tuple per window trade read and per row written, hundreds of thousands of
them, none ever part of a reference cycle; at CPython's default the youngest generation is
collected every 700 allocations and every object alive since start-up is traversed again at
each full collection. Freezing what is alive when the run starts (modules, config) takes it out
of every later collection; a higher first threshold makes collections rarer.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 10_000  # CPython's default is 700


def apply() -> None:
    """For a process that runs only the job (a feature worker): freeze and raise, for good."""
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *gc.get_threshold()[1:])


@contextmanager
def few_collections() -> Iterator[None]:
    """Within the block, ``apply()``; the caller's thresholds and generations come back after."""
    saved = gc.get_threshold()
    apply()
    try:
        yield
    finally:
        gc.set_threshold(*saved)
        gc.unfreeze()
