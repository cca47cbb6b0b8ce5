"""The platform's own code location: the mesh catalog and docs site, the lake's upkeep, dead runs.

The catalog tables are a product of the platform (`platform.mesh`): built from every
domain's descriptors, audited with the same built-in rules as domain products, and
published to the lake together, so anyone can query them with DuckDB or a BI tool. The docs
site is rebuilt from the same descriptors and the instance's health right after. A sensor
refreshes both whenever a domain publishes or a descriptor changes. A daily job expires the
lake's history beyond its retention and deletes the files no kept snapshot needs. A sensor
marks failed the runs whose process died, so their pool slots free.
"""

import hashlib
import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
from pydantic import Field, TypeAdapter

from platform_core.catalog.health import product_health
from platform_core.catalog.mesh import CATALOG_TABLES, CatalogTable, Mesh, load_mesh, loop_problems, rows_relation
from platform_core.catalog.site import build_site
from platform_core.dagster.dead_runs import build_dead_run_sensor
from platform_core.dagster.metadata import asset_key, check_results
from platform_core.dagster.resources import LakeResource, lake_resource
from platform_core.descriptors.contract import contract_fingerprint
from platform_core.descriptors.rules import Rule
from platform_core.descriptors.types import format_duration, parse_duration
from platform_core.descriptors.workspace import domain_directories
from platform_core.quality.results import RuleResult, describe
from platform_core.quality.sql_executor import run_sql_rules
from platform_core.settings import Settings
from platform_core.storage.lake import Lake, Publication, table_name

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
CATALOG_PRODUCT = "platform.mesh"
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
    catalog = build_catalog(settings.workspace)
    site = build_docs_site(settings)
    maintenance = build_lake_maintenance(settings.lake_retention)
    return dg.Definitions(
        assets=[catalog, site],
        jobs=[maintenance],
        sensors=[build_dead_run_sensor(), build_catalog_sensor(settings.workspace, [*catalog.keys, site.key])],
        schedules=[
            dg.ScheduleDefinition(
                name="platform__lake_maintenance__schedule", cron_schedule="0 3 * * *", job=maintenance,
                execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.RUNNING,
                description="Expires the lake's history beyond its retention and deletes unneeded files, daily.",
            ),
        ],
        resources={"lake": lake_resource(settings)},
    )


# --- refreshed on every change ------------------------------------------------------------------

DOCS_SITE_KEY = dg.AssetKey(["platform", "mesh", "docs_site"])


def mesh_state(workspace: Path, instance: dg.DagsterInstance) -> dict[str, object]:
    """What the catalog and the site are built from: every domain's descriptor files, and the
    latest publication of any domain port (the instance's last materialization of one)."""
    digest = hashlib.sha256(workspace.read_bytes() if workspace.is_file() else b"")
    for directory in domain_directories(workspace):
        for path in sorted([directory / "domain.yaml", *directory.glob("products/*/product.yaml")]):
            digest.update(f"{path}\0".encode() + (path.read_bytes() if path.is_file() else b""))
    mesh = load_mesh(workspace)
    ports = [asset_key(product, port.name) for product in mesh.products for port in product.published_ports]
    records = instance.get_asset_records(ports) if ports else []
    published = max((r.asset_entry.last_materialization_record.storage_id for r in records
                     if r.asset_entry.last_materialization_record), default=0)
    return {"descriptors": digest.hexdigest()[:16], "published": published}


