"""The descriptor cache: a domain validated once is read back by the next process, never stale."""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from platform_core.descriptors import cache
from platform_core.descriptors.cache import load_domain_cached, sources_fingerprint
from platform_core.descriptors.mesh_index import MeshIndex
from platform_core.errors import PlatformError
from tests.conftest import PROJECT
from tests.factories import copy_of_the_mesh, write_domain


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The full loads (descriptors parsed and validated) the cache lets through."""
    done: list[Path] = []
    real = cache.load_domain

    def counted(directory: Path, index=None):
        done.append(directory)
        return real(directory, index)

    monkeypatch.setattr(cache, "load_domain", counted)
    return done


def test_a_validated_domain_is_read_back_equal_without_validating(tmp_path: Path, loads: list[Path]) -> None:
    domain_dir = write_domain(tmp_path)
    first = load_domain_cached(domain_dir)
    again = load_domain_cached(domain_dir)
    assert again == first and again is not first  # read from the file, not a memory of this process
    assert loads == [domain_dir.resolve()]
    (entry,) = (domain_dir / "__pycache__").glob("mesh-descriptors-*.pickle")  # goes with the domain's folder
    assert entry.stat().st_mode & 0o777 == 0o600


def test_any_change_to_a_source_is_a_new_load(tmp_path: Path, loads: list[Path]) -> None:
    domain_dir = write_domain(tmp_path)
    load_domain_cached(domain_dir)
    sql = domain_dir / "products" / "sales" / "sql" / "daily_sales.sql"
    sql.write_text(sql.read_text(encoding="utf-8") + "\nFROM nowhere", encoding="utf-8")
    with pytest.raises(PlatformError, match=r"daily_sales\.sql"):
        load_domain_cached(domain_dir)
    assert len(loads) == 2
    # the failing version was not cached: asked again, it is validated again and fails again
    with pytest.raises(PlatformError):
        load_domain_cached(domain_dir)
    assert len(loads) == 3
    assert len(list((domain_dir / "__pycache__").glob("mesh-descriptors-*.pickle"))) == 1


def test_another_domains_descriptor_is_part_of_the_key(tmp_path: Path) -> None:
    """Governance reads the other domains' descriptors (consumers, grants): they count."""
    shop = write_domain(tmp_path).resolve()
    ledger = write_domain(tmp_path, name="ledger").resolve()
    before = sources_fingerprint(shop)
    descriptor = ledger / "products" / "sales" / "product.yaml"
    descriptor.write_text(descriptor.read_text(encoding="utf-8").replace("Orders", "Sales"), encoding="utf-8")
    changed = sources_fingerprint(shop)
    assert changed != before
    (ledger / "data" / "orders.csv").write_text("order_id\n1\n", encoding="utf-8")  # their data does not
    assert sources_fingerprint(shop) == changed


