"""The suite every domain of workspace.yaml must pass, whoever wrote it or scaffolded it."""

from __future__ import annotations

import dagster as dg
import pytest

from platform_core.catalog.mesh import dependency_rows, load_mesh
from platform_core.dagster.factory import build_domain, domain_directory
from platform_core.descriptors.loader import load_domain
from platform_core.descriptors.workspace import read_workspace
from platform_core.settings import Settings
from tests.conftest import PROJECT

DOMAINS = [location.domain for location in read_workspace(PROJECT / "workspace.yaml") if location.domain]
pytestmark = pytest.mark.xdist_group("mesh")


@pytest.mark.parametrize("domain", DOMAINS)
def test_domain_loads_and_builds(domain: str, settings: Settings) -> None:
    spec = load_domain(domain_directory(domain))
    assert spec.name == domain and spec.products
    defs = build_domain(domain, settings)
    dg.Definitions.validate_loadable(defs)
    own = [s for s in defs.resolve_all_asset_specs() if s.key.path[0] == domain]
    assert own and all(s.owners and s.description and s.freshness_policy for s in own)
    assert all(s.metadata["dagster/column_schema"].columns for s in own)


@pytest.mark.parametrize("domain", DOMAINS)
def test_domain_materializes_with_every_check_green(domain: str, mesh_run) -> None:
    result = mesh_run.results[domain]
    assert result.success
    failed = [
        (e.asset_key.to_user_string(), e.check_name) for e in result.get_asset_check_evaluations() if not e.passed
    ]
    assert failed == []
    spec = load_domain(domain_directory(domain))
    expected = {f"{domain}/{p.name}/{s.name}" for p in spec.products for _, s in p.steps}
    assert {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()} == expected
    for product in spec.products:
        for port in product.output_ports:
            assert mesh_run.warehouse.current(product.address(port.name)) is not None


def test_producers_are_materialized_before_consumers(mesh_run) -> None:
    position = {domain: i for i, domain in enumerate(mesh_run.order)}
    assert sorted(position) == sorted(DOMAINS)
    for edge in dependency_rows(load_mesh(PROJECT / "workspace.yaml")):
        assert position[edge["producer_domain"]] <= position[edge["consumer_domain"]]
