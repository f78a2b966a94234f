"""The report's plots (PNG): wall time, speed-up, peak memory and phase breakdown by task count.

Each function draws one figure from an ``Analysis`` and returns the path written, or None when
there is nothing to draw (no successful parallel run, no phase timings). matplotlib is imported
inside the functions, on the Agg canvas, without pyplot: importing this module stays cheap and
never touches a display or global figure state.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.reporting.analysis import Analysis, ConfigStats

SIZE = (8.0, 4.5)  # inches: readable in a Markdown viewer without zooming
DPI = 110
MIB = 1024 * 1024
PHASE_LABELS = {
    "stage1_s": "Stage 1",
    "features_s": "features (parallel: waiting for workers)",
    "classify_s": "Stage 2",
    "write_s": "writes",
    "other_s": "other (job)",
    "startup_s": "start-up & exit",
}
_ROUND_MARKERS = "osD^vP*X"


def _figure() -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _legend(fig: Any, ax: Any) -> None:
    """Below the axes, outside them: a legend inside would hide points or lines somewhere."""
    fig.legend(
        *ax.get_legend_handles_labels(), loc="outside lower center", ncols=3, fontsize="small"
    )


def _rounds(a: Analysis) -> list[Any]:
    return sorted({r.round for c in (a.serial, *a.parallel) for r in c.ok_runs})


def _per_round_points(
    ax: Any, a: Analysis, configs: Sequence[ConfigStats], key: str, scale: float
) -> None:
    """One marker per round, nudged sideways so that rounds at one task count do not hide."""
    rounds = _rounds(a)
    xs = sorted({c.tasks for c in configs})
    gap = min((b - x for x, b in itertools.pairwise(xs)), default=1) or 1
    for i, rnd in enumerate(rounds):
        offset = (i - (len(rounds) - 1) / 2) * 0.06 * gap
        pts = [
            (c.tasks + offset, v / scale)
            for c in configs
            for r in c.ok_runs
            if r.round == rnd and (v := getattr(r, key)) is not None
        ]
        if pts:
            ax.scatter(
                *zip(*pts, strict=True),
                marker=_ROUND_MARKERS[i % len(_ROUND_MARKERS)],
                s=26,
                alpha=0.75,
                label=f"round {rnd}",
                zorder=3,
            )


def _task_axis(ax: Any, configs: Sequence[ConfigStats], extra: Sequence[int] = ()) -> None:
    ticks = sorted({c.tasks for c in configs} | set(extra))
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.set_xlabel("parallel tasks")
    ax.grid(True, alpha=0.3)


def plot_wall(a: Analysis, path: Path) -> Path | None:
    """Wall time per round and its median by task count; serial median with its noise band."""
    configs = [c for c in a.parallel if c.wall is not None]
    if not configs or a.serial.wall is None:
        return None
    fig = _figure()
    ax = fig.add_subplot()
    serial = a.serial.wall.median
    noise = a.noise.band
    ax.axhspan(
        serial * (1 - noise),
        serial * (1 + noise),
        color="tab:gray",
        alpha=0.2,
        label=f"A/A noise ±{noise:.1%}",
    )
    ax.axhline(serial, color="black", ls="--", lw=1.2, label=f"serial median {serial:.2f} s")
    _per_round_points(ax, a, configs, "wall_s", 1.0)
    ax.plot(
        [c.tasks for c in configs],
        [c.wall.median for c in configs if c.wall is not None],
        color="tab:blue",
        lw=1.8,
        marker="_",
        ms=14,
        label="median",
    )
    _task_axis(ax, configs)
    # headroom above the serial band and the slowest run, so neither touches the frame
    walls = [r.wall_s or 0.0 for c in configs for r in c.ok_runs]
    ax.set_ylim(0, max([serial * (1 + noise), *walls]) * 1.08)
    ax.set_ylabel("wall time (s)")
    ax.set_title("Wall time of the whole run by task count (lower is better)")
    _legend(fig, ax)
    fig.savefig(path)
    return path


def plot_speedup(a: Analysis, path: Path) -> Path | None:
    """Measured speed-up (median, range across rounds) against the ideal and Amdahl's bound."""
    # a candidate's serial path (control vs candidate, tasks 0) has no place on a task axis
    configs = [c for c in a.parallel if c.speedup is not None and c.tasks >= 1]
    if not configs:
        return None
    fig = _figure()
    ax = fig.add_subplot()
    top = max(c.tasks for c in configs)
    ns = list(range(1, top + 1))
    ideal = [min(n, a.cores) if a.cores else n for n in ns]
    ax.plot(ns, ideal, color="tab:green", ls=":", lw=1.5, label="ideal: min(tasks, cores)")
    if a.serial_fraction is not None:
        ax.plot(
            ns,
            [a.amdahl(n) for n in ns],
            color="tab:orange",
            ls="--",
            lw=1.5,
            label=f"Amdahl bound (serial fraction {a.serial_fraction:.0%})",
        )
    noise = a.noise.band
    ax.axhspan(
        1 - noise, 1 + noise, color="tab:gray", alpha=0.25, label=f"1.0 ± noise ({noise:.1%})"
    )
    xs = [c.tasks for c in configs]
    ys = [c.speedup or 0.0 for c in configs]
    # clamped: matplotlib refuses a negative error bar, whatever the data says
    lows = [max(y - (c.speedup_low or y), 0.0) for c, y in zip(configs, ys, strict=True)]
    highs = [max((c.speedup_high or y) - y, 0.0) for c, y in zip(configs, ys, strict=True)]
    ax.errorbar(
        xs,
        ys,
        yerr=[lows, highs],
        color="tab:blue",
        marker="o",
        capsize=4,
        lw=1.8,
        label="measured (median, range over rounds)",
        zorder=3,
    )
    rec = a.recommendation
    if rec.kind == "deploy" and rec.tasks is not None:
        chosen = next(c for c in configs if c.tasks == rec.tasks)
        ax.scatter(
            [chosen.tasks],
            [chosen.speedup],
            marker="*",
            s=220,
            color="gold",
            edgecolor="black",
            zorder=4,
            label=f"recommended: {chosen.label}",
        )
    # the ideal and Amdahl curves start at one task and bend at the core count: tick both
    _task_axis(ax, configs, [n for n in (1, a.cores) if n is not None and n <= top])
    ax.set_ylim(
        bottom=0, top=max(max(ideal), max(y + h for y, h in zip(ys, highs, strict=True))) * 1.1
    )
    ax.set_ylabel("speed-up over serial median (×)")
    ax.set_title("Speed-up by task count (higher is better)")
    _legend(fig, ax)
    fig.savefig(path)
    return path


