"""Domain SQL reaches only what it declares, even past the load-time checks.

The loader refuses SQL that calls file-reading functions (tests/corpus/descriptors.yaml);
these tests take that first line away and show the second: DuckDB itself, with external
access closed, refuses every file, URL and setting but the step's declared inputs and the
lake, and nothing it refuses is echoed in an error.
"""

from __future__ import annotations

import socket
from pathlib import Path

import duckdb
import pytest

from platform_core.descriptors.loader import load_domain
from platform_core.descriptors.sql import bind_problem
from platform_core.storage.sandbox import close_external_access
from platform_core.storage.warehouse import Warehouse
from tests.factories import run_steps, write_consumer_domain, write_domain

HOSTNAME = Path("/etc/hostname")


@pytest.fixture
def closed(tmp_path: Path):
    allowed = tmp_path / "allowed.csv"
    allowed.write_text("a,b\n1,2\n")
    con = duckdb.connect(str(tmp_path / "compute.duckdb"))
    close_external_access(con, files=[allowed], directories=[str(tmp_path / "lake")])
    yield con, allowed
    con.close()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/proc/self/environ')",
        "SELECT * FROM glob('/root/*')",
        "SELECT * FROM read_csv('https://example.com/a.csv')",
        "SELECT * FROM read_parquet('{tmp}/compute.duckdb')",
        "ATTACH '{tmp}/other.duckdb' AS other",
        "COPY (SELECT 1) TO '{tmp}/out.csv'",
        "INSTALL httpfs",
        "SET enable_external_access = true",
        "SET allowed_directories = ['/']",
    ],
)
def test_closed_database_refuses_the_outside(closed, tmp_path: Path, sql: str) -> None:
    con, _ = closed
    with pytest.raises(duckdb.Error):
        con.execute(sql.format(tmp=tmp_path)).fetchall()


def test_closed_database_reads_what_was_declared(closed) -> None:
    con, allowed = closed
    assert con.read_csv(str(allowed)).fetchall() == [(1, 2)]


def test_binding_an_expression_never_reads_nor_echoes_a_file() -> None:
    """What `mesh check` does with a rule's expression runs where no file can be read."""
    problem = bind_problem("length((SELECT content FROM read_text('/etc/hostname'))) > 0", {"a": "INTEGER"})
    assert problem and "disabled by configuration" in problem
    if HOSTNAME.is_file() and HOSTNAME.read_text().strip():
        assert HOSTNAME.read_text().strip() not in problem


def test_a_step_that_slips_past_the_loader_still_reads_nothing_undeclared(tmp_path: Path, monkeypatch) -> None:
    domain_dir = write_domain(tmp_path)
    (product,) = load_domain(domain_dir).products
    # the SQL file changes after the descriptor loaded, and the run's own check is taken away
    (domain_dir / "products" / "sales" / "sql" / "daily_sales.sql").write_text(
        "SELECT content AS day, 1 AS orders, 1.0 AS revenue FROM read_text('/etc/hostname')"
    )
    monkeypatch.setattr("platform_core.execution.steps.undeclared_reads_problem", lambda *_: None)
    warehouse = Warehouse(tmp_path / "warehouse")
    outcome = run_steps(warehouse, product, input_snapshot=0)
    (failed,) = outcome.failed
    assert failed.step.name == "daily_sales" and "file system operations are disabled" in failed.error
    assert socket.gethostname() not in outcome.summary(outcome.failed)
    assert outcome.publication is None and warehouse.publications("shop.sales") == []


def test_a_consumer_cannot_read_another_domains_files_in_the_lake(tmp_path: Path, monkeypatch) -> None:
    """Not even past the loader: a step reads other products' ports only as its run copies them in."""
    warehouse = Warehouse(tmp_path / "warehouse")
    (shop,) = load_domain(write_domain(tmp_path)).products
    (vat,) = load_domain(write_consumer_domain(tmp_path)).products
    for product in (shop, vat):
        assert not run_steps(warehouse, product).failed
    files = sorted((tmp_path / "warehouse" / "lake" / "data" / "shop").rglob("*.parquet"))
    assert files  # shop's published files are there, next to ledger's
    (vat.directory / "sql" / "vat_by_day.sql").write_text(f"SELECT * FROM read_parquet('{files[0]}')")
    monkeypatch.setattr("platform_core.execution.steps.undeclared_reads_problem", lambda *_: None)
    outcome = run_steps(warehouse, vat, {"vat_by_day"})
    (failed,) = outcome.failed
    assert "file system operations are disabled" in failed.error, failed.error
