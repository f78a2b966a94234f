"""The report's Markdown: the seed's document (``../shared/seed/``) written from an ``Analysis``.

One function per section, in the seed's order, each turning figures of
``harness.reporting.analysis`` into text; every "pending" of the seed is a measured figure
here, or "n/a" when the target did not report it. No file is written here:
``harness.reporting.report`` does that.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from harness.inputs import describe
from harness.reporting.analysis import RATIO_GOAL, Analysis, ConfigStats, num
from harness.reporting.baseline import Comparison, render_comparison
from harness.results import Results, Verdict

TITLE = "# Persona Classification Parallelization - Performance Validation"
OK, BAD = "✅", "❌"
COUNTERS = (
    "stage1_no_trades",
    "stage1_other",
    "stage2_excluded",
    "suitable",
    "unclassified",
    "errors",
)


def render_markdown(
    a: Analysis, plots: Sequence[str] = (), comparison: Comparison | None = None
) -> str:
    """The whole report as Markdown (``plots``: file names of the PNGs written beside it)."""
    results = a.results
    meta = results.metadata
    sections = [
        _header(a, results, meta),
        _implementation(a, results, meta),
        _environment(meta),
        _database(results.snapshot),
        "## Performance Measurements",
        _serial(a),
        _parallel(a, plots),
        _phases(a, plots),
        "## Analysis",
        _noise(a),
        _cost(a),
        _recommendation(a, meta),
        _mismatches(results.verdict.mismatches),
        _failed(a),
        _ignored(results.settings, results.verdict, results.input_check),
    ]
    if comparison is not None:
        sections.append("## Baseline Comparison\n\n" + render_comparison(comparison).strip())
    sections.append(_conclusion(a, results, comparison))
    return "\n\n".join(s.strip() for s in sections if s) + "\n"


# ---- sections ------------------------------------------------------------------------------


def _header(a: Analysis, results: Results, meta: Mapping[str, Any]) -> str:
    verdict = (
        f"{BAD} outputs differ or runs failed"
        if a.red
        else f"{OK} every run wrote the reference's rows"
    )
    return "\n".join(
        [
            TITLE,
            "",
            f"**Date:** {_text(results.created_at)}  ",
            f"**Name:** {_text(results.name)}  ",
            f"**Commit:** {_text(meta.get('git_commit'))}"
            f"{' (with local changes)' if meta.get('git_dirty') else ''} "
            f"(persona-bench {_text(meta.get('package_version'))})  ",
            f"**Determinism:** {verdict}  ",
            f"**Recommendation:** {a.recommendation.headline}",
        ]
    )


def _implementation(a: Analysis, results: Results, meta: Mapping[str, Any]) -> str:
    settings = results.settings
    summary = _summary(a.serial)
    config: Mapping[str, Any] = summary.get("config") or {}
    keys = ("parallel_enabled", "parallel_tasks", "parallel_backend", "chunk_size")
    shown = ", ".join(f"`{k} = {_toml(config[k])}`" for k in keys if k in config)
    tasks = ", ".join(str(t) for t in settings.get("tasks") or []) or "none"
    lines = [
        "## Implementation Summary",
        "",
        "- **Effective config** (the serial run's summary): "
        + (shown or "not reported by the target"),
        f"- **Measured:** serial (A/A pair per round) and parallel tasks {tasks}, "
        f"backend {_text(settings.get('backend'))}, {_text(settings.get('repeat'))} rounds, "
        "configurations interleaved within each round",
        f"- **Classifier:** version {_text(summary.get('version'))}, config hash "
        f"`{_text(summary.get('config_hash'))[:12]}`, commit {_text(meta.get('git_commit'))}",
    ]
    targets = [t for t in settings.get("targets") or [] if isinstance(t, Mapping)]
    if settings.get("roles"):
        lines.append(f"- **Targets:** {_text(settings.get('roles'))}")
    for t in targets or [settings]:
        name = f" of `{t['name']}`" if targets else ""
        lines.append(f"- **Serial command{name}:** `{_text(t.get('serial_cmd'))}`")
        if t.get("parallel_cmd") and (
            t.get("name") != settings.get("control") or not settings.get("candidate")
        ):
            lines.append(f"- **Parallel command{name}:** `{_text(t.get('parallel_cmd'))}`")
    return "\n".join(lines)


def _environment(meta: Mapping[str, Any]) -> str:
    rows = [
        ("CPU", f"{_text(meta.get('cpu_model'))} ({_text(meta.get('cpu_count'))} logical cores)"),
        ("Memory", _bytes(num(meta, "memory_bytes"))),
        ("OS", _text(meta.get("platform"))),
        ("Python", _text(meta.get("python"))),
        ("SQLite", _text(meta.get("sqlite"))),
        ("Host", _text(meta.get("hostname"))),
    ]
    return "## Environment\n\n" + _table(["machine", "value"], rows)


def _database(snap: Mapping[str, Any]) -> str:
    active, done = num(snap, "active_wallets"), num(snap, "classified_wallets")
    pending = f"{int(active - done):,}" if active is not None and done is not None else "n/a"
    integrity = snap.get("integrity_check")
    counts: Mapping[str, Any] = snap.get("row_counts") or {}
    lines = [
        "## Database State",
        "",
        f"- **Snapshot of** `{_text(snap.get('source'))}` "
        f"({_bytes(num(snap, 'source_size_bytes'))}), taken at {_text(snap.get('taken_at'))} "
        f"in {_secs(num(snap, 'duration_s'))}",
        f"- **Method:** {_text(snap.get('method'))}",
        f"- **Copy:** {_bytes(num(snap, 'size_bytes'))}, sha256 `{_text(snap.get('sha256'))}`",
        f"- **Integrity check:** {OK if integrity == 'ok' else BAD} {_text(integrity)}",
        f"- **Wallets:** {_int(active)} active, {_int(done)} already classified, "
        f"{pending} pending classification",
    ]
    if counts:
        lines.append(
            "- **Rows:** " + ", ".join(f"{k} {_int(num(counts, k))}" for k in sorted(counts))
        )
    return "\n".join(lines)


def _serial(a: Analysis) -> str:
    s = a.serial
    if s.wall is None:
        return "### Serial Baseline\n\nNo serial run completed: see Failed Runs."
    summary = _summary(s)
    counters: Mapping[str, Any] = summary.get("counters") or {}
    lines = [
        "### Serial Baseline",
        "",
        f"**Runs:** {len(s.ok_runs)} of {len(s.runs)} completed (the A/A pair of each round)  ",
        f"**Duration:** median {_secs(s.wall.median)} wall ({_secs(s.wall.low)} to "
        f"{_secs(s.wall.high)}), {_secs(s.cpu.median if s.cpu else None)} CPU  ",
        f"**Peak memory** (PSS of the process tree): median {_spread_bytes(s)}  ",
        f"**Wallets processed:** {_int(num(counters, 'processed'))} of "
        f"{_int(num(summary, 'total'))} active",
        "",
    ]
    if counters:
        lines += ["**Results:**"] + [f"- {k}: {_int(num(counters, k))}" for k in COUNTERS]
    else:
        lines.append("**Results:** the target printed no summary (counts not available).")
    return "\n".join(lines)


def _parallel(a: Analysis, plots: Sequence[str]) -> str:
    header = [
        "tasks",
        "median wall (min to max)",
        "speed-up (range over rounds)",
        "beyond the noise? (test over rounds)",
        "CPU (median)",
        "peak PSS median (max)",
        "efficiency / min(tasks, cores)",
        "efficiency / tasks",
        "runs ok",
        "identical",
    ]
    rows = [_config_row(a, c) for c in (a.serial, *a.parallel)]
    text = "### Parallel Runs\n\n" + _table(header, rows)
    text += (
        f"\n\nSpeed-up = serial median wall / median wall; its range is the serial median over "
        f"each round's wall. The test column is the claim the rounds support "
        f"(see Noise). Efficiency divides the speed-up by the cores a run "
        f"can use (min(tasks, {_text(a.cores)})) and by the task count."
    )
    for name, alt in (("wall.png", "Wall time by task count"), ("speedup.png", "Speed-up")):
        if name in plots:
            text += f"\n\n![{alt}]({name})"
    if "memory.png" in plots:
        text += "\n\n![Peak memory by task count](memory.png)"
    return text


def _config_row(a: Analysis, c: ConfigStats) -> list[str]:
    eff_cores, eff_tasks = c.efficiency(a.cores)
    if c.tasks and c.speedup is not None:
        speed = f"{c.speedup:.2f}x ({c.speedup_low:.2f}x to {c.speedup_high:.2f}x)"
    else:
        speed = "1.00x (reference)" if c.label == "serial" and c.wall else "n/a"
    wall = (
        f"{_secs(c.wall.median)} ({_secs(c.wall.low)} to {_secs(c.wall.high)})" if c.wall else "n/a"
    )
    return [
        c.label,
        wall,
        speed,
        c.claim.text() if c.claim is not None else "-",
        _secs(c.cpu.median if c.cpu else None),
        _spread_bytes(c),
        _pct(eff_cores) if c.tasks else "-",
        _pct(eff_tasks) if c.tasks else "-",
        f"{len(c.ok_runs)}/{len(c.runs)}",
        OK if c.identical else BAD,
    ]


def _phases(a: Analysis, plots: Sequence[str]) -> str:
    bars = [b for b in (a.serial_breakdown, a.best_breakdown) if b is not None]
    if not bars:
        return "### Where the Time Goes\n\nNo phase timings: the target printed no summary."
    names = {
        "stage1_s": "Stage 1 (parallel: inside the workers' jobs)",
        "features_s": "features (parallel: writer waiting for workers)",
        "classify_s": "Stage 2 classification",
        "write_s": "writes",
        "other_s": "other (inside the job)",
        "startup_s": "start-up and exit (outside the job's timers)",
    }
    header = ["phase"] + [f"{b.label} (round {b.round})" for b in bars]
    rows = [[names[p]] + [_share(b.phases.get(p, 0.0), b.wall) for b in bars] for p in names]
    rows.append(["**wall (measured outside)**"] + [f"**{_secs(b.wall)}**" for b in bars])
    if a.best_breakdown and a.best_breakdown.utilization is not None:
        rows.append(
            ["worker utilization"] + ["-"] * (len(bars) - 1) + [_pct(a.best_breakdown.utilization)]
        )
    text = "### Where the Time Goes\n\n" + _table(header, rows)
    if a.serial_fraction is not None:
        f = a.serial_fraction
        text += (
            f"\n\nSerial fraction f = (wall - Stage 1 - features - Stage 2) / wall of the serial"
            f" run = **{f:.1%}**: the workers' jobs run Stage 1, the features and Stage 2; the"
            f" writes and start-up stay serial. Amdahl's bound is 1 / (f + (1 - f) /"
            f" min(tasks, cores))."
            f"\n\n"
        )
        rows = []
        for c in a.parallel:
            bound = a.amdahl(c.tasks)
            ratio = c.speedup / bound if c.speedup is not None and bound else None
            usable = min(c.tasks, a.cores) if a.cores else c.tasks
            rows.append([c.label, str(usable), _x(c.speedup), _x(bound), _pct(ratio)])
        text += _table(
            ["tasks", "usable cores", "measured", "Amdahl bound", "measured / bound"], rows
        )
    if "phases.png" in plots:
        text += "\n\n![Where the time goes](phases.png)"
    return text


def _steal_line(a: Analysis) -> str | None:
    """How much CPU the machine's host took while the runs ran (None: not measured)."""
    measured = [
        (r.host_steal_s, r.wall_s, r)
        for r in a.results.runs
        if r.host_steal_s is not None and r.wall_s
    ]
    if not measured:
        return None
    steal, wall, worst = max(measured, key=lambda m: m[0])
    share = statistics.median(s / w for s, w, _ in measured)
    return (
        f"- Host steal (CPU time this virtual machine's host gave to others while the runs ran, "
        f"`/proc/stat`, every CPU summed): median {share:.1%} of a run's wall, at most "
        f"{_secs(steal)} in round {worst.round} {worst.label} ({steal / wall:.1%} of its wall). "
        "Steal stretches walls unevenly: noise the A/A pairs see, not the job's."
    )


