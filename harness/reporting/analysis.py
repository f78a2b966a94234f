"""Statistics of one validation: ``Results`` reduced to figures and a recommendation.

Pure functions of ``Results`` (``harness.results``; a dict is validated into one first): the
median and min-max of every configuration, speed-ups over the serial median with their range
across rounds, parallel efficiency, the A/A noise floor, the phase breakdown and the Amdahl bound
it implies, and what to deploy. No I/O and no matplotlib: ``harness.reporting.report`` renders
what this module computes, and the console and the baseline gate show the same ``Analysis``.

**Noise** (one definition, everywhere): per round, |a - b| / min(a, b) of the round's two serial
walls (the A/A pair); the noise floor is the median over rounds. (It equals exp|ln(a / b)| - 1,
so it is a margin on the log scale the tests below use.)

**Claims** (``Claim``): a configuration is a *gain* only when an exact sign-flip test
(``harness.reporting.stats``) over the rounds rejects, at ``ALPHA`` = 0.05 one-sided, that the
per-round log speed-up ln(S_r / P_r) (S_r the geometric mean of round r's serial walls, P_r the
configuration's wall in round r) is centred at or below ln(1 + noise); *slower* symmetrically;
*none* when neither is rejected; *too few rounds* when fewer rounds than the test needs to reach
0.05 at all (5) were measured: then the report says so and how many it would take.

    harness.HarnessError
     └── harness.results.ResultsError   not a results file this module can read (re-exported)
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from harness.reporting.stats import ALPHA, sign_flip_min_n, sign_flip_p
from harness.results import Results, ResultsError, Run, as_results

SERIAL = "serial"
PHASES = ("stage1_s", "features_s", "classify_s", "write_s", "other_s")
POOLED_PHASES = ("stage1_s", "features_s", "classify_s")  # what a chunk job runs on a worker
Effect = Literal["gain", "none", "slower", "too_few_rounds"]
EFFECT_WORDS = {
    "gain": "faster",
    "none": "no measurable difference",
    "slower": "slower",
    "too_few_rounds": "not enough rounds to tell",
}
Kind = Literal[
    "deploy", "keep_serial", "too_few_rounds", "do_not_deploy", "no_data", "candidate_matches"
]
METHOD = (
    "exact sign-flip permutation test over rounds of the paired log speed-up "
    "ln(serial / parallel) minus ln(1 + noise), one-sided, alpha 0.05"
)


@dataclass(frozen=True, kw_only=True)
class Spread:
    """Median and range of a few measurements."""

    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread | None:
        """The spread of ``values``, None when there are none."""
        if not values:
            return None
        return cls(
            median=statistics.median(values), low=min(values), high=max(values), n=len(values)
        )


@dataclass(frozen=True, kw_only=True)
class Claim:
    """What the test over rounds says about one configuration against serial."""

    effect: Effect
    rounds: int  # rounds with both this configuration's and a serial wall
    needed: int  # the fewest rounds with which the test can support a claim at all
    p_gain: float | None  # one-sided p that the speed-up exceeds 1 + noise
    p_slower: float | None  # one-sided p that it is below 1 / (1 + noise)
    paired_speedup: float | None  # exp(mean over rounds of ln(S_r / P_r))
    method: str = METHOD

    def text(self) -> str:
        """One phrase for a table cell."""
        if self.effect == "too_few_rounds":
            return f"not enough rounds to tell ({self.rounds} of {self.needed} needed)"
        if self.effect == "gain":
            return f"gain (p = {self.p_gain:.3f}, {self.rounds} rounds)"
        if self.effect == "slower":
            return f"slower (p = {self.p_slower:.3f}, {self.rounds} rounds)"
        return f"no measurable difference (p = {min(self.p_gain or 1, self.p_slower or 1):.2f})"


@dataclass(frozen=True, kw_only=True)
class ConfigStats:
    """One configuration (``serial`` or ``tasks=N``) over every round."""

    label: str
    tasks: int
    runs: tuple[Run, ...]  # every run of this configuration, failed ones included
    ok_runs: tuple[Run, ...]  # the runs that did not fail
    wall: Spread | None
    cpu: Spread | None
    pss: Spread | None
    identical: bool  # every run completed and wrote what the reference wrote
    speedup: float | None = None  # serial median wall / this median wall
    speedup_low: float | None = None  # range across rounds: serial median / each run's wall
    speedup_high: float | None = None
    claim: Claim | None = None  # the test over rounds against serial (parallel configs only)

    @property
    def effect(self) -> Effect | None:
        """The claim's effect (None for serial or without a measurement)."""
        return self.claim.effect if self.claim is not None else None

    @property
    def failed(self) -> int:
        """How many runs of this configuration failed."""
        return len(self.runs) - len(self.ok_runs)

    def efficiency(self, cores: int | None) -> tuple[float | None, float | None]:
        """Speed-up per usable core (min(tasks, cores)) and per task."""
        if self.speedup is None or self.tasks < 1:
            return None, None
        usable = min(self.tasks, cores) if cores else self.tasks
        return self.speedup / usable, self.speedup / self.tasks


