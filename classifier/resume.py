"""What a run does with an earlier one, decided from the job's ``job_status`` row (SPEC 2.6).

Each chunk commits with a progress row holding the run's ``now``, its config hash and the last
wallet written (a resume's ``starting`` row keeps them), so an interrupted run can continue
exactly after its last committed chunk, however often it is interrupted.

An interrupted run is a row of ours (``now`` and ``config_hash`` in its metadata) whose status
is ``running`` or ``failed``; ``--resume`` continues either. ``running`` while we hold the run
lock means the run was killed (it had no chance to say so): a plain run refuses to discard it
silently, and ``--restart`` starts afresh. A ``failed`` run recorded its error and exited
non-zero: a plain run starts afresh, as production's hourly run does.
"""

from __future__ import annotations

import json
from typing import Any

from persona_bench.kernel.errors import UserError


class ResumeError(UserError):
    """The interrupted run may not be continued with this config or ``now``."""


class InterruptedRunError(UserError):
    """A plain run met a killed one: the user must choose --resume or --restart."""


def plan(
    prior: dict[str, Any] | None, now: int | None, config_hash: str, *, resume: bool, restart: bool
) -> tuple[str, dict[str, Any] | None]:
    """What this run does: ("fresh", None), ("continue", meta) or ("done", meta)."""
    if resume and restart:
        raise UserError("--resume and --restart contradict each other")
    if restart:
        return "fresh", None
    if resume:
        return check_resume(prior, now, config_hash)
    meta = _our_meta(prior)
    if prior is not None and meta is not None and prior["status"] == "running":
        where = (
            f"after wallet {meta['last_wallet']}"
            if meta.get("last_wallet")
            else "before its first chunk"
        )
        raise InterruptedRunError(
            f"the last run (now {meta['now']}) was killed {where}: continue it with --resume,"
            " or discard its progress and start afresh with --restart"
        )
    return "fresh", None


def _our_meta(prior: dict[str, Any] | None) -> dict[str, Any] | None:
    """The row's metadata when a run of ours wrote it (it holds now and config_hash)."""
    try:
        meta = json.loads(prior["metadata"] or "") if prior else None
        int(meta["now"]), str(meta["config_hash"])  # type: ignore[index]
    except (ValueError, KeyError, TypeError):
        return None
    return meta if isinstance(meta, dict) else None


def check_resume(
    prior: dict[str, Any] | None, now: int | None, config_hash: str
) -> tuple[str, dict[str, Any] | None]:
    """("continue", its metadata), ("fresh", None) or ("done", its metadata).

    A run killed before its first commit left no row of its own: it starts afresh. A completed
    run with the same ``now`` is not run again (its rows would get new ids).
    """
    meta = _our_meta(prior)
    if meta is None:
        return "fresh", None  # no run of ours committed anything
    assert prior is not None
    prior_now, prior_hash = int(meta["now"]), str(meta["config_hash"])
    if prior["status"] == "idle":
        return ("done", meta) if now is None or now == prior_now else ("fresh", None)
    if now is not None and now != prior_now:
        raise ResumeError(f"--now {now} differs from the interrupted run's now ({prior_now})")
    if prior_hash != config_hash:
        raise ResumeError(
            f"the config differs from the interrupted run's (expected hash {prior_hash[:12]},"
            f" got {config_hash[:12]})"
        )
    return "continue", meta