def _noise(a: Analysis) -> str:
    n = a.noise
    lines = ["### Noise", ""]
    pairs = _aa_pairs(a.serial)
    for rnd, wa, wb in pairs:
        lines.append(
            f"- round {rnd}: serial-a {_secs(wa)}, serial-b {_secs(wb)}: "
            f"{abs(wa - wb) / min(wa, wb):.1%} apart"
        )
    if n.rel is None:
        lines.append("- No complete A/A pair: the noise could not be measured (taken as 0).")
    else:
        lines.append(f"- **Noise floor: ±{n.rel:.1%}** (median over {len(n.per_round)} rounds)")
    if n.serial is not None:
        spread = (n.serial.high - n.serial.low) / n.serial.low if n.serial.low > 0 else 0.0
        lines.append(
            f"- All {n.serial.n} serial walls: {_secs(n.serial.low)} to {_secs(n.serial.high)} "
            f"({spread:.1%} spread)"
        )
    steal = _steal_line(a)
    if steal:
        lines.append(steal)
    lines += [
        "",
        f"**Method.** Noise = median over rounds of |a − b| / min(a, b) of the A/A pair (the "
        f"console shows the same figure). A gain is claimed only when the {a.method} "
        f"(`harness/reporting/stats.py`) gives p ≤ {a.alpha:g}: per round r, "
        f"x_r = ln(S_r / P_r) with "
        f"S_r the geometric mean of that round's serial walls and P_r the configuration's "
        f"wall; the test asks whether x_r − ln(1 + {n.band:.1%}) is centred above 0. "
        f"*Slower* is the mirror test. With n rounds the smallest p this exact test can give "
        f"is 1 / 2^n, so fewer than {_needed(a)} rounds can support no claim: the table then "
        f'says "not enough rounds to tell" and how many it would take.',
    ]
    return "\n".join(lines)