@dataclass(frozen=True, kw_only=True)
class Noise:
    """The A/A serial pair of each round: how far two identical runs land apart."""

    rel: float | None  # median over rounds of |a - b| / min(a, b); None without a complete pair
    per_round: tuple[float, ...]
    serial: Spread | None  # every successful serial wall

    @property
    def band(self) -> float:
        """The relative noise used for verdicts (0 when it could not be measured)."""
        return self.rel or 0.0


@dataclass(frozen=True, kw_only=True)
class Breakdown:
    """Where one run's wall time went: the job's own phase timers, plus what they do not see."""

    label: str
    round: int | None
    wall: float  # measured from outside
    phases: dict[str, float]  # PHASES plus "startup_s": wall outside the job's own timers
    utilization: float | None  # workers' busy time / (tasks x wall), parallel runs only


@dataclass(frozen=True, kw_only=True)
class HarnessCost:
    """What the harness itself spent: per run (medians over runs) and for the snapshot."""

    runs: int  # runs that recorded their overhead
    copy_s: float
    fsync_s: float
    inputs_s: float  # checking that the run left its input tables alone
    read_s: float  # reading the run's output tables
    compare_s: float  # comparing them (with the snapshot's and the reference's)
    total_s: float  # everything outside the measured wall, copy and fsync included
    ratio: float | None  # median over runs of total / (copy + fsync); goal <= 1.5
    sampler_share: Spread | None  # the sampler's CPU / the run's wall, over runs
    sampler_processes: int  # the largest tree the sampler read
    sampler_budget: float | None  # the share of a core the sampler's interval aims at
    snapshot: Mapping[str, float]  # backup_s, check_s, counts_s, hash_s
    check: str | None  # integrity_check or quick_check


RATIO_GOAL = 1.5  # the harness's per-run work may cost at most 1.5x a plain copy plus fsync


@dataclass(frozen=True, kw_only=True)
class Recommendation:
    """What to deploy, in one line, with the figures behind it."""

    kind: Kind
    headline: str
    tasks: int | None = None
    memory_bytes: int | None = None
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Analysis:
    """Everything the console, the report and the baseline gate show, computed once."""

    results: Results
    serial: ConfigStats
    parallel: tuple[ConfigStats, ...]
    cores: int | None
    noise: Noise
    serial_breakdown: Breakdown | None
    best: ConfigStats | None  # the parallel configuration with the lowest median wall
    best_breakdown: Breakdown | None
    serial_fraction: float | None  # share of the serial wall outside the pool's work
    red: bool  # the determinism verdict failed (a mismatch or a failed run)
    mismatch_lines: tuple[str, ...]
    failed_runs: tuple[Run, ...]
    recommendation: Recommendation
    cost: HarnessCost | None = None  # None for results without overhead records (version 1)
    rounds: int = 0  # the most rounds any parallel configuration was paired with serial over
    method: str = METHOD
    alpha: float = ALPHA
    roles: tuple[str, str] | None = None  # (control, candidate) of a control-vs-candidate run

    def amdahl(self, tasks: int) -> float | None:
        """Amdahl's bound on the speed-up at ``tasks``: 1 / (f + (1 - f) / min(tasks, cores))."""
        if self.serial_fraction is None or tasks < 1:
            return None
        usable = min(tasks, self.cores) if self.cores else tasks
        f = self.serial_fraction
        return 1.0 / (f + (1.0 - f) / usable)


