"""Hygiene of the runs and of the source tree.

Runs: every connection closed on every path, the run's writes in the database file, a caller's
executor left running, and an executor reused across runs giving serial's rows.
Source: no module imports in a circle, each package imports only the layers below it, one
read-only connect, the error hierarchy drawn in ``persona_bench.kernel.errors`` is complete, test
helpers have one import root, and the built wheel carries the data files the commands read.
"""

from __future__ import annotations

import ast
import graphlib
import importlib
import os
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest

from classifier import PersonaConfig, RunOptions, faults, run, store
from classifier.executor import JobParams, close_pool, make_executor
from classifier.store import DatabaseError
from tests.helpers import DAY, NOW, bulk_db, dump_outputs


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> tuple[Path, dict]:
    """A 300-wallet source and its serial outputs."""
    base = tmp_path_factory.mktemp("hyg")
    src = bulk_db(base / "src.db", wallets=300, trades_per_active=60)
    ref = base / "ref.db"
    shutil.copyfile(src, ref)
    run(RunOptions(db_path=ref, now=NOW, tasks=0))
    return src, dump_outputs(ref)


def _open_files(db: Path) -> list[str]:
    """Files of ``db`` (the database, -wal, -shm) this process holds open."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(db)) and not target.endswith(".classify-lock"):
            found.append(target)
    return found


def _serial_copy(db: Path, dst: Path, now: int) -> dict:
    """Serial's outputs on a copy of ``db`` (SQLite's backup: the WAL's commits included)."""
    with closing(sqlite3.connect(db)) as a, closing(sqlite3.connect(dst)) as b:
        a.backup(b)
    run(RunOptions(db_path=dst, now=now, tasks=0))
    return dump_outputs(dst)


