"""The fixture generator: determinism, every branch of the tiny profile, prod's counts, errors."""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from fixtures import DEFAULT_CONFIG, generator, profiles
from fixtures.archetypes import KNOWN_BOT_ADDRESS
from fixtures.generator import FixtureError, content_hash, ensure_fixture, generate, read_meta
from persona_bench.cli import main
from persona_bench.kernel.sqlitefile import connect_ro

STAGE1 = {"STAGE1_TOO_YOUNG", "STAGE1_TOO_FEW_TRADES", "STAGE1_INACTIVE"}
STAGE2 = {
    "NOISE_TRADER", "NEWS_SNIPER", "LIQUIDITY_PROVIDER", "BOT_SWARM_MICRO", "TAIL_RISK_SELLER",
    "JACKPOT_GAMBLER", "INSUFFICIENT_PNL",
}  # fmt: skip
PERSONAS = {"INFORMED_SPECIALIST", "CONSISTENT_GENERALIST", "PATIENT_ACCUMULATOR"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny profile, seed 1 (never written to: tests classify copies)."""
    return _make(tmp_path_factory.mktemp("tiny") / "tiny.db", "tiny", 1)


def _make(path: Path, profile: str, seed: int, scale: float | None = None) -> Path:
    generate(path, profile, seed, scale)
    return path


def _classify(
    db: Path, tmp: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[Path, dict[str, Any]]:
    """Classify a copy of ``db`` serially at its reference now; (copy, the --json summary)."""
    copy = tmp / f"run-{db.name}"
    shutil.copyfile(db, copy)
    now = read_meta(db)["now"]
    capsys.readouterr()
    rc = main(["classify", "--db", str(copy), "--now", now, "--serial", "--json", *extra])
    assert rc == 0, capsys.readouterr().err
    return copy, json.loads(capsys.readouterr().out)


def _outcomes(copy: Path, summary: dict[str, Any]) -> dict[str, str]:
    """What the run decided per wallet: a reason, a persona, ERROR or UNCLASSIFIED."""
    ts = summary["now_iso"]
    conn = sqlite3.connect(copy)
    got: dict[str, list[str]] = {}
    for wallet, reason in conn.execute(
        "SELECT proxy_wallet, reason FROM wallet_exclusions WHERE excluded_at = ?", (ts,)
    ):
        got.setdefault(wallet, []).append(reason)
    for wallet, persona in conn.execute(
        "SELECT proxy_wallet, persona FROM wallet_personas WHERE classified_at = ?", (ts,)
    ):
        got.setdefault(wallet, []).append(persona)
    for failure in summary["failures"]:
        got.setdefault(failure["wallet"], []).append("ERROR")
    wallets = [r[0] for r in conn.execute("SELECT proxy_wallet FROM wallets")]
    conn.close()
    return {w: "+".join(got.get(w, ["UNCLASSIFIED"])) for w in wallets}


def _labels(db: Path) -> dict[str, str]:
    conn = connect_ro(db)
    labels = dict(conn.execute("SELECT proxy_wallet, expected FROM persona_bench_labels"))
    conn.close()
    return {w: "UNCLASSIFIED" if e == "DORMANT" else e for w, e in labels.items()}


def test_same_seed_gives_the_same_hash(tiny: Path, tmp_path: Path) -> None:
    """Generating the same profile and seed again gives the same content hash."""
    again = _make(tmp_path / "again.db", "tiny", 1)
    assert read_meta(again)["content_hash"] == read_meta(tiny)["content_hash"]


def test_other_seed_gives_another_hash(tiny: Path, tmp_path: Path) -> None:
    """Another seed gives other rows, hence another content hash."""
    other = _make(tmp_path / "other.db", "tiny", 2)
    assert read_meta(other)["content_hash"] != read_meta(tiny)["content_hash"]


def test_rows_do_not_depend_on_the_batch_size(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Flushing every 7 rows instead of 10,000 writes the same content."""
    monkeypatch.setattr(generator, "BATCH", 7)
    small = _make(tmp_path / "small.db", "tiny", 1)
    assert read_meta(small)["content_hash"] == read_meta(tiny)["content_hash"]


def test_stored_hash_is_the_hash_of_the_rows(tiny: Path) -> None:
    """The meta content_hash is the hash recomputed from the file's rows."""
    conn = connect_ro(tiny)
    assert content_hash(conn) == read_meta(tiny)["content_hash"]
    conn.close()


def test_hash_changes_with_one_float_bit(tiny: Path, tmp_path: Path) -> None:
    """Changing one trade's price in its last bit changes the content hash."""
    copy = tmp_path / "bit.db"
    shutil.copyfile(tiny, copy)
    conn = sqlite3.connect(copy)
    row = "SELECT id, price FROM trades_raw WHERE typeof(price) = 'real' LIMIT 1"
    tid, price = conn.execute(row).fetchone()
    before = content_hash(conn)
    conn.execute("UPDATE trades_raw SET price = ? WHERE id = ?", (math.nextafter(price, 1), tid))
    assert content_hash(conn) != before
    conn.close()


def test_output_is_wal_with_meta(tiny: Path) -> None:
    """The file is in WAL mode, fully checkpointed, with every meta key the contract lists."""
    wal = Path(f"{tiny}-wal")  # readers of earlier tests may have created an empty one
    assert not wal.exists() or wal.stat().st_size == 0
    conn = connect_ro(tiny)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    meta = read_meta(tiny)
    keys = {"profile", "seed", "scale", "now", "generator_version", "content_hash"}
    assert keys <= set(meta)
    assert (meta["profile"], meta["seed"], int(meta["now"])) == (
        "tiny",
        "1",
        profiles.REFERENCE_NOW,
    )


def test_tiny_wallets_land_as_labelled(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A serial run with the default config gives every wallet the outcome it was built for."""
    copy, summary = _classify(tiny, tmp_path, capsys)
    outcomes = _outcomes(copy, summary)
    wrong = {w: (e, outcomes[w]) for w, e in _labels(tiny).items() if outcomes[w] != e}
    assert wrong == {}


def test_tiny_reaches_every_branch(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every Stage 1 reason, reachable exclusion, persona, trait and a feature error occur."""
    copy, summary = _classify(tiny, tmp_path, capsys)
    seen = set(_outcomes(copy, summary).values())
    assert STAGE1 | STAGE2 | PERSONAS | {"ERROR", "UNCLASSIFIED"} <= seen
    assert any("price is text 'abc'" in f["error"] for f in summary["failures"])
    conn = sqlite3.connect(copy)
    traits = {r[0] for r in conn.execute(
        "SELECT trait_key FROM wallet_persona_traits WHERE computed_at = ?", (summary["now_iso"],)
    )}  # fmt: skip
    conn.close()
    assert traits == {"TOPIC_LANE", "BONDER", "WHALE"}


def test_tiny_known_bot_with_a_config(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With known_bots listing the tiny profile's bot wallet, that wallet is a KNOWN_BOT."""
    config = tmp_path / "bots.toml"
    text = DEFAULT_CONFIG.read_text().replace(
        "known_bots = []", f'known_bots = ["{KNOWN_BOT_ADDRESS}"]'
    )
    config.write_text(text)
    copy, summary = _classify(tiny, tmp_path, capsys, "--config", str(config))
    assert _outcomes(copy, summary)[KNOWN_BOT_ADDRESS] == "KNOWN_BOT"


def test_tiny_previous_run_stage1_rows_are_deleted(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Old STAGE1_ exclusions of wallets that now pass exist before a run and are gone after."""
    query = (
        "SELECT count(*) FROM wallet_exclusions e JOIN persona_bench_labels l USING (proxy_wallet)"
        " WHERE e.reason LIKE 'STAGE1_%' AND l.expected NOT LIKE 'STAGE1_%'"
        " AND l.expected != 'DORMANT'"
    )
    conn = connect_ro(tiny)
    before = conn.execute(query).fetchone()[0]
    kept = conn.execute(
        "SELECT count(*) FROM wallet_exclusions WHERE reason = 'STAGE_1_OLD'"
    ).fetchone()[0]
    conn.close()
    copy, _ = _classify(tiny, tmp_path, capsys)
    conn = sqlite3.connect(copy)
    after = conn.execute(query).fetchone()[0]
    kept_after = conn.execute(
        "SELECT count(*) FROM wallet_exclusions WHERE reason = 'STAGE_1_OLD'"
    ).fetchone()[0]
    conn.close()
    assert before > 0 and after == 0
    assert kept > 0 and kept_after == kept


@pytest.mark.slow
def test_prod_matches_the_seed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """prod: the seed's state, and a serial run lands within 10% of the seed's counters."""
    db = ensure_fixture("prod")
    conn = connect_ro(db)
    active = conn.execute("SELECT count(*) FROM wallets WHERE is_active = 1").fetchone()[0]
    classified = conn.execute(
        "SELECT count(DISTINCT proxy_wallet) FROM wallet_personas"
    ).fetchone()[0]
    trades = conn.execute("SELECT max(id) FROM trades_raw").fetchone()[0]
    per_wallet = [
        r[0] for r in conn.execute("SELECT count(*) FROM trades_raw GROUP BY proxy_wallet")
    ]
    categories = conn.execute("SELECT count(DISTINCT category) FROM markets").fetchone()[0]
    conn.close()
    assert (active, classified) == (17_657, 102)
    assert 1_050_000 <= trades <= 1_950_000
    assert sum(n >= 10_000 for n in per_wallet) >= 3
    assert categories >= 5
    _, summary = _classify(db, tmp_path, capsys)
    c = summary["counters"]
    for key, seed in (
        ("stage1_no_trades", 15_212),
        ("stage1_other", 1_358),
        ("stage2_excluded", 304),
    ):
        assert abs(c[key] - seed) <= seed // 10, key
    assert 3 <= c["suitable"] <= 12


@pytest.mark.slow
def test_stress_passes_30_percent_through_stage1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """stress (at a small scale): about 30% of active wallets pass Stage 1."""
    db = _make(tmp_path / "stress.db", "stress", 1, 0.05)
    _, summary = _classify(db, tmp_path, capsys)
    c = summary["counters"]
    passed = summary["total"] - c["stage1_no_trades"] - c["stage1_other"]
    assert 0.27 <= passed / summary["total"] <= 0.33


def test_existing_out_is_refused_then_forced(tiny: Path, tmp_path: Path) -> None:
    """An existing --out is refused with exit 2 and kept; --force replaces it, stale WAL removed."""
    out = tmp_path / "x.db"
    out.write_bytes(b"precious")
    Path(f"{out}-wal").write_bytes(b"stale")
    assert main(["fixture", "--profile", "tiny", "--out", str(out)]) == 2
    assert out.read_bytes() == b"precious"
    assert main(["fixture", "--profile", "tiny", "--out", str(out), "--force"]) == 0
    assert not Path(f"{out}-wal").exists()
    assert read_meta(out)["content_hash"] == read_meta(tiny)["content_hash"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--profile", "huge"], "--profile must be one of"),
        (["--profile", "tiny", "--scale", "0"], "--scale must be"),
        (["--profile", "tiny", "--scale", "-1"], "--scale must be"),
        (["--profile", "tiny", "--scale", "nan"], "--scale must be"),
        (["--profile", "tiny", "--scale", "big"], "--scale must be"),
        (["--profile", "tiny", "--seed", "x"], "--seed must be an integer"),
    ],
)
def test_bad_arguments_are_one_line_errors(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad profile, scale or seed: exit 2, one line on stderr, no file written."""
    out = tmp_path / "bad.db"
    assert main(["fixture", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("where", ["missing", "file", "dir"])
def test_unwritable_output_is_a_one_line_error(
    where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An output in a missing folder, under a file, or that is a folder: exit 2, one line."""
    out = {"missing": tmp_path / "no" / "x.db", "file": tmp_path / "f" / "x.db", "dir": tmp_path}[
        where
    ]
    (tmp_path / "f").write_text("")
    assert main(["fixture", "--profile", "tiny", "--out", str(out)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_interrupted_generation_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A generation that fails half way leaves neither the output nor a temporary file."""

    def broken(plan: profiles.Plan, cat: Any) -> Any:
        yield from list(profiles.wallets(plan, cat))[:50]
        raise KeyboardInterrupt

    monkeypatch.setattr(generator, "wallets", broken)
    with pytest.raises(KeyboardInterrupt):
        generate(tmp_path / "half.db", "tiny")
    assert list(tmp_path.iterdir()) == []


def test_ensure_fixture_generates_once_and_replaces_junk(tmp_path: Path) -> None:
    """The cache is generated once, then reused; a junk file at its name is regenerated."""
    path = ensure_fixture("tiny", cache_dir=tmp_path)
    stamp = path.stat().st_mtime_ns
    assert ensure_fixture("tiny", cache_dir=tmp_path) == path
    assert path.stat().st_mtime_ns == stamp
    path.write_bytes(b"half a file")
    assert read_meta(ensure_fixture("tiny", cache_dir=tmp_path))["profile"] == "tiny"
    names = {p.name.removesuffix("-wal").removesuffix("-shm") for p in tmp_path.iterdir()}
    assert names == {path.name}  # no temporary file left behind


def test_read_meta_is_read_only_and_checks_its_input(tiny: Path, tmp_path: Path) -> None:
    """read_meta leaves the file byte-identical, and refuses a missing or foreign file."""
    before = tiny.read_bytes()
    assert read_meta(tiny)["profile"] == "tiny"
    assert tiny.read_bytes() == before
    with pytest.raises(FixtureError, match="no fixture"):
        read_meta(tmp_path / "nothing.db")
    (tmp_path / "junk.db").write_bytes(b"not sqlite at all, but long enough to look like one" * 100)
    with pytest.raises(FixtureError, match="not a fixture"):
        read_meta(tmp_path / "junk.db")


def test_prod_plan_counts_add_up() -> None:
    """prod's plan has the seed's 17,657 active wallets, 102 of them classified before."""
    plan = profiles.make_plan("prod", 1, 1.0)
    active = Counter(a != "dormant" for a in plan.archetypes)[True]
    assert active == 17_657
    assert len(plan.classified) == 102
    assert all(plan.archetypes[i] in profiles.PASSING for i in plan.classified)


def test_the_cache_is_outside_the_source_tree_unless_asked(monkeypatch, tmp_path: Path) -> None:
    """PERSONA_BENCH_CACHE_DIR, else an absolute XDG_CACHE_HOME, else ~/.cache: never the tree."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PERSONA_BENCH_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert generator.default_cache_dir() == tmp_path / "home" / ".cache" / "persona-bench"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # not absolute: ignored, as XDG says
    assert generator.default_cache_dir() == tmp_path / "home" / ".cache" / "persona-bench"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert generator.default_cache_dir() == tmp_path / "xdg" / "persona-bench"
    monkeypatch.setenv("PERSONA_BENCH_CACHE_DIR", str(tmp_path / "mine"))
    assert generator.default_cache_dir() == tmp_path / "mine"
    assert ensure_fixture("tiny").parent == tmp_path / "mine"


def test_validate_takes_its_fixture_from_cache_dir(tmp_path: Path, capsys) -> None:
    """``validate --profile tiny --cache-dir DIR`` generates (then reuses) the fixture in DIR."""
    cache = tmp_path / "cache"
    args = ["validate", "--profile", "tiny", "--repeat", "1", "--tasks", "2", "--cache-dir"]
    assert main([*args, str(cache), "--out", str(tmp_path / "out")]) == 0
    assert [p.name for p in cache.glob("*.db")] == ["tiny-seed1-scale1.0-v3.db"]
    assert str(cache / "tiny-seed1-scale1.0-v3.db") in capsys.readouterr().err