def test_two_quick_writes_of_the_same_size_are_told_apart(tmp_path: Path) -> None:
    domain_dir = write_domain(tmp_path).resolve()
    sql = domain_dir / "products" / "sales" / "sql" / "orders.sql"
    text = sql.read_text(encoding="utf-8")
    before = sources_fingerprint(domain_dir)
    stat = sql.stat()
    sql.write_text(text.replace("SELECT", "select", 1), encoding="utf-8")
    os.utime(sql, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size and same modification time
    assert sources_fingerprint(domain_dir) != before


def test_a_removed_data_file_is_reported_although_the_sources_are_unchanged(tmp_path: Path) -> None:
    domain_dir = write_domain(tmp_path)
    load_domain_cached(domain_dir)
    (domain_dir / "data" / "orders.csv").unlink()
    with pytest.raises(PlatformError, match="file not found"):
        load_domain_cached(domain_dir)


def test_a_cache_file_others_may_write_is_never_read(tmp_path: Path, loads: list[Path]) -> None:
    """Unpickling runs code: an entry anyone else could have replaced is validated again."""
    domain_dir = write_domain(tmp_path)
    load_domain_cached(domain_dir)
    (entry,) = (domain_dir / "__pycache__").glob("mesh-descriptors-*.pickle")
    entry.chmod(0o666)
    load_domain_cached(domain_dir)
    entry.write_bytes(b"not a pickle")
    entry.chmod(0o600)
    assert load_domain_cached(domain_dir).name == "shop"
    assert len(loads) == 3


def _twice(script: str, argument: Path, environ: dict[str, str] | None = None) -> list[str]:
    """The last line `script` prints in each of two fresh processes, one after the other."""
    return [
        subprocess.run(
            [sys.executable, "-c", script, str(argument)],
            cwd=PROJECT,
            env=environ,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout.splitlines()[-1]
        for _ in range(2)
    ]


def test_the_next_process_reads_what_the_first_validated(tmp_path: Path) -> None:
    """As Dagster's processes do: the webserver's code server, the daemon's, each run's."""
    domain_dir = write_domain(tmp_path)
    script = (
        "import sys; from pathlib import Path; from platform_core.descriptors import cache; "
        "calls = []; real = cache.load_domain; cache.load_domain = lambda d, i=None: calls.append(d) or real(d, i); "
        "domain = cache.load_domain_cached(Path(sys.argv[1])); "
        "print(len(calls), len(domain.products))"
    )
    assert _twice(script, domain_dir) == ["1 1", "0 1"]


def test_dagsters_verdict_is_kept_until_the_domain_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`mesh check` and `mesh status` learn whether Dagster loads a domain once per change of it."""
    from platform_core.dagster import refusals
    from platform_core.settings import Settings

    domain_dir = write_domain(tmp_path)
    asked: list[str] = []
    answers = iter(["DagsterInvalidDefinitionError: two assets named raw", None])
    monkeypatch.setattr(refusals, "_ask_dagster", lambda spec, settings: asked.append(spec.name) or next(answers))
    settings = Settings.from_env()
    domain = load_domain_cached(domain_dir)
    assert refusals.dagster_problem(domain, settings) == "DagsterInvalidDefinitionError: two assets named raw"
    assert refusals.dagster_problem(load_domain_cached(domain_dir), settings) == (
        "DagsterInvalidDefinitionError: two assets named raw"
    )
    assert asked == ["shop"]
    sql = domain_dir / "products" / "sales" / "sql" / "orders.sql"
    sql.write_text(sql.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert refusals.dagster_problem(load_domain_cached(domain_dir), settings) is None
    assert asked == ["shop", "shop"]
    assert len(list((domain_dir / "__pycache__").glob("mesh-verdict-*.json"))) == 1


def test_a_later_check_imports_neither_dagster_nor_the_sql_parser(tmp_path: Path) -> None:
    """What governing a domain parses is kept with it, and Dagster's verdict too: a `mesh check` of
    an unchanged mesh reads both, as `mesh catalog` reads the descriptors."""
    workspace = copy_of_the_mesh(tmp_path).parent / "workspace.yaml"  # HR's personal data is followed
    shutil.copy(PROJECT / "workspace.yaml", workspace)
    script = (
        "import sys; from platform_core.cli import main; "
        "code = main(['check', '-w', sys.argv[1]], standalone_mode=False); "
        "print(code or 0, 'dagster' in sys.modules, 'sqlglot' in sys.modules)"
    )
    environ = {**os.environ, "MESH_WAREHOUSE": str(tmp_path / "warehouse"), "MESH_SERVING": "off"}
    assert _twice(script, workspace, environ) == ["0 True True", "0 False False"]


def test_the_process_keeps_a_bounded_number_of_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    """A long-running process parses every distinct statement people send: the oldest go first."""
    from platform_core.descriptors import lineage

    monkeypatch.setattr(lineage, "_PARSED", {})
    monkeypatch.setattr(lineage, "MEMO_SIZE", 2)
    for n in range(3):
        lineage.columns_read(f"SELECT a FROM t WHERE a > {n}", {"t": ["a"]})
    assert [key[1] for key in lineage._PARSED] == ["SELECT a FROM t WHERE a > 1", "SELECT a FROM t WHERE a > 2"]


def test_a_settled_mesh_is_hashed_once_and_a_change_still_counts(tmp_path: Path) -> None:
    """Every domain's load asks for the whole mesh's digest: kept while no file changed, which a
    file's size, time or inode tells once it is older than a racy write."""
    shop = write_domain(tmp_path).resolve()
    ledger = write_domain(tmp_path, name="ledger").resolve()
    hour_ago = time.time_ns() - 3600 * 10**9
    for path in tmp_path.rglob("*"):
        os.utime(path, ns=(hour_ago, hour_ago))
    index = MeshIndex.around(shop)
    first = {d: index.fingerprint(own=d) for d in (shop, ledger)}
    mesh = index.mesh_digest()
    assert {d: index.fingerprint(d, mesh) for d in (shop, ledger)} == first  # the mesh's digest given, the same
    assert len(set(first.values())) == 2  # each domain's own files count for it alone
    descriptor = ledger / "products" / "sales" / "product.yaml"
    text = descriptor.read_text(encoding="utf-8")
    descriptor.write_text(text.replace("Orders", "Sales orders"), encoding="utf-8")  # another size
    os.utime(descriptor, ns=(hour_ago, hour_ago))
    assert index.fingerprint(own=shop) != first[shop]
    replaced = descriptor.with_suffix(".new")  # the same size and time, another file (an editor's save)
    replaced.write_text(text.replace("Orders", "Sales ordres"), encoding="utf-8")
    os.utime(replaced, ns=(hour_ago, hour_ago))
    changed = index.fingerprint(own=shop)
    replaced.replace(descriptor)
    assert index.fingerprint(own=shop) not in (changed, first[shop])


EXIT_PROBE = """
import atexit, gc, sys
from pathlib import Path
atexit.register(lambda: print("frozen at exit:", gc.get_freeze_count() > 0))  # runs last: registered first
if sys.argv[1] == "load":
    from platform_core.descriptors.cache import load_domain_cached
    load_domain_cached(Path(sys.argv[2]))
"""


@pytest.mark.parametrize("load", [True, False])
def test_a_process_that_loaded_a_domain_exits_without_walking_its_objects(tmp_path: Path, load: bool) -> None:
    """The interpreter's last collections would walk every descriptor and definition the process
    holds; frozen at exit, they are left to the process's end. A process that loads none is left alone."""
    done = subprocess.run(
        [sys.executable, "-c", EXIT_PROBE, "load" if load else "none", str(write_domain(tmp_path))],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == f"frozen at exit: {load}"


def test_collection_is_paused_while_a_domain_loads_and_resumed_after_even_when_it_fails(tmp_path: Path) -> None:
    seen = []
    with cache.collection_paused():
        seen.append(gc.isenabled())
    assert seen == [False] and gc.isenabled()
    broken = write_domain(tmp_path)
    (broken / "products" / "sales" / "product.yaml").write_text("name: [", encoding="utf-8")
    with pytest.raises(PlatformError):
        load_domain_cached(broken)
    assert gc.isenabled()
    gc.disable()  # a host that runs without collection keeps it so
    try:
        load_domain_cached(write_domain(tmp_path / "other"))
        assert not gc.isenabled()
    finally:
        gc.enable()
