"""Fixture profiles: how many wallets of each archetype, the markets, and a previous run's rows.

    tiny    ~200 wallets: every Stage 1 reason, every reachable exclusion, persona and trait,
            the roi gate, a feature error, and the edge cases of ``harness/edge_cases.py``
    prod    the seed's state: 17,657 active wallets (counts chosen so that a serial run gives the
            seed's 15,212 / 1,358 / 304 / 6), 102 classified by an earlier run, ~1.5M trades
    stress  prod times ``scale`` (default 10) in wallets and trades, 30% of wallets past Stage 1

Everything here is pure: a profile, a seed and a scale give a ``Plan`` (one archetype per wallet
index, in a seeded shuffle) and the wallets are then built one by one from their own
sub-seeded ``random.Random``, so no row depends on another wallet's draws or on batch sizes.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from harness import archetypes as a
from harness import persona_archetypes as p
from harness.archetypes import KNOWN_BOT_ADDRESS, Builder, Knobs, ordinary
from harness.draft import DAY, WINDOW, Catalogue, Draft, Weights, fmt_time, heavy
from harness.edge_cases import EDGE_BUILDERS

Row = tuple[Any, ...]

# 2026-02-13 13:57:11 UTC: the seed's serial run started then (../shared/seed/).
REFERENCE_NOW = 1_770_991_031
PROFILES = ("tiny", "prod", "stress")
DEFAULT_SCALE = {"tiny": 1.0, "prod": 1.0, "stress": 10.0}

_PROD = {  # archetype -> wallets; the Stage-2 split of the seed's 304 is our choice
    "no_trades": 15_212,
    "young": 520,
    "few": 480,
    "inactive": 358,
    "ordinary": 775,
    "feature_error": 2,
    "noise": 55,
    "news": 60,
    "liquidity": 50,
    "bot_swarm": 6,
    "tail_risk": 40,
    "jackpot": 64,
    "insufficient": 29,
    "specialist": 2,
    "generalist": 2,
    "accumulator": 2,
    "dormant": 30,
}
_TINY = {
    "no_trades": 40,
    "young": 8,
    "few": 8,
    "inactive": 8,
    "dormant": 3,
    "ordinary": 85,
    "feature_error": 2,
    "noise": 3,
    "news": 4,
    "liquidity": 4,
    "bot_swarm": 1,
    "tail_risk": 4,
    "jackpot": 4,
    "insufficient": 4,
    "specialist": 3,
    "generalist": 3,
    "accumulator": 3,
    "known_bot": 1,
    "mixed_case": 1,
    **{f"edge:{name}": 1 for name in EDGE_BUILDERS},
}
_KNOBS = {
    "tiny": Knobs(
        ordinary_pairs=(12, 120),
        history=(5, 500),
        young=(2, 500),
        inactive=(10, 500),
        noise_pairs=(700, 900),
    ),
    "prod": Knobs(),
    "stress": Knobs(ordinary_pairs=(12, 200), history=(5, 2000), history_share=0.2),
}
_BUILDERS: dict[str, Builder] = {
    "no_trades": a.no_trades,
    "young": a.young,
    "few": a.few,
    "inactive": a.inactive,
    "dormant": a.dormant,
    "ordinary": a.ordinary,
    "feature_error": a.feature_error,
    "noise": a.noise,
    "news": a.news,
    "liquidity": a.liquidity,
    "bot_swarm": a.bot_swarm,
    "tail_risk": a.tail_risk,
    "jackpot": a.jackpot,
    "insufficient": p.insufficient,
    "specialist": p.specialist,
    "generalist": p.generalist,
    "accumulator": p.accumulator,
}

PASSING = {
    "ordinary",
    "feature_error",
    "noise",
    "news",
    "liquidity",
    "bot_swarm",
    "tail_risk",
    "jackpot",
    "insufficient",
    "specialist",
    "generalist",
    "accumulator",
    "known_bot",
    "mixed_case",
    "edge:age_exactly_45",
    "edge:ten_trades",
    "edge:last_trade_45_days",
    "edge:odd_sides",
    "edge:snapshot_ties",
    "edge:paper_null_pnl",
    "edge:paper_outside_window",
}

_CATEGORIES = (  # (domain, weight in %): None = NULL category, "-" = no markets row at all
    ("Sports", 28),
    ("Politics", 22),
    ("Crypto", 18),
    ("Pop Culture", 8),
    ("Business", 7),
    ("World", 7),
    ("Science", 5),
    (None, 3),
    ("", 1),
    ("-", 3),
)
_TITLES = ("Will {} happen by June?", "{}: over or under?", "Who wins {}?", "{} above target?")


@dataclass(frozen=True)
class Plan:
    """What to generate: one archetype per wallet index, the markets and the knobs."""

    profile: str
    seed: int
    scale: float
    now: int
    archetypes: tuple[str, ...]
    classified: frozenset[int]  # wallet indices with a persona row from an earlier run
    knobs: Knobs
    n_markets: int


def counts(profile: str, scale: float) -> dict[str, int]:
    """Wallets per archetype for ``profile`` at ``scale`` (prod and tiny scale every count)."""
    base = _TINY if profile == "tiny" else _PROD
    if profile != "stress":
        return {a: max(1, round(c * scale)) for a, c in base.items()}
    out = {a: max(1, round(c * scale)) for a, c in _PROD.items()}
    active = round(17_657 * scale)
    passing = round(0.3 * active)
    out["ordinary"] = max(
        0, passing - sum(c for a, c in out.items() if a in PASSING and a != "ordinary")
    )
    failing = out["young"] + out["few"] + out["inactive"]
    out["no_trades"] = max(0, active - passing - failing)
    return out


def make_plan(profile: str, seed: int, scale: float) -> Plan:
    """The archetype of every wallet, in a seeded shuffle (addresses are random anyway)."""
    names = [a for a, c in counts(profile, scale).items() for _ in range(c)]
    rng = random.Random(f"persona-bench:{seed}:plan")
    rng.shuffle(names)
    passing = [i for i, a in enumerate(names) if a in PASSING]
    n_classified = {"tiny": 8, "prod": 102}.get(profile, round(102 * scale))
    classified = frozenset(rng.sample(passing, min(n_classified, len(passing))))
    n_markets = 1500 if profile == "tiny" else max(1500, round(5000 * scale))
    return Plan(
        profile, seed, scale, REFERENCE_NOW, tuple(names), classified, _KNOBS[profile], n_markets
    )


def markets(plan: Plan) -> tuple[Catalogue, list[Row]]:
    """The market catalogue and the ``markets`` rows (unlisted markets have none)."""
    rng = random.Random(f"persona-bench:{plan.seed}:markets")
    weighted = Weights.of(*((str(i), w) for i, (_, w) in enumerate(_CATEGORIES)))
    rows: list[Row] = []
    ids: list[str] = []
    lanes: dict[str, list[str]] = {}
    for i in range(plan.n_markets):
        cid = f"0x{rng.getrandbits(256):064x}"
        category = _CATEGORIES[int(weighted.pick(rng))][0]
        ids.append(cid)
        lane = "unknown" if category in (None, "-") else category
        if lane:  # the empty-string domain is real but too rare to be a lane
            lanes.setdefault(lane, []).append(cid)
        if category != "-":
            title = rng.choice(_TITLES).format(f"{category or 'Event'} #{i}")
            end = fmt_time(plan.now + rng.randint(-300, 300) * DAY)
            rows.append((cid, title, f"market-{i}", category, end, int(end < fmt_time(plan.now))))
    catalogue = Catalogue(tuple(ids), {k: tuple(v) for k, v in sorted(lanes.items())})
    return catalogue, rows


@dataclass
class Wallet:
    """One generated wallet: its ``wallets`` row, label and rows of every input table."""

    index: int
    archetype: str
    label: str
    row: Row
    draft: Draft


def wallets(plan: Plan, cat: Catalogue) -> Iterator[Wallet]:
    """Build the wallets one at a time, each from its own sub-seeded generator."""
    for i, archetype in enumerate(plan.archetypes):
        rng = random.Random(f"persona-bench:{plan.seed}:wallet:{i}")
        address = f"0x{rng.getrandbits(160):040x}"
        if archetype == "known_bot":
            address = KNOWN_BOT_ADDRESS
        elif archetype == "mixed_case":  # upper-case hex sorts before lower-case: byte order
            address = "0x" + "".join(c.upper() if j % 2 else c for j, c in enumerate(address[2:]))
        # two random 160-bit addresses never collide in practice; the PRIMARY KEY would refuse it
        d = Draft(rng, plan.now, cat, address)
        if archetype.startswith("edge:"):
            label = EDGE_BUILDERS[archetype[5:]](d, plan.knobs)
        elif archetype in ("known_bot", "mixed_case"):
            label = ordinary(d, plan.knobs)
        else:
            label = _BUILDERS[archetype](d, plan.knobs)
        yield Wallet(i, archetype, _typed_read_label(d, label), _wallet_row(d), d)


def _typed_read_label(d: Draft, label: str) -> str:
    """A wallet past Stage 1 with a NULL side among its window trades fails its features
    (production's typed read, SPEC 2.7): its label is then ERROR, whatever it was built for."""
    if label.startswith("STAGE1_") or label == "KNOWN_BOT":
        return label
    cutoff = d.now - WINDOW
    if any(side is None and ts >= cutoff for _, side, _, _, ts, _ in d.trades):
        return "ERROR"
    return label


def _wallet_row(d: Draft) -> Row:
    rng = d.rng
    first = min((t[4] for t in d.trades), default=d.now - rng.randint(1, 60) * DAY)
    discovered = min(first + rng.randint(0, 30 * DAY), d.now - rng.randint(60, DAY))
    markets_traded = len({t[0] for t in d.trades}) if d.trades else None
    name = f"trader-{rng.getrandbits(24):06x}" if rng.random() < 0.4 else None
    source = rng.choice(("leaderboard", "market_holders", "trade_stream", "manual"))
    market = d.trades[0][0] if d.trades and rng.random() < 0.5 else None
    return (
        d.address,
        f"anon-{rng.getrandbits(32):08x}",
        name,
        None,
        source,
        market,
        fmt_time(discovered),
        markets_traded,
        int(rng.random() < 0.02),
        d.is_active,
        fmt_time(d.now - rng.randint(0, 5 * DAY)),
    )


def previous_run(plan: Plan, w: Wallet) -> tuple[list[Row], list[Row], list[Row]]:
    """Output rows an earlier run left: (personas, exclusions, traits) for wallet ``w``.

    Old STAGE1_ exclusions of wallets that now pass (the run must delete them), old Stage 2
    exclusions and traits that may no longer hold, and in tiny legacy reasons that SQLite's
    ``LIKE 'STAGE1_%'`` does or does not match ('stage1_legacy' does, 'STAGE_1_OLD' does not).
    """
    rng = random.Random(f"persona-bench:{plan.seed}:previous:{w.index}")
    runs = [fmt_time(plan.now - days * DAY + rng.randint(0, 3600)) for days in (3, 10, 24)]
    personas: list[Row] = []
    exclusions: list[Row] = []
    traits: list[Row] = []
    address = w.row[0]
    if w.index in plan.classified:
        persona = rng.choice(
            ("INFORMED_SPECIALIST", "CONSISTENT_GENERALIST", "PATIENT_ACCUMULATOR")
        )
        personas.append(
            (address, persona, round(0.5 + 0.4 * rng.random(), 4), None, rng.choice(runs))
        )
    passes = w.archetype in PASSING
    if w.label.startswith("STAGE1_") and rng.random() < 0.3:
        exclusions.append((address, w.label, float(rng.randint(0, 44)), 45.0, rng.choice(runs)))
    if passes and rng.random() < 0.15:
        reason = rng.choice(("STAGE1_TOO_YOUNG", "STAGE1_TOO_FEW_TRADES", "STAGE1_INACTIVE"))
        exclusions.append((address, reason, float(rng.randint(0, 44)), 45.0, rng.choice(runs)))
    if passes and rng.random() < 0.08:
        reason = rng.choice(("NOISE_TRADER", "NEWS_SNIPER", "JACKPOT_GAMBLER", "INSUFFICIENT_PNL"))
        exclusions.append((address, reason, round(rng.random(), 4), 0.0, rng.choice(runs)))
    if passes and plan.profile == "tiny" and rng.random() < 0.3:
        for reason in ("stage1_legacy", "STAGE_1_OLD"):
            exclusions.append((address, reason, None, None, runs[2]))
    if rng.random() < (0.25 if passes else 0.03):
        for key in rng.sample(("TOPIC_LANE", "BONDER", "WHALE"), rng.randint(1, 2)):
            value = rng.choice(sorted(w.draft.cat.lanes)) if key == "TOPIC_LANE" else "1"
            traits.append((address, key, value, rng.choice(runs)))
    return personas, exclusions, traits


def job_status_rows(plan: Plan) -> list[Row]:
    """``job_status`` as production has it: our job idle after an earlier run, and others."""
    rng = random.Random(f"persona-bench:{plan.seed}:job_status")
    last = plan.now - 3 * DAY
    total = sum(1 for a in plan.archetypes if a != "dormant")
    n = len(plan.classified)
    meta = {
        "classified": n,
        "completed": True,
        "processed": n,
        "stage1_no_trades": 0,
        "stage1_other": 0,
        "stage2_excluded": 0,
        "suitable": n,
        "total": total,
    }
    duration = heavy(rng, 60_000, 900_000)
    return [
        (
            "persona_classification",
            "idle",
            fmt_time(last),
            duration,
            None,
            json.dumps(meta, sort_keys=True),
            fmt_time(last + duration // 1000),
        ),
        (
            "wallet_discovery",
            "idle",
            fmt_time(plan.now - 3600),
            42_000,
            None,
            json.dumps({"discovered": len(plan.archetypes)}),
            fmt_time(plan.now - 3558),
        ),
        (
            "trade_ingestion",
            "failed",
            fmt_time(plan.now - 600),
            1_200,
            "HTTP 429 from data-api",
            None,
            fmt_time(plan.now - 598),
        ),
    ]