def plot_memory(a: Analysis, path: Path) -> Path | None:
    """Peak PSS of the process tree per round and its median, with the serial median."""
    configs = [c for c in a.parallel if c.pss is not None]
    if not configs:
        return None
    fig = _figure()
    ax = fig.add_subplot()
    if a.serial.pss is not None:
        ax.axhline(
            a.serial.pss.median / MIB,
            color="black",
            ls="--",
            lw=1.2,
            label=f"serial median {a.serial.pss.median / MIB:.0f} MiB",
        )
    _per_round_points(ax, a, configs, "peak_pss_bytes", MIB)
    ax.plot(
        [c.tasks for c in configs],
        [c.pss.median / MIB for c in configs if c.pss is not None],
        color="tab:purple",
        lw=1.8,
        marker="_",
        ms=14,
        label="median",
    )
    _task_axis(ax, configs)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("peak memory, PSS of the process tree (MiB)")
    ax.set_title("Peak memory by task count")
    _legend(fig, ax)
    fig.savefig(path)
    return path


def plot_phases(a: Analysis, path: Path) -> Path | None:
    """Stacked bars: where the wall time of the serial and of the best parallel run went."""
    bars = [b for b in (a.serial_breakdown, a.best_breakdown) if b is not None]
    if not bars:
        return None
    fig = _figure()
    ax = fig.add_subplot()
    names = [f"{b.label}\n(round {b.round})" for b in bars][::-1]
    phases: Sequence[Mapping[str, float]] = [b.phases for b in bars][::-1]
    left = [0.0] * len(bars)
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:gray"]
    for key, color in zip(PHASE_LABELS, colors, strict=True):
        widths = [p.get(key, 0.0) for p in phases]
        ax.barh(names, widths, left=left, color=color, label=PHASE_LABELS[key], height=0.5)
        left = [x + w for x, w in zip(left, widths, strict=True)]
    for y, b in enumerate(bars[::-1]):
        ax.text(b.wall * 1.01, y, f"{b.wall:.2f} s", va="center", fontsize="small")
    ax.set_xlim(0, max(b.wall for b in bars) * 1.15)
    ax.set_xlabel("wall time (s)")
    ax.set_title("Where the time goes: serial vs best parallel run")
    ax.grid(True, axis="x", alpha=0.3)
    _legend(fig, ax)
    fig.savefig(path)
    return path


PLOTS = {
    "wall.png": plot_wall,
    "speedup.png": plot_speedup,
    "memory.png": plot_memory,
    "phases.png": plot_phases,
}


def render_plots(a: Analysis, out_dir: Path) -> dict[str, Path]:
    """Draw every plot there is data for into ``out_dir``; stale ones from an older render go."""
    written: dict[str, Path] = {}
    for name, draw in PLOTS.items():
        path = out_dir / name
        path.unlink(missing_ok=True)
        try:
            result = draw(a, path)
        except BaseException:  # e.g. a full disk: no half-written PNG stays behind
            path.unlink(missing_ok=True)
            raise
        if result is not None:
            written[name] = result
    return written