def test_a_failed_run_closes_its_connection(source, tmp_path):
    """A run that fails mid-way (a real SQLite error) leaves no connection open."""
    src, _ = source
    db = tmp_path / "x.db"
    shutil.copyfile(src, db)
    conn = sqlite3.connect(db)
    conn.execute(
        "CREATE TRIGGER boom BEFORE INSERT ON wallet_exclusions"
        " BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    conn.commit()
    conn.close()
    with pytest.raises(sqlite3.IntegrityError, match="disk full") as info:
        run(RunOptions(db_path=db, now=NOW, tasks=0))
    assert info.value is not None  # the traceback (and its frames) are still alive here
    assert _open_files(db) == []


def test_open_writer_closes_its_connection_when_the_input_check_refuses(tmp_path, source):
    """A database refused by the input check leaves no connection open."""
    src, _ = source
    db = tmp_path / "x.db"
    shutil.copyfile(src, db)
    conn = sqlite3.connect(db)
    conn.execute("ALTER TABLE trades_raw DROP COLUMN side")
    conn.commit()
    conn.close()
    with pytest.raises(DatabaseError, match=r"trades_raw\.side") as info:
        store.open_writer(db)
    assert info.value is not None
    assert _open_files(db) == []


@pytest.mark.parametrize("backend", ["thread", "process"])
def test_the_run_closes_every_reader_and_its_writes_are_in_the_database_file(
    source, tmp_path, backend
):
    """After a parallel run no connection is left, and the .db file alone holds every row."""
    src, expected = source
    db = tmp_path / "x.db"
    shutil.copyfile(src, db)
    run(RunOptions(db_path=db, now=NOW, tasks=3, backend=backend, pool_only=True))
    assert _open_files(db) == []
    alone = tmp_path / "alone" / "x.db"
    alone.parent.mkdir()
    shutil.copyfile(db, alone)  # no -wal beside it
    assert dump_outputs(alone) == expected


def test_a_callers_executor_is_never_shut_down(source, tmp_path, monkeypatch):
    """A caller's executor whose job hangs: the run recomputes the chunk, finishes with
    serial's rows, and the executor is still usable afterwards."""
    src, expected = source
    db = tmp_path / "x.db"
    shutil.copyfile(src, db)
    monkeypatch.setenv(faults.ENV, "hang@job:2")
    faults.RELEASE.clear()
    pool = ThreadPoolExecutor(max_workers=2)
    try:
        summary = run(
            RunOptions(db_path=db, now=NOW, task_timeout=0.5, config=PersonaConfig(chunk_size=20)),
            executor=pool,
        )
        assert pool.submit(int, "7").result() == 7  # not shut down
    finally:
        faults.reset()
        pool.shutdown()
    assert any("hung worker" in e for e in summary["workers"]["events"]), summary["workers"]
    assert summary["workers"]["recomputed"] > 0
    assert dump_outputs(db) == expected
    assert _open_files(db) == []


def _pool(kind: str, db: Path) -> Executor:
    if kind == "thread":
        return ThreadPoolExecutor(max_workers=2)
    return make_executor("process", 2, JobParams(str(db), NOW, PersonaConfig(), 30.0))


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_an_executor_reused_after_markets_are_recategorised_gives_serial_rows(
    source, tmp_path, kind
):
    """Second run on the same executor after the markets changed category: serial's rows
    (worker state is keyed by the run, not the path)."""
    src, expected = source
    db = tmp_path / "x.db"
    shutil.copyfile(src, db)
    pool = _pool(kind, db)
    try:
        run(RunOptions(db_path=db, now=NOW), executor=pool)
        assert dump_outputs(db) == expected
        conn = sqlite3.connect(db)
        conn.execute("UPDATE markets SET category = 'Lane' || (rowid % 3)")
        conn.commit()
        conn.close()
        want = _serial_copy(db, tmp_path / "serial.db", NOW + DAY)
        run(RunOptions(db_path=db, now=NOW + DAY), executor=pool)
    finally:
        close_pool(pool, 10.0)
    assert dump_outputs(db) == want
    lanes = [r for r in want["wallet_persona_traits"] if ("trait_key", "TOPIC_LANE") in r]
    assert any(("trait_value", "Lane1") in r for r in lanes)  # the change shows in the rows


def test_an_executor_reused_after_the_file_is_replaced_gives_serial_rows(source, tmp_path):
    """Another database moved to the same path between two runs on one executor: the second
    run reads the new file (serial's rows), not the first run's connection."""
    src, expected = source
    db = tmp_path / "x.db"
    shutil.copyfile(src, db)
    other = bulk_db(tmp_path / "other.db", wallets=200, trades_per_active=60, seed=8)
    want = _serial_copy(other, tmp_path / "serial.db", NOW)
    pool = ThreadPoolExecutor(max_workers=2)
    try:
        run(RunOptions(db_path=db, now=NOW), executor=pool)
        assert dump_outputs(db) == expected
        os.replace(other, db)
        run(RunOptions(db_path=db, now=NOW), executor=pool)
    finally:
        pool.shutdown()
    assert dump_outputs(db) == want


# ---- the source tree ------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("classifier", "fixtures", "harness", "persona_bench")
# what each layer may import of this project (longest prefix wins); the CLI dispatches by name
LAYERS = {
    "persona_bench.kernel": ("persona_bench.kernel",),
    "classifier": ("classifier", "persona_bench.kernel"),
    "fixtures": ("fixtures", "persona_bench.kernel"),
    "harness": ("harness", "fixtures", "persona_bench"),  # selftest runs the CLI in-process
    "persona_bench": ("persona_bench",),  # the CLI: parses, then imports a command by name
}


def _modules(packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    """Dotted name -> file, for every module of ``packages`` (a package is its __init__)."""
    found = {}
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the project modules it imports anywhere in its file (functions and
    ``TYPE_CHECKING`` blocks included: a circle there is still a circle to a reader)."""

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets |= {known(alias.name) for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets |= {known(f"{node.module}.{alias.name}") for alias in node.names}
        graph[module] = {t for t in targets if t is not None and t != module}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of imports (first module repeated at the end), or None."""
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        return list(exc.args[1])
    return None


def test_find_cycle_sees_a_circle_and_only_a_circle():
    cycle = find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})
    assert cycle is not None and set(cycle) == {"a", "b", "c"} and cycle[0] == cycle[-1]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_module_imports_in_a_circle():
    cycle = find_cycle(import_graph(_modules()))
    assert cycle is None, "modules import each other in a circle: " + " -> ".join(cycle or ())


