"""The mesh deployed as code servers: one `dagster api grpc` process per domain, the webserver
and the daemon on a workspace of `grpc_server` entries, the instance on PostgreSQL.

This is how the platform runs beyond `dagster dev`: each domain's code is served apart, so a
domain ships a new version by restarting its own server, and the others keep serving. The
test starts that topology on a fresh database and warehouse, materializes the producers (hr
and sales) as a user would, sees the daemon bring finance along through its automation
sensor, then restarts sales' server and checks that hr and finance never stopped serving.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from platform_core.descriptors.loader import load_domain
from platform_core.storage.warehouse import Warehouse
from tests.conftest import PROJECT
from tests.instances import project_instance
from tests.topology import FINISHED, Deadline, Location, Topology, migrate_instance, running_topology

pytestmark = pytest.mark.xdist_group("topology")

PRODUCERS = ("hr", "sales")
CONSUMER = "finance"
LOCATIONS = [Location(name, f"domains.{name}.definitions") for name in (*PRODUCERS, CONSUMER)]
FOLLOWS = {"dagster/sensor_name": f"{CONSUMER}__follow_upstream_ports"}
# The whole scenario takes 2 to 3.5 minutes on 2 busy cores: the servers and the webserver start
# in ~20 s, the producers' runs take 40 to 70 s, the automation sensor ticks every 30 s and
# finance's runs follow, the producers run once more after the restart. Twice that, at most.
BUDGET_SECONDS = 420


def _run_to_success(topology: Topology, run_ids: list[str], deadline: Deadline, timeout: float) -> None:
    """Wait for the runs to end, and require that each succeeded."""

    def ended() -> dict[str, str] | None:
        statuses = {run_id: topology.ui.run_status(run_id) for run_id in run_ids}
        return statuses if set(statuses.values()) <= FINISHED else None

    statuses = deadline.wait_for(ended, f"runs {run_ids} ending", timeout, interval=2, diagnose=topology.logs)
    assert set(statuses.values()) == {"SUCCESS"}, (statuses, topology.logs())


def _finance_followed(topology: Topology, warehouse: Warehouse, ports: list[str]) -> list[dict] | None:
    """The sensor's runs of finance, once every finance port is published and none of them is
    still queued or running; fails at once if one of them did not succeed."""
    runs = topology.ui.runs(FOLLOWS)
    failed = [r for r in runs if r["status"] in FINISHED - {"SUCCESS"}]
    assert not failed, (failed, topology.logs())
    if runs and all(r["status"] == "SUCCESS" for r in runs) and all(warehouse.current(p) for p in ports):
        return runs
    return None


def test_each_domain_served_apart_follows_its_producers_and_restarts_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deadline = Deadline(BUDGET_SECONDS)
    warehouse = Warehouse(tmp_path / "warehouse")
    ports = [
        f"{CONSUMER}.{product.name}.{port.name}"
        for product in load_domain(PROJECT / "domains" / CONSUMER).products
        for port in product.published_ports
    ]
    assert ports

    with project_instance("postgres", tmp_path, monkeypatch) as env:
        migrate_instance(PROJECT, env)
        with running_topology(PROJECT, LOCATIONS, env, tmp_path, deadline) as topology:
            ui = topology.ui
            entries = ui.loaded_locations(timeout=min(120, deadline.left()))
            assert sorted(e["name"] for e in entries) == sorted(location.name for location in LOCATIONS)
            assert {e["locationOrLoadError"]["__typename"] for e in entries} == {"RepositoryLocation"}

            # the producers, as a user materializes them from the UI; the daemon dequeues the runs
            launched = [ui.launch_assets(name, ui.materializable(name)) for name in PRODUCERS]
            _run_to_success(topology, launched, deadline, timeout=240)

            # finance follows on its own: the daemon's automation sensor launches its runs
            runs = deadline.wait_for(
                lambda: _finance_followed(topology, warehouse, ports),
                "finance following hr and sales",
                240,
                interval=2,
                diagnose=topology.logs,
            )
            assert all(
                {t["key"]: t["value"] for t in r["tags"]}.get("dagster/from_automation_condition") == "true"
                for r in runs
            )
            assert {tuple(key["path"][:1]) for r in runs for key in r["assetSelection"] or []} == {(CONSUMER,)}

            # a new version of sales: its server stops and starts again, the others keep serving
            seen: list[dict[str, dict]] = [ui.locations()]
            server = topology.servers["sales"]
            server.stop()
            seen.append(ui.locations())
            server.start()

            def serving_again() -> bool:
                seen.append(ui.locations())
                return server.serving()

            deadline.wait_for(serving_again, "sales' server serving again", 120, diagnose=server.log_tail)
            reloaded = ui.reload("sales")
            assert reloaded["__typename"] == "WorkspaceLocationEntry", reloaded
            assert reloaded["locationOrLoadError"]["__typename"] == "RepositoryLocation", reloaded
            seen.append(ui.locations())
            for name in ("hr", CONSUMER):
                states = [(s[name]["loadStatus"], s[name]["locationOrLoadError"]["__typename"]) for s in seen]
                assert set(states) == {("LOADED", "RepositoryLocation")}, (name, states)
            assert {name: e["loadStatus"] for name, e in ui.locations().items()} == {
                location.name: "LOADED" for location in LOCATIONS
            }

            # the restarted sales serves runs again, and hr's server was not disturbed
            _run_to_success(
                topology, [ui.launch_assets(name, ui.materializable(name)) for name in PRODUCERS], deadline, timeout=240
            )