def _cost(a: Analysis) -> str:
    c = a.cost
    if c is None:
        return "### Harness Cost\n\nNot recorded (results written before schema version 2)."
    ratio = _x(c.ratio)
    rows = [
        ["copy of the snapshot", _secs(c.copy_s)],
        ["fsync of the copy", _secs(c.fsync_s)],
        ["checking the input tables", _secs(c.inputs_s)],
        ["reading the output tables", _secs(c.read_s)],
        ["comparing them", _secs(c.compare_s)],
        ["**all outside the measured wall**", f"**{_secs(c.total_s)}**"],
        [f"ratio to copy + fsync (goal ≤ {RATIO_GOAL}x)", f"**{ratio}**"],
    ]
    text = (
        f"### Harness Cost\n\nPer run, medians over {c.runs} runs: what the harness did for a "
        "run besides running it.\n\n" + _table(["step", "time"], rows)
    )
    if c.sampler_share is not None:
        text += (
            f"\n\n**Memory sampler** (a thread of the harness, on the measured machine): "
            f"{c.sampler_share.median:.1%} of one core per run, at most "
            f"{c.sampler_share.high:.1%}, trees of up to {c.sampler_processes} processes"
            + (
                f" (budget {c.sampler_budget:.0%}: the interval adapts to the cost of a sample)"
                if c.sampler_budget is not None
                else ""
            )
            + "."
        )
    if c.snapshot:
        steps = [
            ("backup_s", "online backup"),
            ("check_s", f"`{c.check}`"),
            ("counts_s", "row counts"),
            ("hash_s", "sha256"),
        ]
        text += "\n\n**Snapshot:** " + ", ".join(
            f"{name} {_secs(c.snapshot[key])}" for key, name in steps if key in c.snapshot
        )
        text += " (`--check quick` runs `quick_check` instead; full is the default: it caught "
        text += "8 of 8 corrupt copies where quick_check caught 3)."
    return text