def test_each_package_imports_only_the_layers_below_it():
    graph = import_graph(_modules())
    wrong = []
    for module, targets in sorted(graph.items()):
        layer = max((k for k in LAYERS if module == k or module.startswith(k + ".")), key=len)
        allowed = LAYERS[layer]
        wrong += [
            f"{module} imports {t}"
            for t in sorted(targets)
            if not any(t == a or t.startswith(a + ".") for a in allowed)
        ]
    assert wrong == []


def _project_classes(base: type) -> list[type]:
    for module in _modules():
        # importing the fork server's guard arms a death signal in this process: never import it
        if module not in ("classifier.forkserver_guard", "persona_bench.__main__"):
            importlib.import_module(module)
    found, todo = [], list(base.__subclasses__())
    while todo:
        cls = todo.pop()
        if cls.__module__.split(".")[0] in PACKAGES:
            found.append(cls)
        todo += cls.__subclasses__()
    return found


def test_the_error_hierarchy_drawing_names_every_error_class():
    """Every subclass of UserError (and of Interrupted) the project defines is in the drawing."""
    from persona_bench.kernel import errors

    drawn = errors.__doc__ or ""
    classes = _project_classes(errors.UserError) + _project_classes(errors.Interrupted)
    assert len(classes) > 10
    missing = [
        f"{c.__module__}.{c.__qualname__}"
        for c in classes
        if c.__module__ != errors.__name__ and f"{c.__module__}.{c.__qualname__}" not in drawn
    ]
    assert missing == []


def test_test_helpers_have_one_import_root():
    """A helper under tests/ is imported as ``tests.NAME``, never by a bare ``NAME`` (which
    would load its file a second time under another name)."""
    here = ROOT / "tests"
    bare = {p.stem for p in here.glob("*.py")} | {p.parent.name for p in here.glob("*/*.py")}
    bare.discard("__init__")
    wrong = []
    for path in sorted([*here.rglob("*.py"), *(ROOT / "benchmarks").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            wrong += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in bare]
    assert wrong == []


def _code_strings(path: Path) -> list[str]:
    """String constants of a file's code (f-string parts included), docstrings left out."""
    tree = ast.parse(path.read_text())
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docs.add(id(body[0].value))
    return [
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs
    ]


URI_RO = "?mode=ro"


def test_one_read_only_connect():
    """``file:...?mode=ro`` is spelled once, in ``connect_ro``; the stand-alone targets (which
    import nothing of the project) are the exception."""
    own = ROOT / "persona_bench" / "kernel" / "sqlitefile.py"
    paths = [p for d in (*PACKAGES, "tests", "benchmarks") for p in (ROOT / d).rglob("*.py")]
    spelled = sorted(
        str(p.relative_to(ROOT))
        for p in paths
        if p not in (own, Path(__file__).resolve())
        and "targets" not in p.parts
        and any(URI_RO in text for text in _code_strings(p))
    )
    assert spelled == []
    assert any(URI_RO in text for text in _code_strings(own))


def test_no_project_module_is_loaded_under_two_names():
    from tests.conftest import modules_loaded_twice

    assert modules_loaded_twice() == {}


@pytest.mark.slow
def test_the_wheel_carries_the_schema_the_config_and_the_golden_cases(tmp_path):
    """``pip install .`` (not editable) must find the generator's schema, the default config and
    the golden cases inside the package: nothing is read from a source checkout."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            src / package,
            ignore=shutil.ignore_patterns("__pycache__", "cache", "*.db*"),
        )
    subprocess.run(  # build isolation: the setuptools pyproject.toml asks for
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), "."],
        cwd=src,
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = tmp_path.glob("persona_bench-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    golden = {f"fixtures/golden/{p.name}" for p in (ROOT / "fixtures" / "golden").glob("*.json")}
    assert len(golden) > 30
    expected = {"fixtures/schema.sql", "fixtures/config/default.toml", *golden}
    assert expected - names == set()
    modules = {
        f"{m.replace('.', '/')}{'/__init__' if p.name == '__init__.py' else ''}.py"
        for m, p in _modules().items()
    }
    assert modules - names == set()
    assert not any(n.startswith("tests/") for n in names)
