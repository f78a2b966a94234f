"""Synthetic validate results: a schema-valid ``results.json`` dict built from a few known numbers.

For tests, canaries and demos of the report and the baseline gate: give the wall time of every run
(serial A/A pairs and each task count, per round) and get the dict ``persona-bench validate`` would
have written (``docs/contracts.md``), with summaries, phases and memory derived from those walls.
Nothing here measures anything; every figure is a function of the arguments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness.results import SCHEMA_NAME, SCHEMA_VERSION

MIB = 1024 * 1024
_COUNTERS = {  # the seed's figures (a prod-sized run)
    "processed": 16880,
    "stage1_no_trades": 15212,
    "stage1_other": 1358,
    "stage2_excluded": 304,
    "suitable": 6,
    "unclassified": 712,
    "errors": 0,
}
_OTHER_SHARES = {"stage1_s": 0.4, "classify_s": 0.1, "write_s": 0.4, "other_s": 0.1}


def synthetic_results(
    *,
    serial: Sequence[tuple[float, float]],
    parallel: Mapping[int, Sequence[float]],
    cpu_count: int = 2,
    feature_share: float = 0.7,
    pss_serial: int = 80 * MIB,
    pss_per_task: int = 45 * MIB,
    mismatch: str | None = None,
    fail: str | None = None,
    name: str = "synthetic",
    hostname: str = "bench-host",
    cpu_model: str = "Synthetic CPU @ 2.0GHz",
    created_at: str = "2026-11-28T15:00:00Z",
) -> dict[str, Any]:
    """Results of ``len(serial)`` rounds; ``parallel[n][r]`` is the wall of tasks=n in round r.

    ``feature_share`` is the share of the serial job's wall spent computing features (the rest is
    serial work, the Amdahl fraction). ``mismatch`` names a label (``tasks=8``, ``serial-b``) whose
    round-1 run wrote different rows; ``fail`` one whose round-1 run exited with status 1.
    """
    rounds = len(serial)
    if any(len(walls) != rounds for walls in parallel.values()):
        raise ValueError("every task count needs one wall per round")
    serial_wall = sorted(w for pair in serial for w in pair)[rounds]  # about the median
    fixed = serial_wall * (1 - feature_share)  # the serial part, paid by every run
    runs: list[dict[str, Any]] = []
    for r in range(rounds):
        plan = [("serial-a", 0, serial[r][0])]
        plan += [(f"tasks={n}", n, walls[r]) for n, walls in sorted(parallel.items())]
        plan.append(("serial-b", 0, serial[r][1]))
        for order, (label, tasks, wall) in enumerate(plan):
            runs.append(_run(r + 1, order, label, tasks, wall, fixed, pss_serial, pss_per_task))
    mismatches = []
    for run in runs:
        if run["round"] != 1:
            continue
        if run["label"] == fail:
            run.update(failed=True, identical=False, exit_code=1, summary=None)
            run["stderr_tail"] = (
                "Traceback (most recent call last):\nsqlite3.OperationalError: disk I/O error"
            )
        if run["label"] == mismatch:
            run["identical"] = False
            row = {"id": 17, "proxy_wallet": "0x00a1", "reason": "NEWS_SNIPER", "threshold": 0.7}
            example = {
                "kind": "differ",
                "key": "id=17",
                "expected": {**row, "metric_value": "0.7142857142857143 (0x1.6db6db6db6db7p-1)"},
                "got": {**row, "metric_value": "0.7142857142857142 (0x1.6db6db6db6db6p-1)"},
            }
            diff = {"differ": 1, "missing": 0, "extra": 0, "id_shifted": 0, "examples": [example]}
            tables = {"wallet_exclusions": diff}
            run["diff"] = {"tables": tables}
            mismatches.append({"label": mismatch, "round": 1, "tables": tables})
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": SCHEMA_NAME,
        "name": name,
        "created_at": created_at,
        "metadata": {
            "hostname": hostname,
            "platform": "Linux-6.1.0-x86_64-with-glibc2.36",
            "cpu_model": cpu_model,
            "cpu_count": cpu_count,
            "memory_bytes": 24 * 1024 * MIB,
            "python": "3.11.7",
            "sqlite": "3.40.1",
            "package_version": "0.1.0",
            "git_commit": "0123abc",
        },
        "settings": {
            "tasks": sorted(parallel),
            "repeat": rounds,
            "backend": "process",
            "now": 1767225600,
            "serial_cmd": "persona-bench classify --db {db} --serial --now {now} --json",
            "parallel_cmd": "persona-bench classify --db {db} --tasks {tasks} --now {now} --json",
            "config_path": None,
            "tables": [
                "wallet_personas",
                "wallet_exclusions",
                "wallet_persona_traits",
                "job_status",
            ],
            "ignore_columns": ["job_status.duration_ms"],
            "run_timeout_s": 1800,
        },
        "snapshot": {
            "source": "/data/prod.db",
            "source_size_bytes": 412 * MIB,
            "taken_at": "2026-11-28T14:58:02Z",
            "method": "sqlite3 online backup from a mode=ro connection",
            "page_size": 4096,
            "page_count": 412 * 256,
            "size_bytes": 412 * MIB,
            "sha256": "9f" * 32,
            "integrity_check": "ok",
            "duration_s": 2.4,
            "row_counts": {"wallets": 17700, "trades_raw": 1500000},
            "active_wallets": 17657,
            "classified_wallets": 102,
        },
        "runs": runs,
        "verdict": {
            "identical": not mismatches and fail is None,
            "reference": "round 1 serial-a",
            "failed_runs": int(fail is not None),
            "mismatched_runs": len(mismatches),
            "nondeterministic": mismatch in ("serial-a", "serial-b"),
            "mismatches": mismatches,
        },
    }


def _run(
    rnd: int, order: int, label: str, tasks: int, wall: float, fixed: float, pss0: int, pss1: int
) -> dict[str, Any]:
    startup = min(0.4, 0.05 * wall)
    other = min(fixed, wall) - startup
    phases = {k: round(other * share, 6) for k, share in _OTHER_SHARES.items()}
    phases["features_s"] = round(max(wall - startup - other, 0.0), 6)
    cpu = wall * 0.97 if tasks == 0 else phases["features_s"] * min(tasks, 2) * 0.9 + other
    summary = {
        "schema": "persona-bench.classify/1",
        "version": "0.1.0",
        "db": f"/tmp/replay/r{rnd}-{label}.db",
        "now": 1767225600,
        "now_iso": "2026-01-01 00:00:00.000",
        "config_hash": "c0" * 32,
        "config": {
            "parallel_enabled": True,
            "parallel_tasks": 8,
            "parallel_backend": "process",
            "chunk_size": 100,
            "window_days": 180,
        },
        "mode": "parallel" if tasks else "serial",
        "backend": "process" if tasks else None,
        "tasks": tasks,
        "resumed": False,
        "skipped": None,
        "total": 17657,
        "counters": dict(_COUNTERS),
        "failures": [],
        "phases": phases,
        "wall_s": round(wall - startup, 6),
        "cpu_s": round(cpu, 6),
        "workers": {
            "busy_s": round(phases["features_s"] * min(tasks, 2), 6),
            "utilization": round(min(tasks, 2) / tasks * 0.9, 4) if tasks else 0.0,
            "pool_restarts": 0,
            "recomputed": 0,
            "events": [],
        },
    }
    return {
        "round": rnd,
        "order": order,
        "label": label,
        "mode": "parallel" if tasks else "serial",
        "tasks": tasks,
        "command": ["persona-bench", "classify", "--db", summary["db"], "--json"],
        "exit_code": 0,
        "timed_out": False,
        "failed": False,
        "stderr_tail": "",
        "wall_s": wall,
        "cpu_user_s": round(cpu * 0.9, 6),
        "cpu_system_s": round(cpu * 0.1, 6),
        "cpu_s": round(cpu, 6),
        "peak_pss_bytes": pss0 + pss1 * tasks,
        "peak_uss_bytes": int((pss0 + pss1 * tasks) * 0.8),
        "peak_rss_max_bytes": pss0 + 30 * MIB,
        "samples": int(wall * 10),
        "summary": summary,
        "identical": True,
        "diff": None,
    }