def num(mapping: Mapping[str, Any] | None, key: str) -> float | None:
    """``mapping[key]`` when it is a finite number (not a bool), else None."""
    if not isinstance(mapping, Mapping):
        return None
    value = mapping.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value == value and abs(value) != float("inf") else None


def config_label(run: Run) -> str:
    """``serial`` for both runs of the A/A pair, the run's own label (``tasks=N``) otherwise.

    A candidate's runs (control vs candidate) keep their own labels (``NAME serial``,
    ``NAME tasks=N``): only the control's serial runs are the baseline.
    """
    if run.is_candidate:
        return run.label
    if run.mode == "serial" or run.label.startswith("serial"):
        return SERIAL
    return run.label or f"tasks={run.tasks}"


def group_runs(runs: Sequence[Run]) -> dict[str, list[Run]]:
    """Runs by configuration label, serial first, then by task count."""
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(config_label(run), []).append(run)
    return dict(sorted(groups.items(), key=lambda kv: (kv[0] != SERIAL, kv[1][0].tasks, kv[0])))


def noise_of(serial_runs: Sequence[Run]) -> Noise:
    """The A/A noise: per round, |a - b| / min(a, b) of the round's two serial walls."""
    by_round: dict[int, list[float]] = {}
    for run in serial_runs:
        if run.ok and run.wall_s is not None:
            by_round.setdefault(run.round, []).append(run.wall_s)
    per_round = tuple(
        abs(w[0] - w[1]) / min(w[0], w[1])
        for _, w in sorted(by_round.items())
        if len(w) >= 2 and min(w) > 0
    )
    walls = [r.wall_s for r in serial_runs if r.ok and r.wall_s is not None]
    rel = statistics.median(per_round) if per_round else None
    return Noise(rel=rel, per_round=per_round, serial=Spread.of(walls))


def analyse(results: Results | Mapping[str, Any]) -> Analysis:
    """Reduce results (or a results dict, validated first) to figures (raises ``ResultsError``)."""
    results = as_results(results)
    if not any(config_label(r) == SERIAL for r in results.runs):
        raise ResultsError("results has no serial run: nothing to compare against")
    groups = group_runs(results.runs)
    metadata = results.metadata
    cores = int(metadata["cpu_count"]) if num(metadata, "cpu_count") else None
    noise = noise_of(groups[SERIAL])
    serial = _stats(SERIAL, groups[SERIAL])
    parallel = tuple(
        _with_speedup(_stats(label, runs), serial, noise.band)
        for label, runs in groups.items()
        if label != SERIAL
    )
    rounds = max((c.claim.rounds for c in parallel if c.claim is not None), default=0)
    measured = [c for c in parallel if c.wall is not None]
    best = min(measured, key=lambda c: (_median(c), c.tasks)) if measured else None
    serial_breakdown = _breakdown(serial)
    fraction = None
    if serial_breakdown is not None and serial_breakdown.wall > 0:
        # the pool's jobs run Stage 1, the features and Stage 2 of a chunk
        # (``executor.evaluate_chunk``): that is what parallelises
        pooled = sum(serial_breakdown.phases.get(p, 0.0) for p in POOLED_PHASES)
        fraction = min(max(1.0 - pooled / serial_breakdown.wall, 0.0), 1.0)
    failed = tuple(r for r in results.runs if not r.ok)
    verdict = results.verdict
    red = not verdict.identical or bool(failed) or any(r.identical is False for r in results.runs)
    mismatch_lines = _mismatch_lines(verdict.mismatches)
    partial = Analysis(
        results=results,
        serial=serial,
        parallel=parallel,
        cores=cores,
        noise=noise,
        serial_breakdown=serial_breakdown,
        best=best,
        best_breakdown=_breakdown(best) if best else None,
        serial_fraction=fraction,
        red=red,
        mismatch_lines=mismatch_lines,
        failed_runs=failed,
        recommendation=Recommendation(kind="no_data", headline=""),
        cost=harness_cost(results),
        rounds=rounds,
        roles=_roles(results.settings),
    )
    return replace(partial, recommendation=recommend(partial))


