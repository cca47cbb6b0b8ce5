"""The descriptor cache: a domain validated once is read back by the next process, never stale."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from platform_core.descriptors import cache
from platform_core.descriptors.cache import load_domain_cached, sources_fingerprint
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
