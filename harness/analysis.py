"""Statistics of one validation: a ``results.json`` dict reduced to figures and a recommendation.

Pure functions of the results dict (``docs/contracts.md``): the median and min-max of every
configuration, speed-ups over the serial median with their range across rounds, parallel
efficiency, the A/A noise floor, the phase breakdown and the Amdahl bound it implies, and what to
deploy. No I/O and no matplotlib: ``harness.report`` renders what this module computes.

    harness.HarnessError
     └── ResultsError    the dict is not a validate results file this module can read
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from harness import HarnessError

SERIAL = "serial"
PHASES = ("stage1_s", "features_s", "classify_s", "write_s", "other_s")
Effect = Literal["gain", "none", "slower"]
Kind = Literal["deploy", "keep_serial", "do_not_deploy", "no_data"]


class ResultsError(HarnessError):
    """A results dict without what the report needs (wrong kind, schema version or shape)."""


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
class ConfigStats:
    """One configuration (``serial`` or ``tasks=N``) over every round."""

    label: str
    tasks: int
    runs: tuple[Mapping[str, Any], ...]  # every run of this configuration, failed ones included
    ok_runs: tuple[Mapping[str, Any], ...]  # the runs that did not fail
    wall: Spread | None
    cpu: Spread | None
    pss: Spread | None
    identical: bool  # every run completed and wrote what the reference wrote
    speedup: float | None = None  # serial median wall / this median wall
    speedup_low: float | None = None  # range across rounds: serial median / each run's wall
    speedup_high: float | None = None
    effect: Effect | None = None  # beyond the noise: gain or slower; inside it: none

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
class Recommendation:
    """What to deploy, in one line, with the figures behind it."""

    kind: Kind
    headline: str
    tasks: int | None = None
    memory_bytes: int | None = None
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Analysis:
    """Everything the report shows, computed once."""

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
    failed_runs: tuple[Mapping[str, Any], ...]
    recommendation: Recommendation

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


def config_label(run: Mapping[str, Any]) -> str:
    """``serial`` for both runs of the A/A pair, the run's own label (``tasks=N``) otherwise."""
    if run.get("mode") == "serial" or str(run.get("label", "")).startswith("serial"):
        return SERIAL
    return str(run.get("label") or f"tasks={run.get('tasks')}")


def is_ok(run: Mapping[str, Any]) -> bool:
    """A run that completed and has a wall time."""
    return not run.get("failed") and num(run, "wall_s") is not None


def check_results(results: Any) -> None:
    """Raise ``ResultsError`` unless ``results`` looks like a validate results dict."""
    if not isinstance(results, Mapping):
        raise ResultsError(f"results must be a JSON object (got {type(results).__name__})")
    kind = results.get("kind", "persona-bench.validate")
    if kind != "persona-bench.validate":
        raise ResultsError(f"not a validate results file (kind {kind!r})")
    version = results.get("schema_version")
    if version != 1:
        raise ResultsError(f"unsupported results schema_version {version!r} (expected 1)")
    runs = results.get("runs")
    if not isinstance(runs, list) or not all(isinstance(r, Mapping) for r in runs):
        raise ResultsError("results has no list of runs")
    if not any(config_label(r) == SERIAL for r in runs):
        raise ResultsError("results has no serial run: nothing to compare against")


def group_runs(results: Mapping[str, Any]) -> dict[str, list[Mapping[str, Any]]]:
    """Runs by configuration label, serial first, then by task count."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for run in results["runs"]:
        groups.setdefault(config_label(run), []).append(run)
    return dict(sorted(groups.items(), key=lambda kv: (kv[0] != SERIAL, _tasks(kv[1]), kv[0])))


def noise_of(serial_runs: Sequence[Mapping[str, Any]]) -> Noise:
    """The A/A noise: per round, |a - b| / min(a, b) of the round's two serial walls."""
    by_round: dict[Any, list[float]] = {}
    for run in serial_runs:
        if is_ok(run):
            by_round.setdefault(run.get("round"), []).append(num(run, "wall_s") or 0.0)
    per_round = tuple(
        abs(w[0] - w[1]) / min(w[0], w[1]) for w in by_round.values() if len(w) >= 2 and min(w) > 0
    )
    walls = [num(r, "wall_s") or 0.0 for r in serial_runs if is_ok(r)]
    rel = statistics.median(per_round) if per_round else None
    return Noise(rel=rel, per_round=per_round, serial=Spread.of(walls))


def analyse(results: Mapping[str, Any]) -> Analysis:
    """Reduce a results dict to the figures of the report (raises ``ResultsError``)."""
    check_results(results)
    groups = group_runs(results)
    metadata = results.get("metadata") or {}
    cores = int(metadata["cpu_count"]) if num(metadata, "cpu_count") else None
    noise = noise_of(groups[SERIAL])
    serial = _stats(SERIAL, groups[SERIAL])
    parallel = tuple(
        _with_speedup(_stats(label, runs), serial, noise.band)
        for label, runs in groups.items()
        if label != SERIAL
    )
    measured = [c for c in parallel if c.wall is not None]
    best = min(measured, key=lambda c: (_median(c), c.tasks)) if measured else None
    serial_breakdown = _breakdown(serial)
    fraction = None
    if serial_breakdown is not None and serial_breakdown.wall > 0:
        # the pool's jobs run Stage 1 and the features of a chunk: that is what parallelises
        pooled = sum(serial_breakdown.phases.get(p, 0.0) for p in ("stage1_s", "features_s"))
        fraction = min(max(1.0 - pooled / serial_breakdown.wall, 0.0), 1.0)
    failed = tuple(r for r in results["runs"] if not is_ok(r))
    verdict = results.get("verdict") or {}
    red = (
        verdict.get("identical") is False
        or bool(failed)
        or any(r.get("identical") is False for r in results["runs"])
    )
    mismatch_lines = _mismatch_lines(verdict.get("mismatches") or [])
    partial = Analysis(
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
    )
    return replace(partial, recommendation=recommend(partial))