def harness_cost(results: Results) -> HarnessCost | None:
    """Medians of the runs' ``overhead`` and ``sampler`` records, and the snapshot's timings."""
    recorded = [r for r in results.runs if r.overhead]
    if not recorded:
        return None

    def median(key: str) -> float:
        return statistics.median(num(r.overhead, key) or 0.0 for r in recorded)

    ratios = [
        (num(r.overhead, "total_s") or 0.0) / base
        for r in recorded
        if (base := (num(r.overhead, "copy_s") or 0.0) + (num(r.overhead, "fsync_s") or 0.0)) > 0
        and num(r.overhead, "total_s") is not None
    ]
    shares = [v for r in results.runs if (v := num(r.sampler, "share_of_wall")) is not None]
    timings = results.snapshot.get("timings")
    return HarnessCost(
        runs=len(recorded),
        copy_s=median("copy_s"),
        fsync_s=median("fsync_s"),
        inputs_s=median("inputs_s"),
        read_s=median("read_s"),
        compare_s=median("compare_s"),
        total_s=median("total_s"),
        ratio=statistics.median(ratios) if ratios else None,
        sampler_share=Spread.of(shares),
        sampler_processes=max(
            (int(num(r.sampler, "max_processes") or 0) for r in results.runs), default=0
        ),
        sampler_budget=next(
            (v for r in results.runs if (v := num(r.sampler, "budget")) is not None), None
        ),
        snapshot={
            k: float(v)
            for k, v in (timings.items() if isinstance(timings, Mapping) else ())
            if isinstance(v, int | float)
        },
        check=str(results.snapshot.get("check") or "integrity_check") if results.snapshot else None,
    )


def recommend(a: Analysis) -> Recommendation:
    """What to deploy: never anything when outputs differ or runs failed."""
    if a.red:
        if a.mismatch_lines:
            return Recommendation(
                kind="do_not_deploy",
                headline="do not deploy: outputs differ",
                reasons=a.mismatch_lines,
            )
        lines = tuple(f"{r.label} round {r.round}: {_failure(r)}" for r in a.failed_runs)
        return Recommendation(
            kind="do_not_deploy",
            headline=f"do not deploy: {len(a.failed_runs)} run(s) failed"
            if lines
            else "do not deploy: outputs differ",
            reasons=lines,
        )
    if a.serial.wall is None:
        return Recommendation(kind="no_data", headline="no recommendation: no serial run completed")
    if a.roles is not None:
        return _candidate_verdict(a, *a.roles)
    if not a.parallel:
        return Recommendation(
            kind="no_data", headline="no recommendation: no parallel configuration was measured"
        )
    noise = a.noise.band
    gains = [c for c in a.parallel if c.effect == "gain" and c.wall is not None]
    if not gains:
        best = a.best
        if best is not None and best.claim is not None and best.effect == "too_few_rounds":
            claim = best.claim
            return Recommendation(
                kind="too_few_rounds",
                headline=(
                    "keep parallel_enabled = false: not enough rounds to tell "
                    f"(run --repeat {claim.needed} or more)"
                ),
                reasons=(
                    f"{claim.rounds} round(s) measured; the test ({METHOD}) cannot reach "
                    f"p <= {ALPHA} with fewer than {claim.needed} rounds, whatever the times; "
                    f"the best, {best.label}, ran {_x(best.speedup)} against a noise of "
                    f"±{noise:.1%}",
                ),
            )
        why = (
            f"the best, {best.label}, ran {_x(best.speedup)} ({_x(best.speedup_low)} to "
            f"{_x(best.speedup_high)}) against a noise of ±{noise:.1%}: "
            + (
                best.claim.text()  # the claim names its effect and p-value
                if best.claim is not None
                else (
                    "slower than serial" if best.effect == "slower" else "no measurable difference"
                )
            )
            if best is not None and best.speedup is not None
            else "no parallel configuration completed"
        )
        return Recommendation(
            kind="keep_serial",
            headline="keep parallel_enabled = false",
            reasons=(f"no parallel configuration beats serial beyond the noise; {why}",),
        )
    fastest = min(gains, key=_median)
    # the smallest task count whose median is within the noise of the fastest: fewer workers,
    # less memory, for a difference nobody can measure
    limit = _median(fastest) * (1.0 + noise)
    chosen = min((c for c in gains if _median(c) <= limit), key=lambda c: c.tasks)
    memory = max((r.peak_pss_bytes or 0 for r in chosen.ok_runs), default=0)
    assert chosen.claim is not None
    reasons = [
        f"{chosen.label}: median speed-up {_x(chosen.speedup)} ({_x(chosen.speedup_low)} to "
        f"{_x(chosen.speedup_high)} across rounds), beyond the A/A noise of ±{noise:.1%}: "
        f"p = {chosen.claim.p_gain:.3f} over {chosen.claim.rounds} rounds ({METHOD})",
    ]
    if chosen is not fastest:
        reasons.append(
            f"{fastest.label} is fastest, but {chosen.label} is within the noise of it with "
            "fewer tasks"
        )
    return Recommendation(
        kind="deploy",
        headline=f"deploy parallel_enabled = true, parallel_tasks = {chosen.tasks}",
        tasks=chosen.tasks,
        memory_bytes=memory or None,
        reasons=tuple(reasons),
    )


