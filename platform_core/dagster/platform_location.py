"""The platform's own code location: mesh-level assets built from every domain's descriptors.

The catalog tables are published like any port (`platform.mesh.catalog_ports`, ...), so
anyone can query them with DuckDB or a BI tool, and are audited with the same built-in
rules as domain products.
"""

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import TypeAdapter

from platform_core.catalog.mesh import CATALOG_TABLES, CatalogTable, Mesh, load_mesh, loop_problems, rows_relation
from platform_core.dagster.factory import WarehouseResource, check_results
from platform_core.quality.results import RuleResult, describe
from platform_core.quality.sql_executor import run_sql_rules
from platform_core.descriptors.rules import Rule
from platform_core.settings import Settings
from platform_core.storage.warehouse import Snapshot, Warehouse

OWNER = "team:data-platform"


@dataclass(frozen=True)
class MeshCheck:
    """A warning about the mesh as a whole, reported on a catalog table: its problems, if any."""

    name: str
    description: str
    problems: Callable[[Mesh], list[str]]


EVERY_DOMAIN_LOADS = MeshCheck("every_domain_loads", "Every domain of the workspace has valid descriptors.",
                               lambda mesh: list(mesh.problems))
NO_STEP_LOOPS = MeshCheck("no_step_loops", "No step depends on its own output through other products' ports.",
                          loop_problems)
MESH_CHECKS: dict[str, tuple[MeshCheck, ...]] = {
    "catalog_products": (EVERY_DOMAIN_LOADS,),
    "catalog_ports": (EVERY_DOMAIN_LOADS,),
    "dependencies": (EVERY_DOMAIN_LOADS, NO_STEP_LOOPS),  # the dependency graph is where a loop shows
}
CATALOG_VERSION = "1.0.0"  # the catalog tables' own contract version
_rule = TypeAdapter(Rule).validate_python
CATALOG_RULES: dict[str, tuple[Rule, ...]] = {
    "catalog_products": (_rule({"type": "unique", "columns": ["address"]}),
                         _rule({"type": "not_null", "column": "owner_team"})),
    "catalog_ports": (_rule({"type": "unique", "columns": ["address"]}),
                      _rule({"type": "not_null", "column": "classification"})),
    "dependencies": (_rule({"type": "unique", "columns": ["consumer", "input_name"]}),),
}


def build_platform(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or Settings.from_env()
    assets = [build_catalog_asset(table, settings.workspace) for table in CATALOG_TABLES]
    return dg.Definitions(
        assets=assets,
        schedules=[dg.ScheduleDefinition(
            name="platform__catalog__schedule", cron_schedule="*/30 * * * *", target=dg.AssetSelection.assets(*assets),
            description="Refreshes the mesh catalog from the descriptors every 30 minutes.",
            default_status=dg.DefaultScheduleStatus.RUNNING,
        )],
        resources={"warehouse": WarehouseResource(root=str(settings.warehouse_root))},
    )


def build_catalog_asset(table: CatalogTable, workspace: Path) -> dg.AssetsDefinition:
    key = dg.AssetKey(["platform", "mesh", table.name])
    rules = CATALOG_RULES[table.name]
    checks = [dg.AssetCheckSpec(c.name, asset=key, blocking=False, description=f"[warn] {c.description}")
              for c in MESH_CHECKS[table.name]]
    checks += [dg.AssetCheckSpec(r.check_name, asset=key, blocking=True, description=f"[error] {describe(r)}")
               for r in rules]

    @dg.asset(
        key=key, group_name="platform", owners=[OWNER], description=table.description, kinds={"duckdb", "parquet"},
        check_specs=checks,
        metadata={
            "dagster/column_schema": dg.TableSchema(columns=[
                dg.TableColumn(name, kind, description) for name, kind, description in table.columns]),
            "dagster/table_name": f"platform.mesh.{table.name}",
            "address": f"platform.mesh.{table.name}",
        },
        tags={"layer": "gold", "port": "table", "classification": "internal"},
        freshness_policy=dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=2), warn_window=timedelta(hours=1)),
    )
    def _asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        mesh = load_mesh(workspace)
        results, snapshot = publish_catalog_table(warehouse.get(), table, mesh, rules, context.run_id)
        yield from check_results(results)
        if any(r.blocking for r in results):
            raise dg.Failure(description=f"platform.mesh.{table.name} not published: blocking checks failed")
        yield dg.MaterializeResult(metadata={
            "dagster/row_count": snapshot.row_count, "snapshot": snapshot.file,
            "domains": len(mesh.domains), "domains_with_problems": len(mesh.problems),
        })

    return _asset


def publish_catalog_table(
    warehouse: Warehouse, table: CatalogTable, mesh: Mesh, rules: tuple[Rule, ...], run_id: str | None,
) -> tuple[list[RuleResult], Snapshot | None]:
    """Build one catalog table in memory, audit it, and publish it if no blocking rule fails."""
    with duckdb.connect() as con, tempfile.TemporaryDirectory() as scratch:
        relation = rows_relation(con, table, table.rows(mesh), Path(scratch))
        relation.create("staged")
        warnings = [(check, check.problems(mesh)) for check in MESH_CHECKS[table.name]]
        results = [*(RuleResult(check.name, "warn", not problems, len(problems),
                                {"problems": problems} if problems else {}, check.description)
                     for check, problems in warnings),
                   *run_sql_rules(con, '"staged"', rules, lambda port: port, datetime.now(timezone.utc))]
        snapshot = None
        if not any(r.blocking for r in results):
            snapshot = warehouse.publish(con, 'SELECT * FROM "staged"', f"platform.mesh.{table.name}",
                                         CATALOG_VERSION, run_id)
    return results, snapshot
