"""Tiny ``argparse`` types shared by the subcommands: each says what it expected and what it got."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from datetime import UTC, datetime


def integer(minimum: int) -> Callable[[str], int]:
    """A type for an integer >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum} (got {text!r})")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


def seconds(text: str) -> float:
    """A finite number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected seconds > 0 (got {text!r})")
    return value


MAX_NOW = 253_402_300_799  # 9999-12-31 23:59:59 UTC: the last second a timestamp row can hold


def epoch(text: str) -> int:
    """``--now``: unix seconds, or an ISO-8601 time (UTC unless it says otherwise), 1970-9999."""
    try:
        value = int(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected unix seconds or an ISO-8601 time (got {text!r})"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        value = int(moment.timestamp())
    if not 0 <= value <= MAX_NOW:
        raise argparse.ArgumentTypeError(f"expected a time from 1970 to 9999 (got {text!r})")
    return value