def _roles(settings: Mapping[str, Any]) -> tuple[str, str] | None:
    control, candidate = settings.get("control"), settings.get("candidate")
    return (str(control), str(candidate)) if control and candidate else None


def _candidate_verdict(a: Analysis, control: str, candidate: str) -> Recommendation:
    """Control vs candidate, green: the candidate writes the control's rows; its speed, told."""
    reasons = [
        f"every run of {candidate} wrote exactly the rows of the control {control} "
        "(same snapshot, same now)"
    ]
    for c in a.parallel:
        if c.speedup is None:
            continue
        effect = EFFECT_WORDS[c.effect or "none"]
        reasons.append(
            f"{c.label}: {_x(c.speedup)} the speed of {control}'s serial path "
            f"({_x(c.speedup_low)} to {_x(c.speedup_high)} across rounds; {effect} "
            f"at a noise of ±{a.noise.band:.1%})"
        )
    return Recommendation(
        kind="candidate_matches",
        headline=f"{candidate} writes {control}'s rows: as far as its rows go, it may replace "
        f"{control}",
        reasons=tuple(reasons),
    )


def _median(c: ConfigStats) -> float:
    return c.wall.median if c.wall is not None else float("inf")


def _stats(label: str, runs: Sequence[Run]) -> ConfigStats:
    ok = tuple(r for r in runs if r.ok)

    def spread(key: str) -> Spread | None:
        return Spread.of([float(v) for r in ok if (v := getattr(r, key)) is not None])

    return ConfigStats(
        label=label,
        tasks=0 if label == SERIAL else runs[0].tasks,
        runs=tuple(runs),
        ok_runs=ok,
        wall=spread("wall_s"),
        cpu=spread("cpu_s"),
        pss=spread("peak_pss_bytes"),
        identical=bool(runs) and all(r.ok and r.identical is not False for r in runs),
    )


def _with_speedup(c: ConfigStats, serial: ConfigStats, noise: float) -> ConfigStats:
    """Speed-up over the serial median, its range, and the claim the rounds support.

    The range is the serial median over each run's wall, so it always holds the median
    speed-up. The claim pairs rounds instead (see the module docstring): each round's serial
    pair and parallel run ran interleaved, under the same machine load.
    """
    if c.wall is None or serial.wall is None or c.wall.median <= 0:
        return c
    ratios = [serial.wall.median / w for r in c.ok_runs if (w := r.wall_s or 0.0) > 0]
    return replace(
        c,
        speedup=serial.wall.median / c.wall.median,
        speedup_low=min(ratios),
        speedup_high=max(ratios),
        claim=claim_of(paired_log_speedups(serial.ok_runs, c.ok_runs), noise),
    )