def recommend(a: Analysis) -> Recommendation:
    """What to deploy: never anything when outputs differ or runs failed."""
    if a.red:
        if a.mismatch_lines:
            return Recommendation(
                kind="do_not_deploy",
                headline="do not deploy: outputs differ",
                reasons=a.mismatch_lines,
            )
        lines = tuple(
            f"{r.get('label')} round {r.get('round')}: {_failure(r)}" for r in a.failed_runs
        )
        return Recommendation(
            kind="do_not_deploy",
            headline=f"do not deploy: {len(a.failed_runs)} run(s) failed"
            if lines
            else "do not deploy: outputs differ",
            reasons=lines,
        )
    if a.serial.wall is None:
        return Recommendation(kind="no_data", headline="no recommendation: no serial run completed")
    if not a.parallel:
        return Recommendation(
            kind="no_data", headline="no recommendation: no parallel configuration was measured"
        )
    noise = a.noise.band
    gains = [c for c in a.parallel if c.effect == "gain" and c.wall is not None]
    if not gains:
        best = a.best
        why = (
            f"the best, {best.label}, ran {_x(best.speedup)} ({_x(best.speedup_low)} to "
            f"{_x(best.speedup_high)}) against a noise of ±{noise:.1%}: "
            + ("slower than serial" if best.effect == "slower" else "no measurable difference")
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
    memory = max((int(num(r, "peak_pss_bytes") or 0) for r in chosen.ok_runs), default=0)
    reasons = [
        f"{chosen.label}: median speed-up {_x(chosen.speedup)} ({_x(chosen.speedup_low)} to "
        f"{_x(chosen.speedup_high)} across rounds), beyond the A/A noise of ±{noise:.1%}",
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


def _median(c: ConfigStats) -> float:
    return c.wall.median if c.wall is not None else float("inf")


def _tasks(runs: Sequence[Mapping[str, Any]]) -> int:
    values = [int(t) for r in runs if (t := num(r, "tasks")) is not None]
    return values[0] if values else 0


def _stats(label: str, runs: Sequence[Mapping[str, Any]]) -> ConfigStats:
    ok = tuple(r for r in runs if is_ok(r))

    def spread(key: str) -> Spread | None:
        return Spread.of([v for r in ok if (v := num(r, key)) is not None])

    return ConfigStats(
        label=label,
        tasks=0 if label == SERIAL else _tasks(runs),
        runs=tuple(runs),
        ok_runs=ok,
        wall=spread("wall_s"),
        cpu=spread("cpu_s"),
        pss=spread("peak_pss_bytes"),
        identical=bool(runs) and all(is_ok(r) and r.get("identical") is not False for r in runs),
    )


def _with_speedup(c: ConfigStats, serial: ConfigStats, noise: float) -> ConfigStats:
    """Speed-up over the serial median, and its range: the serial median over each run's wall.

    The range always holds the median speed-up. Pairing each run with its own round's serial
    walls instead would let one noisy A/A pair push the range away from the median; the
    serial side's spread is what the A/A noise band accounts for.
    """
    if c.wall is None or serial.wall is None or c.wall.median <= 0:
        return c
    ratios = [serial.wall.median / w for r in c.ok_runs if (w := num(r, "wall_s") or 0.0) > 0]
    low, high = min(ratios), max(ratios)
    effect: Effect = "gain" if low > 1 + noise else "slower" if high < 1 - noise else "none"
    return replace(
        c,
        speedup=serial.wall.median / c.wall.median,
        speedup_low=low,
        speedup_high=high,
        effect=effect,
    )


def _breakdown(c: ConfigStats) -> Breakdown | None:
    """The phases of the configuration's median-wall run that carries the job's summary."""
    runs = sorted(
        (r for r in c.ok_runs if isinstance(r.get("summary"), Mapping)),
        key=lambda r: num(r, "wall_s") or 0.0,
    )
    runs = [r for r in runs if isinstance(r["summary"].get("phases"), Mapping)]
    if not runs:
        return None
    run = runs[(len(runs) - 1) // 2]
    summary = run["summary"]
    wall = num(run, "wall_s") or 0.0
    phases = {p: num(summary["phases"], p) or 0.0 for p in PHASES}
    inner = num(summary, "wall_s")
    phases["startup_s"] = max(wall - (inner if inner is not None else sum(phases.values())), 0.0)
    workers = summary.get("workers")
    return Breakdown(
        label=c.label,
        round=run.get("round"),
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


def _failure(run: Mapping[str, Any]) -> str:
    if run.get("failure"):  # the harness's own words (e.g. "changed its input tables: ...")
        return str(run["failure"])
    if run.get("timed_out"):
        return "timed out"
    code = run.get("exit_code")
    return f"exit code {code}" if code not in (None, 0) else "wrote nothing"


def _x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"
