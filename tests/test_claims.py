"""Claims about speed hold statistically: the four cases of issue 13, on synthetic results.

Synthetic results (``tests.synthetic``) fix every wall, so each case's answer is known; the
console summary and the report are rendered from the same analysis and must agree.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from harness.reporting import report
from harness.reporting.analysis import analyse
from harness.reporting.baseline import compare_results, render_comparison
from harness.reporting.console import summary_table
from harness.reporting.stats import (
    sign_flip_min_n,
    sign_flip_p,
    two_sample_can_reach,
    two_sample_min_n,
    two_sample_p,
)
from tests.synthetic import synthetic_results


def _claims(results: dict[str, Any], tmp_path: Path) -> tuple[Any, str, str]:
    """(analysis, console summary, report text) of the same results."""
    a = analyse(results)
    return a, summary_table(a), report.render_report(a, tmp_path).read_text()


def _row(text: str, label: str) -> str:
    return next(line for line in text.splitlines() if line.lstrip("| ").startswith(label + " "))


def test_a_real_gain_is_claimed_with_its_test(tmp_path: Path) -> None:
    """Five rounds, every round 1.3x to 1.6x faster than its serial pair against 3% noise: gain."""
    serial = [(20.0, 20.6), (21.0, 20.4), (19.8, 20.4), (20.2, 20.8), (20.5, 19.9)]
    results = synthetic_results(serial=serial, parallel={4: [15.0, 13.0, 14.5, 12.9, 13.6]})
    a, console, text = _claims(results, tmp_path)
    claim = a.parallel[0].claim
    assert claim is not None and claim.effect == "gain"
    assert claim.p_gain == pytest.approx(1 / 32)  # every round beyond the noise: 1 of 2^5
    assert a.recommendation.kind == "deploy" and a.recommendation.tasks == 4
    assert "gain (p = 0.031, 5 rounds)" in _row(console, "tasks=4")
    assert "gain (p = 0.031, 5 rounds)" in _row(text, "tasks=4")
    assert "exact sign-flip permutation test" in text  # the method is named in the report


def test_a_gain_inside_the_noise_is_not_claimed(tmp_path: Path) -> None:
    """A steady 5% gain against a 10% A/A noise, over five rounds: no measurable difference."""
    results = synthetic_results(serial=[(20.0, 22.0)] * 5, parallel={4: [20.0] * 5})
    a, console, text = _claims(results, tmp_path)
    c = a.parallel[0]
    assert c.speedup is not None and c.speedup > 1.04
    assert c.effect == "none"
    assert a.recommendation.kind == "keep_serial"
    assert "no measurable difference" in _row(console, "tasks=4")
    assert "no measurable difference" in _row(text, "tasks=4")


def test_one_round_is_not_enough_to_tell(tmp_path: Path) -> None:
    """The issue's case: one round, 27.6% A/A noise, 1.49x: not a gain, 'not enough rounds'."""
    results = synthetic_results(serial=[(20.0, 25.52)], parallel={8: [15.1]})
    a, console, text = _claims(results, tmp_path)
    c = a.parallel[0]
    assert a.noise.rel == pytest.approx(0.276)
    assert c.speedup is not None and c.speedup > 1.45
    assert c.effect == "too_few_rounds" and c.claim is not None and c.claim.needed == 5
    assert a.recommendation.kind == "too_few_rounds"
    assert "not enough rounds to tell (run --repeat 5 or more)" in a.recommendation.headline
    assert "not enough rounds to tell (1 of 5 needed)" in _row(console, "tasks=8")
    assert "not enough rounds to tell (1 of 5 needed)" in _row(text, "tasks=8")
    assert "**Rounds:** ❌ 1 paired round(s); a claim needs at least 5" in text


def test_noisy_aa_pairs_give_one_noise_figure_and_no_claim(tmp_path: Path) -> None:
    """Noisy A/A pairs: console and report show the same noise, and a gain inside it is none.

    The pairs are 10%, 5% and 2% apart: the old console (worst round, |a - b| / mean) said 9.5%
    where the report (median round, |a - b| / min) said 5.0%; now both say 5.0%.
    """
    serial = [(10.0, 11.0), (10.0, 10.5), (10.2, 10.0), (10.0, 10.5), (10.2, 10.0)]
    results = synthetic_results(serial=serial, parallel={2: [9.9, 9.6, 10.0, 9.7, 9.8]})
    a, console, text = _claims(results, tmp_path)
    assert a.noise.rel == pytest.approx(0.05)
    assert "min(a, b)): 5.0%" in console
    assert "**Noise floor: ±5.0%**" in text
    assert a.parallel[0].effect == "none"  # about 4% faster: inside the 5% noise
    assert a.recommendation.kind == "keep_serial"


def test_a_regression_at_one_round_is_not_enough_runs_to_tell() -> None:
    """The baseline gate claims no regression from one run a side, however slow."""
    old = synthetic_results(serial=[(20.0, 20.2)], parallel={4: [11.0]})
    new = synthetic_results(serial=[(20.0, 20.2)], parallel={4: [16.0]})
    comparison = compare_results(old, new)
    row = next(c for c in comparison.configs if c.label == "tasks=4")
    assert row.change == "too_few" and not comparison.regressed
    assert "not enough runs to tell (a test needs 3 a side)" in render_comparison(comparison)


def test_sign_flip_p_is_exact() -> None:
    """Exact p-values of the sign-flip test on known samples."""
    assert sign_flip_p([1.0, 2.0, 3.0, 4.0, 5.0]) == 1 / 32
    assert sign_flip_p([1.0, 2.0, 3.0, 4.0, -0.5]) == 2 / 32  # the small negative can flip
    assert sign_flip_p([-1.0, -2.0, -3.0]) == 1.0
    assert sign_flip_p([]) == 1.0
    assert sign_flip_min_n(0.05) == 5 and sign_flip_min_n(0.01) == 7


def test_two_sample_p_is_exact() -> None:
    """Exact p-values of the two-sample permutation test on known samples."""
    assert two_sample_p([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]) == 1 / 20
    assert two_sample_p([4.0, 5.0, 6.0], [1.0, 2.0, 3.0]) == 1.0
    assert two_sample_p([1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]) == 1 / 70
    assert two_sample_min_n(0.05) == 3
    assert two_sample_can_reach(3, 3) and not two_sample_can_reach(2, 2)


def test_large_samples_use_a_seeded_monte_carlo_that_repeats() -> None:
    """Above the exact limit the p-value is a fixed-seed estimate: the same every time."""
    values = [math.sin(i) + 0.3 for i in range(24)]  # 2^24 sign assignments: sampled
    first, second = sign_flip_p(values), sign_flip_p(values)
    assert first == second
    assert 0.0 < first < 0.05  # a clear positive shift
