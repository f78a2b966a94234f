"""Significance tests behind every claim the harness makes about speed: exact, deterministic.

Two tests, both permutation tests (no distribution assumed, no SciPy, no random seed needed at the
sizes a validation has; above ``EXACT_LIMIT`` arrangements a fixed-seed Monte Carlo is used):

- ``sign_flip_p(y)``: one sample, one-sided. H0: the values are symmetric about 0; the p-value is
  the share of the 2^n sign assignments of ``|y|`` whose sum is at least the observed sum. With n
  values the smallest p it can give is 1 / 2^n, so at ``ALPHA`` = 0.05 a claim needs n >= 5.
- ``two_sample_p(a, b)``: two samples, one-sided. H0: the two groups are exchangeable; the
  p-value is the share of the C(n_a + n_b, n_b) splits whose mean(b) - mean(a) is at least the
  observed one. Its smallest p is 1 / C(n_a + n_b, n_b): 3 values a side reach 0.05.

``harness.reporting.analysis`` applies them to log ratios of wall times, shifted by the A/A noise
(and the baseline's threshold), so a claim says "beyond the noise at this confidence", not
"above 1".
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence

ALPHA = 0.05
EXACT_LIMIT = 1 << 16  # arrangements enumerated exactly; beyond, a seeded Monte Carlo
MONTE_CARLO_DRAWS = 1 << 16
SEED = 13
_TOL = 1e-12  # sums equal up to rounding count as "at least as extreme"


def sign_flip_p(values: Sequence[float]) -> float:
    """Exact one-sided p-value that ``values`` are centred above 0 (1.0 for no values)."""
    y = [float(v) for v in values]
    n = len(y)
    if n == 0:
        return 1.0
    observed = math.fsum(y)
    mags = [abs(v) for v in y]
    if 2**n <= EXACT_LIMIT:
        hits = sum(
            1
            for signs in itertools.product((1.0, -1.0), repeat=n)
            if math.fsum(s * m for s, m in zip(signs, mags, strict=True)) >= observed - _TOL
        )
        return hits / 2**n
    rng = random.Random(SEED)
    hits = 1 + sum(
        1
        for _ in range(MONTE_CARLO_DRAWS)
        if math.fsum(m if rng.random() < 0.5 else -m for m in mags) >= observed - _TOL
    )
    return hits / (MONTE_CARLO_DRAWS + 1)


def two_sample_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Exact one-sided p-value that ``b`` is centred above ``a`` (1.0 when a side is empty)."""
    if not a or not b:
        return 1.0
    pooled = [float(v) for v in (*a, *b)]
    n, k = len(pooled), len(b)
    total = math.fsum(pooled)

    def diff(b_sum: float) -> float:
        return b_sum / k - (total - b_sum) / (n - k)

    observed = diff(math.fsum(b))
    if math.comb(n, k) <= EXACT_LIMIT:
        splits = itertools.combinations(range(n), k)
        hits = sum(
            1 for idx in splits if diff(math.fsum(pooled[i] for i in idx)) >= observed - _TOL
        )
        return hits / math.comb(n, k)
    rng = random.Random(SEED)
    hits = 1 + sum(
        1
        for _ in range(MONTE_CARLO_DRAWS)
        if diff(math.fsum(rng.sample(pooled, k))) >= observed - _TOL
    )
    return hits / (MONTE_CARLO_DRAWS + 1)


def sign_flip_min_n(alpha: float = ALPHA) -> int:
    """The fewest values with which ``sign_flip_p`` can reach ``alpha`` (5 at 0.05)."""
    return max(1, math.ceil(math.log2(1 / alpha)))


def two_sample_min_n(alpha: float = ALPHA) -> int:
    """The fewest values a side with which ``two_sample_p`` can reach ``alpha`` (3 at 0.05)."""
    k = 1
    while 1 / math.comb(2 * k, k) > alpha:
        k += 1
    return k


def two_sample_can_reach(n_a: int, n_b: int, alpha: float = ALPHA) -> bool:
    """Whether groups of these sizes can give p <= ``alpha`` at all."""
    return n_a > 0 and n_b > 0 and 1 / math.comb(n_a + n_b, n_b) <= alpha


__all__ = [
    "ALPHA",
    "sign_flip_min_n",
    "sign_flip_p",
    "two_sample_can_reach",
    "two_sample_min_n",
    "two_sample_p",
]