def _recommendation(a: Analysis, meta: Mapping[str, Any]) -> str:
    rec = a.recommendation
    lines = ["### Recommendation", "", f"**{rec.headline}**", ""]
    lines += [f"- {r}" for r in rec.reasons]
    if rec.memory_bytes:
        lines.append(
            f"- memory: a peak of {_bytes(rec.memory_bytes)} (PSS of the whole process tree, "
            f"the largest over rounds) on this machine's {_bytes(num(meta, 'memory_bytes'))}"
        )
    return "\n".join(lines)


def _mismatches(mismatches: Sequence[Mapping[str, Any]], runs: int = 3, examples: int = 3) -> str:
    """The first differing rows of the first mismatched runs, expected against got."""
    found = [m for m in mismatches if isinstance(m, Mapping)]
    if not found:
        return ""
    rows = []
    for m in found[:runs]:
        for table, diff in (m.get("tables") or {}).items():
            if not isinstance(diff, Mapping):
                continue
            if diff.get("note"):
                rows.append([f"{m.get('label')} r{m.get('round')}", table, "-", diff["note"], ""])
            for ex in (diff.get("examples") or [])[:examples]:
                exp, got = ex.get("expected") or {}, ex.get("got") or {}
                changed = [k for k in exp.keys() | got.keys() if exp.get(k) != got.get(k)]
                cols = sorted(changed) if ex.get("kind") == "differ" else sorted(exp or got)
                rows.append(
                    [
                        f"{m.get('label')} r{m.get('round')}",
                        table,
                        f"{ex.get('kind')}: {ex.get('key')}",
                        "; ".join(f"{k}={exp.get(k)!r}" for k in cols) if exp else "(none)",
                        "; ".join(f"{k}={got.get(k)!r}" for k in cols) if got else "(none)",
                    ]
                )
    text = "### Mismatches\n\nFirst differing rows (only the columns that differ), reference first."
    if rows:
        text += "\n\n" + _table(["run", "table", "row", "expected", "got"], rows)
    return text


