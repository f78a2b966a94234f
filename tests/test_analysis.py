"""Statistics of a validation (reporting.analysis) on hand-made results with known numbers."""

from __future__ import annotations

from typing import Any

import pytest

from harness.reporting.analysis import analyse
from harness.results import ResultsError
from persona_bench.kernel.errors import EXIT_BAD_INPUT
from tests.synthetic import synthetic_results

# serial A/A pairs 1% apart in every round: the noise floor is 1%; 5 rounds, the fewest with
# which the sign-flip test can support a claim
ROUNDS = 5
STEADY = [(20.0, 20.2)] * ROUNDS


def _results(**kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("serial", STEADY)
    return synthetic_results(**kwargs)


def _config(results: dict[str, Any], label: str) -> Any:
    return next(c for c in analyse(results).parallel if c.label == label)


def test_clear_gain_recommends_smallest_task_count_within_noise_of_best() -> None:
    """Two tasks within the noise of the fastest (four) are recommended: same speed, fewer tasks."""
    a = analyse(_results(parallel={2: [12.0] * 5, 4: [11.95] * 5, 8: [14.0] * 5}))
    assert a.noise.rel == pytest.approx(0.01)
    assert a.recommendation.kind == "deploy"
    assert a.recommendation.tasks == 2
    assert "parallel_tasks = 2" in a.recommendation.headline


def test_clear_gain_recommends_fastest_when_others_are_beyond_noise() -> None:
    """When the fastest is faster than the others beyond the noise, it is the one to deploy."""
    a = analyse(_results(parallel={2: [15.0] * 5, 4: [12.0] * 5, 8: [13.0] * 5}))
    assert a.recommendation.tasks == 4
    assert a.best is not None and a.best.label == "tasks=4"


def test_recommendation_carries_peak_memory_of_chosen_configuration() -> None:
    """The memory a recommendation needs is the largest peak PSS of the chosen runs."""
    results = _results(parallel={2: [12.0] * 5, 4: [11.0] * 5})
    runs = [r for r in results["runs"] if r["label"] == "tasks=4"]
    for i, run in enumerate(runs):
        run["peak_pss_bytes"] = 100 + i
    assert analyse(results).recommendation.memory_bytes == 100 + len(runs) - 1


def test_gain_inside_noise_keeps_serial() -> None:
    """A 5% gain against a 10% A/A noise is no measurable difference: keep parallel disabled."""
    results = _results(serial=[(20.0, 22.0)] * 5, parallel={2: [20.0] * 5, 4: [20.2] * 5})
    a = analyse(results)
    assert a.noise.rel == pytest.approx(0.10)
    assert {c.effect for c in a.parallel} == {"none"}
    assert a.recommendation.kind == "keep_serial"
    assert a.recommendation.headline == "keep parallel_enabled = false"
    assert a.recommendation.tasks is None
    # the reason states the finding once, with the test's p-value
    assert a.recommendation.reasons[0].count("no measurable difference") == 1
    assert "(p = " in a.recommendation.reasons[0]


def test_parallel_slower_keeps_serial() -> None:
    """Parallel runs slower than serial beyond the noise: keep parallel disabled, say slower."""
    a = analyse(_results(parallel={2: [26.0] * 5, 4: [30.0] * 5}))
    assert {c.effect for c in a.parallel} == {"slower"}
    assert a.recommendation.kind == "keep_serial"
    assert "slower" in a.recommendation.reasons[0]


def test_mismatch_never_recommends_and_names_the_table() -> None:
    """Outputs that differ forbid any recommendation, however fast parallel ran."""
    a = analyse(_results(parallel={2: [12.0] * 5, 4: [11.0] * 5}, mismatch="tasks=4"))
    assert a.red
    assert a.recommendation.kind == "do_not_deploy"
    assert a.recommendation.headline == "do not deploy: outputs differ"
    assert a.recommendation.tasks is None
    assert any(
        "tasks=4" in r and "wallet_exclusions: 1 differ" in r for r in a.recommendation.reasons
    )
    assert not next(c for c in a.parallel if c.label == "tasks=4").identical
    assert next(c for c in a.parallel if c.label == "tasks=2").identical


def test_failed_run_never_recommends_and_is_left_out_of_the_figures() -> None:
    """A failed run forbids a recommendation and its wall time counts in no median."""
    results = _results(
        serial=STEADY[:3], parallel={2: [12.0, 13.0, 14.0], 4: [11.0] * 3}, fail="tasks=2"
    )
    a = analyse(results)
    assert a.recommendation.kind == "do_not_deploy"
    assert "1 run(s) failed" in a.recommendation.headline
    assert [r.label for r in a.failed_runs] == ["tasks=2"]
    c = _config(results, "tasks=2")
    assert (c.failed, c.wall.n if c.wall else None) == (1, 2)
    assert c.wall is not None and c.wall.median == pytest.approx(13.5)


def test_noise_is_median_over_rounds_of_the_aa_difference() -> None:
    """Noise = median over rounds of |a - b| / min(a, b) of the serial A/A pair."""
    a = analyse(
        _results(serial=[(10.0, 11.0), (10.0, 10.5), (10.2, 10.0)], parallel={2: [6.0] * 3})
    )
    assert a.noise.per_round == pytest.approx((0.10, 0.05, 0.02))
    assert a.noise.rel == pytest.approx(0.05)
    assert a.noise.serial is not None
    assert (a.noise.serial.low, a.noise.serial.high) == (10.0, 11.0)


def test_noise_unknown_without_a_complete_pair() -> None:
    """Without a serial-b run the noise is not measured and verdicts use a band of 0."""
    results = _results(parallel={2: [12.0] * 5})
    results["runs"] = [r for r in results["runs"] if r["label"] != "serial-b"]
    a = analyse(results)
    assert a.noise.rel is None
    assert a.noise.band == 0.0
    assert a.recommendation.kind == "deploy"


def test_speedup_range_is_serial_median_over_each_rounds_wall() -> None:
    """The speed-up's range is the serial median over each run's wall, and holds the median."""
    a = analyse(
        _results(serial=[(10.0, 10.0), (20.0, 20.0), (12.0, 12.0)], parallel={2: [5.0, 10.0, 8.0]})
    )
    c = a.parallel[0]
    assert c.speedup == pytest.approx(12.0 / 8.0)
    assert (c.speedup_low, c.speedup_high) == (
        pytest.approx(12.0 / 10.0),
        pytest.approx(12.0 / 5.0),
    )
    assert c.speedup_low <= c.speedup <= c.speedup_high


def test_speedup_whose_range_overlaps_noise_band_is_no_gain() -> None:
    """A median gain is no gain when one round's speed-up falls inside 1 ± noise."""
    a = analyse(_results(parallel={2: [15.0, 15.0, 20.0, 15.0, 15.0]}))
    c = a.parallel[0]
    assert c.speedup is not None and c.speedup > 1.2
    assert c.effect == "none"


def test_efficiency_divides_by_usable_cores_and_by_tasks() -> None:
    """Efficiency is the speed-up over min(tasks, cores) and over the task count."""
    a = analyse(_results(parallel={4: [10.1] * 5}, cpu_count=2))
    c = a.parallel[0]
    assert c.speedup is not None
    assert c.efficiency(a.cores) == (pytest.approx(c.speedup / 2), pytest.approx(c.speedup / 4))


def test_serial_fraction_and_amdahl_bound_from_phases() -> None:
    """f = (wall - Stage 1 - features - Stage 2) / wall: a chunk job runs all three on a
    worker; bound = 1 / (f + (1 - f) / min(n, cores))."""
    results = _results(serial=[(10.0, 10.0)] * 3, parallel={4: [7.0] * 3}, cpu_count=2)
    for run in results["runs"]:
        if run["mode"] == "serial":
            phases = {"stage1_s": 1.0, "features_s": 7.0, "classify_s": 0.5, "write_s": 1.0}
            run["summary"]["phases"] = phases
            run["summary"]["wall_s"] = 9.5
    a = analyse(results)
    assert a.serial_fraction == pytest.approx(0.15)  # (10 - 1 - 7 - 0.5) / 10
    assert a.amdahl(4) == pytest.approx(1 / (0.15 + 0.85 / 2))
    assert a.amdahl(1) == pytest.approx(1.0)
    assert a.serial_breakdown is not None
    assert a.serial_breakdown.phases["startup_s"] == pytest.approx(0.5)


def test_foreign_target_without_summary_still_analysed() -> None:
    """A target that prints no summary gives no phases or Amdahl bound, but still a verdict."""
    results = _results(parallel={2: [12.0] * 5})
    for run in results["runs"]:
        run["summary"] = None
        del run["cpu_s"], run["peak_pss_bytes"]
    a = analyse(results)
    assert a.serial_fraction is None
    assert a.amdahl(2) is None
    assert a.serial_breakdown is None and a.best_breakdown is None
    assert a.serial.cpu is None and a.serial.pss is None
    assert a.recommendation.kind == "deploy"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.update(schema_version=3), r"schema_version 3 \(expected 1 or 2"),
        (lambda r: r.update(kind="pyperf"), "not a validate results file"),
        (lambda r: r.update(runs={}), "no list of runs"),
        (lambda r: r.update(runs=[x for x in r["runs"] if x["mode"] != "serial"]), "no serial"),
    ],
)
def test_unusable_results_refused(change: Any, message: str) -> None:
    """A results dict of another kind, version or shape is a one-line user error (exit 2)."""
    results = _results(parallel={2: [12.0] * 5})
    change(results)
    with pytest.raises(ResultsError, match=message) as info:
        analyse(results)
    assert info.value.exit_code == EXIT_BAD_INPUT


def test_results_that_are_not_an_object_refused() -> None:
    """A JSON list instead of an object is refused, not crashed on."""
    with pytest.raises(ResultsError, match="JSON object"):
        analyse([])  # type: ignore[arg-type]