def paired_log_speedups(serial: Sequence[Run], parallel: Sequence[Run]) -> tuple[float, ...]:
    """ln(S_r / P_r) for every round with both: S_r the geometric mean of the round's serial walls.

    A configuration measured twice in a round (not a plan ``validate`` makes) uses its geometric
    mean too. Rounds in ascending order.
    """

    def by_round(runs: Sequence[Run]) -> dict[int, float]:
        logs: dict[int, list[float]] = {}
        for r in runs:
            if r.ok and r.wall_s is not None and r.wall_s > 0:
                logs.setdefault(r.round, []).append(math.log(r.wall_s))
        return {rnd: math.fsum(v) / len(v) for rnd, v in logs.items()}

    s, p = by_round(serial), by_round(parallel)
    return tuple(s[rnd] - p[rnd] for rnd in sorted(s.keys() & p.keys()))


def claim_of(log_speedups: Sequence[float], noise: float) -> Claim:
    """The claim the paired log speed-ups support against a noise band of ``noise``."""
    n = len(log_speedups)
    needed = sign_flip_min_n(ALPHA)
    paired = math.exp(math.fsum(log_speedups) / n) if n else None
    if n < needed:
        return Claim(
            effect="too_few_rounds",
            rounds=n,
            needed=needed,
            p_gain=None,
            p_slower=None,
            paired_speedup=paired,
        )
    margin = math.log1p(noise)
    p_gain = sign_flip_p([x - margin for x in log_speedups])
    p_slower = sign_flip_p([-x - margin for x in log_speedups])
    effect: Effect = "gain" if p_gain <= ALPHA else "slower" if p_slower <= ALPHA else "none"
    return Claim(
        effect=effect,
        rounds=n,
        needed=needed,
        p_gain=p_gain,
        p_slower=p_slower,
        paired_speedup=paired,
    )


def _breakdown(c: ConfigStats) -> Breakdown | None:
    """The phases of the configuration's median-wall run that carries the job's summary."""
    runs = sorted(
        (r for r in c.ok_runs if r.summary is not None),
        key=lambda r: (r.wall_s or 0.0, r.round, r.order),
    )
    runs = [r for r in runs if isinstance((r.summary or {}).get("phases"), Mapping)]
    if not runs:
        return None
    run = runs[(len(runs) - 1) // 2]
    summary = run.summary or {}
    wall = run.wall_s or 0.0
    phases = {p: num(summary["phases"], p) or 0.0 for p in PHASES}
    inner = num(summary, "wall_s")
    phases["startup_s"] = max(wall - (inner if inner is not None else sum(phases.values())), 0.0)
    workers = summary.get("workers")
    return Breakdown(
        label=c.label,
        round=run.round,
        wall=wall,
        phases=phases,
        utilization=num(workers, "utilization") if c.tasks else None,
    )


def _mismatch_lines(mismatches: Sequence[Any], limit: int = 12) -> tuple[str, ...]:
    lines = []
    for m in mismatches:
        if not isinstance(m, Mapping):
            continue
        tables = m.get("tables") or {}
        parts = [
            f"{name}: {t.get('differ', 0)} differ, {t.get('missing', 0)} missing, "
            f"{t.get('extra', 0)} extra"
            for name, t in tables.items()
            if isinstance(t, Mapping)
        ]
        lines.append(f"{m.get('label')} round {m.get('round')}: " + ("; ".join(parts) or "differs"))
    if len(lines) > limit:
        lines = [*lines[:limit], f"... and {len(lines) - limit} more"]
    return tuple(lines)


def _failure(run: Run) -> str:
    if run.failure:  # the harness's own words (e.g. "changed its input tables: ...")
        return run.failure
    if run.timed_out:
        return "timed out"
    code = run.exit_code
    return f"exit code {code}" if code not in (None, 0) else "wrote nothing"


def _x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"