def build_catalog_sensor(workspace: Path, targets: list[dg.AssetKey]) -> dg.SensorDefinition:
    @dg.sensor(name="platform__catalog__sensor", minimum_interval_seconds=30, target=targets,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Refreshes the mesh catalog and the docs site when a domain publishes or a descriptor "
                           "changes (and once when the platform starts).")
    def _refresh(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        state = mesh_state(workspace, context.instance)
        cursor = json.dumps(state, sort_keys=True)
        if cursor == context.cursor:
            return dg.SkipReason("no domain published and no descriptor changed since the last refresh")
        return dg.SensorResult(run_requests=[dg.RunRequest(run_key=cursor, tags={"mesh/refresh": cursor})],
                               cursor=cursor)

    return _refresh


def build_docs_site(settings: Settings) -> dg.AssetsDefinition:
    @dg.asset(key=DOCS_SITE_KEY, group_name="platform", owners=[OWNER], kinds={"html"},
              deps=[catalog_key(t) for t in CATALOG_TABLES],
              description="The mesh's static documentation site for business readers: every product and port, "
                          "owners, consumers, data dictionaries, lineage and latest health (mesh docs build).")
    def docs_site(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        mesh = load_mesh(settings.workspace)
        health = {product.product_address: product_health(context.instance, product) for product in mesh.products}
        index = build_site(mesh, settings.site_root, health)
        context.log.info(f"docs site: file://{index}")
        return dg.MaterializeResult(metadata={"index": dg.MetadataValue.path(str(index)),
                                              "products": len(health), "domains": len(mesh.domains)})

    return docs_site


def catalog_key(table: CatalogTable) -> dg.AssetKey:
    return dg.AssetKey(["platform", "mesh", table.name])


def build_catalog(workspace: Path) -> dg.AssetsDefinition:
    specs = [dg.AssetSpec(
        key=catalog_key(table), group_name="platform", owners=[OWNER], description=table.description,
        kinds={"duckdb", "ducklake"},
        metadata={
            "dagster/column_schema": dg.TableSchema(columns=[
                dg.TableColumn(name, kind, description) for name, kind, description in table.columns]),
            "dagster/table_name": ".".join(("lake", *table_name(f"{CATALOG_PRODUCT}.{table.name}"))),
            "address": f"{CATALOG_PRODUCT}.{table.name}",
        },
        tags={"layer": "gold", "port": "table", "classification": "internal"},
    ) for table in CATALOG_TABLES]
    checks = [dg.AssetCheckSpec(c.name, asset=catalog_key(t), blocking=False, description=f"[warn] {c.description}")
              for t in CATALOG_TABLES for c in MESH_CHECKS[t.name]]
    checks += [dg.AssetCheckSpec(r.check_name, asset=catalog_key(t), blocking=True, description=f"[error] {describe(r)}")
               for t in CATALOG_TABLES for r in CATALOG_RULES[t.name]]

    @dg.multi_asset(name="platform__mesh", specs=specs, check_specs=checks, can_subset=True,
                    description="Builds the mesh catalog from every domain's descriptors and publishes it.")
    def _catalog(context: dg.AssetExecutionContext, lake: LakeResource) -> Iterator[object]:
        build = [t for t in CATALOG_TABLES if catalog_key(t) in context.selected_asset_keys]
        checked = {key.asset_key for key in context.selected_asset_check_keys}
        audit = [t for t in CATALOG_TABLES if catalog_key(t) in checked and t not in build]
        mesh = load_mesh(workspace)
        results, publication, rows = publish_catalog(lake.get(), build, audit, mesh, context.run_id)
        blocked = any(r.blocking for table in build for r in results[table.name])
        for table in build + audit:
            key = catalog_key(table)
            checks = [r for r in check_results(key, results[table.name])
                      if dg.AssetCheckKey(key, r.check_name) in context.selected_asset_check_keys]
            if blocked or table in audit:
                yield from checks
                continue
            yield dg.MaterializeResult(asset_key=key, check_results=checks, metadata={
                "dagster/row_count": rows[table.name], "lake_snapshot": publication.snapshot_id,
                "domains": len(mesh.domains), "domains_with_problems": len(mesh.problems),
            })
        if blocked:
            raise dg.Failure(description=f"{CATALOG_PRODUCT} not published: blocking checks failed; "
                                         "the last good catalog stays in place")

    return _catalog


def publish_catalog(lake: Lake, build: list[CatalogTable], audit: list[CatalogTable], mesh: Mesh,
                    run_id: str | None) -> tuple[dict[str, list[RuleResult]], Publication | None, dict[str, int]]:
    """Build the tables of `build` in memory from the descriptors, audit them, and publish them
    together if no blocking rule fails; audit the published version of the tables of `audit`."""
    with lake.connect(read_only=False) as con, tempfile.TemporaryDirectory() as scratch:
        results, rows = {}, {}
        for table in build + audit:
            staged = f"staged_{table.name}"
            if table in build:
                rows_relation(con, table, table.rows(mesh), Path(scratch)).create(staged)
            else:
                lake.read(con, f"{CATALOG_PRODUCT}.{table.name}").create(staged)
            warnings = [(check, check.problems(mesh)) for check in MESH_CHECKS[table.name]]
            results[table.name] = [
                *(RuleResult(check.name, "warn", not problems, len(problems),
                             {"problems": problems} if problems else {}, check.description)
                  for check, problems in warnings),
                *run_sql_rules(con, f'"{staged}"', CATALOG_RULES[table.name], lambda port: port,
                               datetime.now(timezone.utc))]
            rows[table.name] = con.execute(f'SELECT count(*) FROM "{staged}"').fetchone()[0]
        if not build or any(r.blocking for t in build for r in results[t.name]):
            return results, None, rows
        document = catalog_contract()
        publication = lake.publish(con, CATALOG_PRODUCT, {t.name: f'SELECT * FROM "staged_{t.name}"' for t in build},
                                   version=CATALOG_VERSION, contract=contract_fingerprint(document),
                                   contract_document=document, run_id=run_id)
    return results, publication, rows


def catalog_contract() -> str:
    """The catalog tables' contract: their columns and rules."""
    return json.dumps({"product": CATALOG_PRODUCT, "version": CATALOG_VERSION, "ports": [
        {"name": t.name, "description": t.description, "columns": [list(c) for c in t.columns],
         "quality": [r.model_dump(mode="json") for r in CATALOG_RULES[t.name]]} for t in CATALOG_TABLES]},
        sort_keys=True, separators=(",", ":"))


# --- the lake's upkeep ------------------------------------------------------------------------


class LakeMaintenanceConfig(dg.Config):
    keep: str = Field(default="30d", description="History to keep (30d, 12h, ...): older snapshots are expired.")


def build_lake_maintenance(retention: timedelta) -> dg.JobDefinition:
    @dg.op(name="expire_lake_history",
           description="Expires lake snapshots older than the retention, then deletes the data files that no "
                       "kept snapshot needs and files no commit ever recorded (a writer killed mid-publication).")
    def expire_lake_history(context: dg.OpExecutionContext, config: LakeMaintenanceConfig,
                            lake: LakeResource) -> dg.Output[dict]:
        keep = parse_duration(config.keep)
        with lake.get().connect(read_only=False) as con:
            counts = lake.get().expire(con, keep)
        context.log.info(f"lake history kept: {format_duration(keep)}; " +
                         ", ".join(f"{name.replace('_', ' ')}: {n}" for name, n in counts.items()))
        return dg.Output(counts, metadata={**counts, "kept": format_duration(keep)})

    @dg.job(name="lake_maintenance", description="The lake's upkeep: retention of its history, unneeded files.",
            config=dg.RunConfig(ops={"expire_lake_history": LakeMaintenanceConfig(keep=format_duration(retention))}))
    def lake_maintenance() -> None:
        expire_lake_history()

    return lake_maintenance