def _failed(a: Analysis) -> str:
    if not a.failed_runs:
        return "## Failed Runs\n\nNone."
    rows = [
        [
            _text(r.label),
            _text(r.round),
            _text(r.exit_code),
            "yes" if r.timed_out else "no",
            _secs(r.wall_s),
        ]
        for r in a.failed_runs
    ]
    text = "## Failed Runs\n\n" + _table(["run", "round", "exit status", "timed out", "wall"], rows)
    for r in a.failed_runs:
        tail = (r.stderr_tail or "(no stderr)").rstrip().replace("```", "'''")
        name = f"{_text(r.label)} round {_text(r.round)}"
        text += f"\n\n{name}, stderr tail:\n\n```\n{tail}\n```"
    return text


def _ignored(
    settings: Mapping[str, Any], verdict: Verdict, input_check: Mapping[str, Any] | None = None
) -> str:
    tables = ", ".join(f"`{t}`" for t in settings.get("tables") or []) or "not recorded"
    ignored = ", ".join(f"`{c}`" for c in settings.get("ignore_columns") or []) or "none"
    source = f" ({settings['ignore_source']})" if settings.get("ignore_source") else ""
    said = describe(input_check) if input_check else ""
    inputs = f"  \n{said[:1].upper()}{said[1:]}." if said else ""
    text = (
        f"## Ignored Columns\n\nTables compared row by row (ids included): {tables}.  \n"
        f"Columns ignored by the comparison: {ignored}{source}.{inputs}"
    )
    if verdict.time_columns_only:
        text += (
            "\n\nOnly timestamp or duration columns differ: "
            + ", ".join(f"`{c}`" for c in verdict.time_columns_only)
            + ". The job writes another clock than the run's `{now}`: give it `{now}` (best), "
            f"or, knowingly, rerun with `{verdict.ignore_hint}`."
        )
    return text


