"""A corpus of bad inputs, kept as fixtures (tests/corpus), each with the outcome it must have.

Descriptors, SQL and Python (corpus/descriptors.yaml): each fails to load with the
platform's error naming the file and field, and nothing else; the domain that reads the
broken one's port either loads or fails with the platform's error too, and `mesh check`
still checks every other domain. Source data (corpus/data.yaml): each yields the platform's
clear error or a failed check, and nothing is published; or, for files that are good after
all (a byte-order mark, CRLF), the right rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from platform_core.cli import main
from platform_core.dagster.platform_location import build_platform
from platform_core.descriptors.loader import load_domain
from platform_core.descriptors.spec import Product
from platform_core.errors import PlatformError
from platform_core.governance.evaluate import govern, mesh_context, raise_errors
from platform_core.settings import Settings
from platform_core.storage.warehouse import Warehouse
from tests.conftest import materialize
from tests.factories import product_yaml, run_steps, write_consumer_domain, write_domain

CORPUS = Path(__file__).parent / "corpus"
DESCRIPTORS = yaml.safe_load((CORPUS / "descriptors.yaml").read_text(encoding="utf-8"))
DATA = yaml.safe_load((CORPUS / "data.yaml").read_text(encoding="utf-8"))
HEADER = "order_id,customer,amount,status,ordered_at\n"


def _alias_bomb(_: Path) -> bytes:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    return ("\n".join(lines) + "\n").encode()


GENERATED: dict[str, Callable[[Path], bytes | None]] = {
    "alias_bomb": _alias_bomb,
    "deep_nesting": lambda _: ("a: " + "[" * 100 + "]" * 100 + "\n").encode(),
    "deeper_nesting": lambda _: ("a: " + "[" * 5000 + "]" * 5000 + "\n").encode(),
    "huge": lambda _: b"#" * 1_999_999 + b"\n",
    "latin1": lambda _: b"description: caf\xe9\n",
    "utf16": lambda _: "name: sales\n".encode("utf-16"),
    "huge_number": lambda _: b"name: sales\nversion: " + b"9" * 5000 + b"\n",
    "long_path": lambda _: yaml.safe_dump(
        {
            **product_yaml(),
            "output_ports": [
                product_yaml()["output_ports"][0],
                {**product_yaml()["output_ports"][1], "sql": "sql/" + "x" * 300},
            ],
        }
    ).encode(),
    "symlink_passwd": None,  # a symlink, made below
    "folder": None,  # a folder in the file's place, made below
    "long_line": lambda _: (HEADER + "1,alice," + "9" * 3_000_000 + ",paid,2026-01-02 10:00:00\n").encode(),
    "missing": None,  # the file is removed
}


def _set_path(data: dict, path: str, value: object) -> None:
    """Set `a.b[1].c` in nested data; None removes the key."""
    parts = [int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", path)]
    target = data
    for part in parts[:-1]:
        target = target[part]
    if value is None and isinstance(target, dict):
        target.pop(parts[-1], None)
    else:
        target[parts[-1]] = value


def _write_case(root: Path, case: dict) -> Path:
    domain_dir = write_domain(root)
    target = domain_dir / (case["file"] if case["file"] == "domain.yaml" else f"products/sales/{case['file']}")
    if "set" in case:
        data = product_yaml()
        for path, value in case["set"].items():
            _set_path(data, path, value)
        target.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    elif "text" in case:
        target.write_text(case["text"], encoding="utf-8")
    elif case["generate"] == "symlink_passwd":
        target.unlink()
        target.symlink_to("/etc/passwd")
    elif case["generate"] == "folder":
        target.unlink()
        target.mkdir()
    else:
        target.write_bytes(GENERATED[case["generate"]](target))
    return domain_dir


def governed(domain_dir: Path) -> None:
    """Load a domain as its code location does: descriptors, then the governance policies."""
    domain = load_domain(domain_dir)
    raise_errors(domain, govern(domain, mesh_context(domain_dir.parent)))


@pytest.mark.parametrize("case", DESCRIPTORS, ids=[c["case"] for c in DESCRIPTORS])
def test_bad_descriptor_gets_the_platforms_error_and_stays_in_its_domain(tmp_path: Path, case: dict) -> None:
    domain_dir = _write_case(tmp_path, case)
    with pytest.raises(PlatformError) as raised:
        governed(domain_dir)
    problems = [str(p) for p in raised.value.problems]
    assert any(case["expect"] in p for p in problems), problems
    assert all(p.startswith("domains/shop/") for p in problems), problems  # every problem names its file
    assert not any(": cannot be loaded (" in p for p in problems), problems  # not the last line of defence
    try:  # the domain reading shop's port: loads, or refuses with the platform's error, never worse
        governed(write_consumer_domain(tmp_path))
    except PlatformError as error:
        assert all(str(p).startswith("domains/ledger/") for p in error.problems)


def test_mesh_check_and_the_catalog_go_on_past_a_broken_domain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, instance
) -> None:
    latin1 = next(c for c in DESCRIPTORS if c["case"] == "latin-1 bytes")
    _write_case(tmp_path, latin1)
    write_domain(tmp_path, name="depot")
    write_consumer_domain(tmp_path)
    (tmp_path / "workspace.yaml").write_text(
        "load_from:\n"
        + "".join(
            f"  - python_module: {{module_name: domains.{d}.definitions, location_name: {d}}}\n"
            for d in ("shop", "depot", "ledger")
        )
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 1
    assert "domains/shop/products/sales/product.yaml: not UTF-8 text: byte 0xe9 at line 1" in result.output
    assert "ok  depot: 1 product(s)" in result.output  # the domains after the broken one are still checked
    assert "domains/ledger/products/vat/product.yaml: inputs[0].address" in result.output
    assert "2 of 3 domain(s) do not load in Dagster" in result.output

    settings = Settings(warehouse_root=tmp_path / "warehouse", workspace=tmp_path / "workspace.yaml")
    catalog = materialize(build_platform(settings), instance)
    assert catalog.success  # the catalog is published, and warns of the two domains that do not load
    warnings = {
        e.asset_key.path[-1]
        for e in catalog.get_asset_check_evaluations()
        if not e.passed and e.check_name == "every_domain_loads"
    }
    assert warnings == {"catalog_products", "catalog_ports", "dependencies"}
    listed = Warehouse(settings.warehouse_root).read("platform.mesh.catalog_products").fetchall()
    assert [row[0] for row in listed] == ["depot.sales"]


# --- source data ------------------------------------------------------------------------------


def _run(warehouse: Warehouse, product: Product):
    return run_steps(warehouse, product)


@pytest.mark.parametrize("case", DATA, ids=[c["case"] for c in DATA])
def test_bad_source_data_gets_a_clear_error_or_a_failed_check(tmp_path: Path, case: dict) -> None:
    warehouse = Warehouse(tmp_path / "warehouse")
    shop = write_domain(tmp_path)
    (product,) = load_domain(shop).products  # loaded while its files are good, as when a run starts
    (consumer_product,) = load_domain(write_consumer_domain(tmp_path)).products
    assert not _run(warehouse, product).failed and not _run(warehouse, consumer_product).failed
    before = {port: warehouse.current(f"shop.sales.{port}") for port in ("customers", "daily_sales")}
    consumer = warehouse.current("ledger.vat.vat_by_day")

    source = shop / "data" / "orders.csv"
    if case.get("generate") == "missing":
        source.unlink()
    elif "generate" in case:
        source.write_bytes(GENERATED[case["generate"]](source))
    else:
        source.write_bytes((CORPUS / "data" / case["file"]).read_bytes())
    outcome = _run(warehouse, product)

    if "rows" in case:
        assert not outcome.failed and outcome.publication is not None, outcome.summary(outcome.failed)
        orders = next(s for s in outcome.steps if s.step.name == "orders")
        assert orders.row_count == case["rows"]
        return
    assert outcome.failed and outcome.publication is None
    if "error" in case:
        summary = outcome.summary(outcome.failed)
        assert case["error"] in summary, summary
    else:
        step, check = case["failed"].split(": ")
        failed = {  # each rule's own result, the nullability rules within the schema check's too
            (s.step.name, rule.check_name)
            for s in outcome.steps
            for r in s.blocking_failures
            for rule in r.every_rule
            if rule.blocking
        }
        assert (step, check) in failed, failed
    assert {port: warehouse.current(f"shop.sales.{port}") for port in before} == before  # nothing published
    assert warehouse.current("ledger.vat.vat_by_day") == consumer
    assert warehouse.read("ledger.vat.vat_by_day").count("*").fetchone()[0] > 0
