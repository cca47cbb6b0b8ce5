"""Federated computational governance: policies as code, tightened by domains, never weakened.

Each global policy has a fixture that breaks it and the valid shop product that keeps it; a
domain tightens one and is refused when it weakens one; errors stop a domain's location from
loading and warnings show on its assets; `mesh check`, `mesh policies` and `mesh diff` say
it all, for people and for scripts.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import dagster as dg
import pytest
import yaml
from click.testing import CliRunner

from platform_core.cli import main
from platform_core.dagster.factory import build_domain
from platform_core.descriptors.contract import contract_document
from platform_core.descriptors.loader import load_domain
from platform_core.errors import PlatformError
from platform_core.governance.evaluate import govern, mesh_context
from platform_core.settings import Settings
from tests.conftest import PROJECT, materialize
from tests.factories import consumer_product_yaml, domain_yaml, product_yaml, write_consumer_domain, write_domain

TODAY = date(2026, 11, 29)
SHOP = "domains/shop/products/sales/product.yaml"
LEDGER = "domains/ledger/products/vat/product.yaml"


def _violations(domain_dir: Path, published: dict | None = None, today: date = TODAY) -> list:
    domain = load_domain(domain_dir)
    context = mesh_context(domain_dir.parent, (lambda product: published) if published else None, today)
    return govern(domain, context)


def _set(path: str, value: object) -> Callable[[dict], None]:
    def mutate(data: dict) -> None:
        *parents, last = path.split(".")
        target = data
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is None:
            del target[last]
        else:
            target[last] = value

    return mutate


# (mutation of the shop product, or of the ledger consumer, policy, where, the start of the message)
BREAKING = {
    "owner_contact": ("shop", _set("owner.contact", None), "owner.contact", "no contact"),
    "useful_descriptions": ("shop", _set("description", "Orders."), "description", "7 characters, fewer than 40"),
    "port_classification": (
        "shop",
        _set("output_ports.1.classification", None),
        "output_ports[1].classification",
        "not classified",
    ),
    "personal_data_protected": (
        "shop",
        _set("output_ports.0.columns.0.classification", "personal"),
        "output_ports[0].columns[0].masking",
        "customer is personal data in a public port",
    ),
    "sla_and_schedule": ("shop", _set("schedule", None), "schedule", "no schedule"),
    "semver_version": ("shop", _set("version", "1.0"), "version", "'1.0' is not a semantic version"),
    "consumers_declared": (
        "ledger",
        _set("inputs.0.purpose", None),
        "inputs[0].purpose",
        "shop.sales.daily_sales is read with no purpose said",
    ),
}


@pytest.mark.parametrize("policy", sorted(BREAKING))
def test_each_policy_has_a_fixture_that_breaks_it_and_one_that_keeps_it(tmp_path: Path, policy: str) -> None:
    which, mutate, field, message = BREAKING[policy]
    write_domain(tmp_path)
    write_consumer_domain(tmp_path)
    assert [v for v in _violations(tmp_path / "domains" / which) if v.policy == policy] == []  # keeps it
    data = product_yaml() if which == "shop" else consumer_product_yaml()
    mutate(data)
    domain_dir = write_domain(tmp_path, data) if which == "shop" else write_consumer_domain(tmp_path, data)
    (found,) = [v for v in _violations(domain_dir) if v.policy == policy]
    assert (found.file, found.field) == (SHOP if which == "shop" else LEDGER, field)
    assert found.message.startswith(message), found.message
    assert found.hint


def test_a_consumer_the_producer_does_not_list_is_told_whom_to_ask(tmp_path: Path) -> None:
    shop = product_yaml()
    shop["consumers"] = shop["consumers"][:1]  # no longer lists ledger.vat
    write_domain(tmp_path, shop)
    (found,) = [v for v in _violations(write_consumer_domain(tmp_path)) if v.policy == "consumers_declared"]
    assert found.field == "inputs[0].address"
    assert found.message == (
        "shop.sales does not list ledger.vat among its consumers; ask team shop-data (shop@example.com)"
    )


def test_deprecated_inputs_warn_before_the_sunset_and_fail_after_it(tmp_path: Path) -> None:
    shop = product_yaml()
    shop.update(status="deprecated", sunset="2027-03-31")
    write_domain(tmp_path, shop)
    ledger = write_consumer_domain(tmp_path)
    before = {(v.policy, v.severity) for v in _violations(ledger, today=date(2027, 1, 1))}
    assert ("deprecated_inputs", "warn") in before and ("no_sunset_passed", "error") not in before
    after = [v for v in _violations(ledger, today=date(2027, 4, 1)) if v.policy == "no_sunset_passed"]
    assert [v.message for v in after] == [
        "shop.sales is deprecated, and its sunset 2027-03-31 has passed: read a product that replaces it"
    ]


def test_a_change_that_breaks_consumers_needs_a_new_major(tmp_path: Path) -> None:
    write_domain(tmp_path)
    write_consumer_domain(tmp_path)
    published = json.loads(contract_document(load_domain(tmp_path / "domains" / "shop").products[0]))
    assert [
        v for v in _violations(tmp_path / "domains" / "shop", published) if v.policy == "breaking_changes_need_major"
    ] == []
    dropped = product_yaml()
    dropped["output_ports"][1]["columns"] = dropped["output_ports"][1]["columns"][:2]  # revenue is gone,
    dropped["output_ports"][1]["quality"] = []  # and its range rule with it
    found = [
        v for v in _violations(write_domain(tmp_path, dropped), published) if v.policy == "breaking_changes_need_major"
    ]
    assert {(v.severity, v.field) for v in found} == {
        ("error", "output_ports[1].columns"),
        ("error", "output_ports[1].quality"),
    }
    ledger = "ledger.vat (its descriptor reads it; no run recorded in the window)"
    assert {v.message for v in found} == {
        f"daily_sales.revenue removed (published as 1.0.0); it would break {ledger}",
        f"daily_sales: range rule on revenue removed (published as 1.0.0); it would break {ledger}",
    }
    dropped["version"] = "2.0.0"  # a new major says it
    assert [
        v for v in _violations(write_domain(tmp_path, dropped), published) if v.policy == "breaking_changes_need_major"
    ] == []


# --- a domain's own settings ------------------------------------------------------------------


def _with_policies(tmp_path: Path, policies: list[dict]) -> Path:
    domain_dir = write_domain(tmp_path)
    (domain_dir / "domain.yaml").write_text(yaml.safe_dump({**domain_yaml(), "policies": policies}))
    return domain_dir


def test_a_domain_tightens_a_policy_and_adds_its_own(tmp_path: Path) -> None:
    domain_dir = _with_policies(
        tmp_path,
        [
            {"use": "useful_descriptions", "product": 100, "severity": "error"},
            {"name": "shop_tags", "use": "required_tags", "tags": ["demo", "retail"]},
        ],
    )
    found = {(v.policy, v.severity, v.field, v.message) for v in _violations(domain_dir)}
    assert found == {
        ("useful_descriptions", "error", "description", "60 characters, fewer than 100"),
        ("shop_tags", "error", "tags", "missing retail"),
    }
    result = CliRunner().invoke(main, ["policies", "--domain", "shop", "--json", "-w", str(_workspace(tmp_path))])
    sources = {p["name"]: (p["severity"], p["source"]) for p in json.loads(result.output)}
    assert sources["useful_descriptions"] == ("error", "global, made stricter by domains/shop/domain.yaml")
    assert sources["shop_tags"] == ("error", "domains/shop/domain.yaml")
    assert sources["owner_contact"] == ("error", "global")


def test_a_domain_caps_the_sensitivity_its_ports_may_hold(tmp_path: Path) -> None:
    capped = _with_policies(tmp_path, [{"name": "no_personal", "use": "max_classification", "level": "confidential"}])
    assert [v for v in _violations(capped) if v.policy == "no_personal"] == []  # confidential at most: it holds
    data = product_yaml()
    data["output_ports"][0]["columns"][0].update(classification="personal", masking="hash")
    (capped / "products" / "sales" / "product.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    (found,) = [v for v in _violations(capped) if v.policy == "no_personal"]
    assert (found.field, found.message, found.severity) == (
        "output_ports[0]",
        "holds personal data, above confidential",
        "error",
    )


@pytest.mark.parametrize(
    "setting, message",
    [
        ({"use": "owner_contact", "severity": "warn"}, "weakens the global policy owner_contact: error made warn"),
        (
            {"use": "useful_descriptions", "product": 5},
            "weakens the global policy useful_descriptions: product 5 is below 40",
        ),
        (
            {"use": "useful_descriptions", "enabled": False},
            "useful_descriptions takes no enabled; it takes column, port, product",
        ),
        ({"use": "no_such_policy"}, "unknown policy 'no_such_policy'"),
        ({"name": "owner_contact", "use": "required_tags", "tags": ["x"]}, "'owner_contact' is a global policy's name"),
        ({"name": "mine", "use": "max_classification", "level": "secret"}, "level: 'secret' is not one of public"),
    ],
)
def test_weakening_or_switching_off_a_global_policy_is_itself_an_error(
    tmp_path: Path, setting: dict, message: str
) -> None:
    domain_dir = _with_policies(tmp_path, [setting])
    (found,) = [v for v in _violations(domain_dir) if v.policy == "policy_settings"]
    assert found.file == "domains/shop/domain.yaml" and found.severity == "error"
    assert message in found.message, found.message
    with pytest.raises(PlatformError, match="breaks 1 governance rule"):
        build_domain(domain_dir, Settings(warehouse_root=tmp_path / "warehouse"))


# --- where policies run ------------------------------------------------------------------------


def _workspace(tmp_path: Path, domains: tuple[str, ...] = ("shop",)) -> Path:
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        "load_from:\n"
        + "".join(f"  - python_module: {{module_name: domains.{d}.definitions, location_name: {d}}}\n" for d in domains)
    )
    return workspace


def test_an_error_stops_the_location_listing_every_violation(tmp_path: Path, settings: Settings) -> None:
    data = product_yaml()
    del data["owner"]["contact"]
    data["output_ports"][1].pop("classification")
    with pytest.raises(PlatformError) as raised:
        build_domain(write_domain(tmp_path, data), settings)
    assert [str(p) for p in raised.value.problems] == [
        f"{SHOP}: owner.contact: [owner_contact] no contact: consumers cannot reach the owning team (fix: add owner: "
        "{team: <slug>, name: <team name>, contact: <e-mail>} to the product)",
        f"{SHOP}: output_ports[1].classification: [port_classification] not classified (fix: add classification: "
        "public | internal | confidential | personal to the port)",
    ]


def test_mesh_check_names_file_and_field_in_a_table_or_json_and_exits_1_on_errors(tmp_path: Path) -> None:
    data = product_yaml()
    data["version"] = "1.0"
    data["description"] = "Orders."
    write_domain(tmp_path, data)
    workspace = _workspace(tmp_path)
    result = CliRunner().invoke(main, ["check", "-w", str(workspace)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    # each violation: where, then the message and the fix (as --json and the UI give them)
    (semver,) = [i for i, line in enumerate(lines) if line.split() == ["error", "semver_version", SHOP, "version"]]
    assert lines[semver + 1].strip().startswith("version '1.0'") or "1.0" in lines[semver + 1]
    assert lines[semver + 2].strip().startswith("fix: write the version as 1.0.0")
    assert any(line.split() == ["warn", "useful_descriptions", SHOP, "description"] for line in lines)
    report = json.loads(CliRunner().invoke(main, ["check", "--json", "-w", str(workspace)]).output)
    assert (report["errors"], report["warnings"]) == (1, 1)
    assert {(v["severity"], v["policy"], v["file"], v["field"]) for v in report["violations"]} == {
        ("error", "semver_version", SHOP, "version"),
        ("warn", "useful_descriptions", SHOP, "description"),
    }
    data["version"] = "1.0.0"  # warnings alone do not fail the check
    write_domain(tmp_path, data)
    assert CliRunner().invoke(main, ["check", "-w", str(workspace)]).exit_code == 0


def test_a_warning_shows_on_the_products_assets_as_a_failing_warn_check(
    tmp_path: Path, settings: Settings, instance
) -> None:
    data = product_yaml()
    data["output_ports"][1]["columns"][0]["description"] = "Day."
    result = materialize(build_domain(write_domain(tmp_path, data), settings), instance)
    assert result.success  # a warning never blocks
    policies = {e.asset_key.path[-1]: e for e in result.get_asset_check_evaluations() if e.check_name == "policies"}
    assert policies["customers"].passed
    daily = policies["daily_sales"]
    assert not daily.passed and daily.severity == dg.AssetCheckSeverity.WARN
    assert "[useful_descriptions] output_ports[1].columns[0].description: day: 4 characters, fewer than 10" in str(
        daily.metadata["violations"].value
    )


def test_mesh_check_passes_on_the_repository() -> None:
    result = CliRunner().invoke(main, ["check", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["errors"] == 0 and all(d["loaded"] for d in report["domains"])


# --- the repository's own domains ---------------------------------------------------------------

HR = "domains/hr/products/overtime/product.yaml"


def _project(tmp_path: Path, domains: tuple[str, ...]) -> Path:
    for domain in domains:
        shutil.copytree(
            PROJECT / "domains" / domain, tmp_path / "domains" / domain, ignore=shutil.ignore_patterns("__pycache__")
        )
    return _workspace(tmp_path, domains)


@pytest.mark.parametrize(
    "owner, problem",
    [
        (None, f"{HR}: owner: missing required field"),
        (
            "owner: {team: hr-data, name: HR Data}",
            f"{HR}: owner.contact: [owner_contact] no contact: consumers cannot reach the owning team (fix: add owner: "
            "{team: <slug>, name: <team name>, contact: <e-mail>} to the product)",
        ),
    ],
)
def test_hr_without_its_owner_fails_mesh_check_and_its_location_alike(
    tmp_path: Path, owner: str | None, problem: str
) -> None:
    workspace = _project(tmp_path, ("hr",))
    descriptor = tmp_path / HR
    line = "owner: {team: hr-data, name: HR Data, contact: hr-data@example.com}\n"
    descriptor.write_text(descriptor.read_text().replace(line, owner + "\n" if owner else ""))
    result = CliRunner().invoke(main, ["check", "-w", str(workspace)])
    assert result.exit_code == 1
    file, field, message = problem.split(": ", 2)
    said = message.split(" (fix:")[0].removeprefix("[owner_contact] ")
    lines = result.output.splitlines()
    assert any(file in line and f" {field}" in line and said in line for line in lines) or any(
        file in line and line.endswith(f" {field}") and said in following  # a violation: where, then what
        for line, following in itertools.pairwise(lines)
    )
    with pytest.raises(PlatformError) as raised:
        build_domain(tmp_path / "domains" / "hr", Settings(warehouse_root=tmp_path / "warehouse"))
    assert [str(p) for p in raised.value.problems] == [problem]


def test_finance_reading_hr_employees_without_a_grant_is_refused_at_load(tmp_path: Path) -> None:
    _project(tmp_path, ("hr", "finance", "sales"))
    descriptor = tmp_path / "domains" / "finance" / "products" / "overtime_cost_ratio" / "product.yaml"
    descriptor.write_text(
        descriptor.read_text().replace(
            "inputs:\n",
            (
                "inputs:\n  - {name: employees, kind: port, address: hr.overtime.dim_employee,"
                " purpose: Cost per employee.}\n"
            ),
            1,
        )
    )
    with pytest.raises(PlatformError) as raised:
        build_domain(tmp_path / "domains" / "finance", Settings(warehouse_root=tmp_path / "warehouse"))
    assert [str(p) for p in raised.value.problems] == [
        "domains/finance/products/overtime_cost_ratio/product.yaml: inputs[0].address: [access] "
        "finance.overtime_cost_ratio reads hr.overtime.dim_employee, a restricted port, without a grant "
        "(fix: ask HR Data (hr-data@example.com) to add {consumer: finance.overtime_cost_ratio, purpose: ...} "
        "to the grants of hr.overtime.dim_employee)"
    ]
