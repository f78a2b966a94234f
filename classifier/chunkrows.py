"""One chunk's decisions -> the rows it writes, its counter increments and its failures. Pure.

Built where the chunk is evaluated (a worker, or the writer on the serial path), so that the
writer only runs SQL: it receives plain tuples, cheap to unpickle, already in wallet order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from classifier.config import PersonaConfig
from classifier.features import Features
from classifier.stage1 import Stage1Outcome
from classifier.stage2 import classify
from classifier.store import ChunkWrites


class FeatureResult(Protocol):
    """What ``chunk_rows`` reads of one wallet's feature step (``executor.WalletResult``).

    A protocol rather than an import: the executor imports this module, so importing its class
    back would make the two modules import each other.
    """

    @property
    def features(self) -> Features | None: ...

    @property
    def error(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class ChunkRows:
    """What one chunk changes: its writes, the counters it adds, its failed wallets."""

    writes: ChunkWrites
    counts: dict[str, int] = field(default_factory=dict)
    failures: tuple[tuple[str, str], ...] = ()  # (wallet, error) in wallet order


def chunk_rows(
    outcomes: Sequence[Stage1Outcome],
    results: Mapping[str, FeatureResult],
    cfg: PersonaConfig,
    ts: str,
) -> ChunkRows:
    """Stage 2 for the passers with features, then every row of the chunk in wallet order."""
    counts: dict[str, int] = {}
    failures = []
    w = ChunkWrites()
    for o in outcomes:
        if not o.passed:
            assert o.reason is not None and o.counter is not None
            w.exclusions.append((o.wallet, o.reason, o.metric_value, o.threshold, ts))
            counts[o.counter] = counts.get(o.counter, 0) + 1
            counts["processed"] = counts.get("processed", 0) + 1
            continue
        w.stage1_cleared.append((o.wallet,))
        res = results[o.wallet]
        if res.features is None:
            assert res.error is not None
            failures.append((o.wallet, res.error))
            counts["errors"] = counts.get("errors", 0) + 1
            continue
        d = classify(res.features, o.age_days, cfg)
        for change in d.traits:
            if change.value is None:
                w.trait_deletes.append((o.wallet, change.key))
            else:
                w.trait_upserts.append((o.wallet, change.key, change.value, ts))
        if d.kind == "excluded":
            assert d.label is not None
            w.exclusions.append((o.wallet, d.label, d.value, d.threshold, ts))
        elif d.kind == "suitable":
            assert d.label is not None and d.value is not None
            w.personas.append((o.wallet, d.label, d.value, ts))
        counts[d.counter] = counts.get(d.counter, 0) + 1
        if d.kind != "unclassified":
            counts["processed"] = counts.get("processed", 0) + 1
    return ChunkRows(w, counts, tuple(failures))
