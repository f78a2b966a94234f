"""What ``--resume`` does, decided from the job's ``job_status`` row (SPEC 2.6).

Each chunk commits with a progress row holding the run's ``now``, its config hash and the last
wallet written, so an interrupted run can continue exactly after its last committed chunk.
"""

from __future__ import annotations

import json
from typing import Any

from persona_bench.errors import UserError


class ResumeError(UserError):
    """The interrupted run may not be continued with this config or ``now``."""


def check_resume(
    prior: dict[str, Any] | None, now: int | None, config_hash: str
) -> tuple[str, dict[str, Any] | None]:
    """("continue", its metadata), ("fresh", None) or ("done", its metadata).

    A run killed before its first commit left no row of its own: it starts afresh. A completed
    run with the same ``now`` is not run again (its rows would get new ids).
    """
    try:
        meta = json.loads(prior["metadata"] or "") if prior else None
        prior_now, prior_hash = int(meta["now"]), str(meta["config_hash"])  # type: ignore[index]
    except (ValueError, KeyError, TypeError):
        return "fresh", None  # no run of ours committed anything
    assert prior is not None and isinstance(meta, dict)
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