def _conclusion(a: Analysis, results: Results, comparison: Comparison | None) -> str:
    snap = results.snapshot
    runs = len(results.runs)
    failed = len(a.failed_runs)
    rec = a.recommendation
    best_gain = [c for c in a.parallel if c.effect == "gain"]
    lines = [
        (
            "Snapshot",
            snap.get("integrity_check") == "ok",
            f"integrity_check {_text(snap.get('integrity_check'))}",
        ),
        ("Runs", failed == 0, f"{runs - failed} of {runs} completed"),
        (
            "Determinism",
            not a.red,
            "every run wrote exactly the reference's rows"
            if not a.red
            else f"{len(a.mismatch_lines)} mismatch(es), {failed} failed run(s)",
        ),
        (
            "Noise floor",
            a.noise.rel is not None,
            f"±{a.noise.rel:.1%} over {len(a.noise.per_round)} A/A pairs"
            if a.noise.rel is not None
            else "not measured (no complete A/A pair)",
        ),
        (
            "Speed-up over the control's serial path" if a.roles else "Parallel speed-up",
            bool(best_gain),
            ", ".join(f"{c.label} {_x(c.speedup)}" for c in best_gain) + " beyond the noise"
            if best_gain
            else "no configuration beats serial beyond the noise",
        ),
        (
            "Recommendation",
            rec.kind in ("deploy", "keep_serial", "candidate_matches"),
            rec.headline,
        ),
        (
            "Rounds",
            all(c.effect != "too_few_rounds" for c in a.parallel),
            f"{a.rounds} paired round(s); a claim needs at least {_needed(a)}",
        ),
    ]
    if comparison is not None:
        regressed = comparison.regressed
        lines.append(("Baseline", not regressed, "regression" if regressed else "no regression"))
    return "## Conclusion\n\n" + "  \n".join(
        f"**{name}:** {OK if good else BAD} {text}" for name, good, text in lines
    )


# ---- formatting ----------------------------------------------------------------------------


def _summary(c: ConfigStats) -> Mapping[str, Any]:
    """The summary of the configuration's first completed run that printed one."""
    for run in sorted(c.ok_runs, key=lambda r: (r.round, r.order)):
        if run.summary is not None:
            return run.summary
    return {}


def _aa_pairs(serial: ConfigStats) -> list[tuple[Any, float, float]]:
    """(round, serial-a wall, serial-b wall) of every round where both completed."""
    walls: dict[tuple[int, str], float] = {}
    for run in serial.ok_runs:
        walls[(run.round, run.label)] = run.wall_s or 0.0
    rounds = sorted({rnd for rnd, _ in walls})
    pairs = [(r, walls.get((r, "serial-a")), walls.get((r, "serial-b"))) for r in rounds]
    return [(r, a, b) for r, a, b in pairs if a and b]


def _needed(a: Analysis) -> int:
    return next((c.claim.needed for c in a.parallel if c.claim is not None), 5)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *map(line, rows)])


def _text(value: Any) -> str:
    return "n/a" if value is None or value == "" else str(value)


def _toml(value: Any) -> str:
    return json.dumps(value)


def _secs(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value >= 120:
        return f"{int(value // 60)} min {value % 60:04.1f} s"
    return f"{value:.2f} s"


def _bytes(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value >= 1024**3:
        return f"{value / 1024**3:.1f} GiB"
    return f"{value / 1024**2:.0f} MiB"


def _spread_bytes(c: ConfigStats) -> str:
    return f"{_bytes(c.pss.median)} ({_bytes(c.pss.high)})" if c.pss else "n/a"


def _int(value: float | None) -> str:
    return "n/a" if value is None else f"{int(value):,}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def _share(seconds: float, wall: float) -> str:
    return f"{seconds:.2f} s ({seconds / wall:.0%})" if wall > 0 else f"{seconds:.2f} s"
