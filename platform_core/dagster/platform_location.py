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
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import dagster as dg
from pydantic import Field

from platform_core.catalog.health import product_health
from platform_core.catalog.mesh import CATALOG_TABLES, CatalogTable, LoadedMesh, load_mesh
from platform_core.catalog.product import CATALOG_PRODUCT, MESH_CHECKS, catalog_spec, run_catalog
from platform_core.catalog.site import build_site
from platform_core.dagster.alerts import build_alerts_sensor
from platform_core.dagster.dead_runs import build_dead_run_sensor
from platform_core.dagster.metadata import asset_key, check_results, column_schema
from platform_core.dagster.resources import LakeResource, lake_resource, serving_resource
from platform_core.descriptors.mesh_index import MeshIndex
from platform_core.descriptors.types import format_duration, parse_duration
from platform_core.governance.readers import recent_usage
from platform_core.quality.checks import POLICIES_CHECK, product_checks
from platform_core.serving.server import ServingError
from platform_core.serving.usage import UsageUnavailable, collect_usage
from platform_core.settings import Settings
from platform_core.storage.lake import table_name
from platform_core.storage.usage import UsageLog

OWNER = "team:data-platform"
PLATFORM_MODULE = "platform_core.definitions"  # the module workspace.yaml lists for this location


def build_platform(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or Settings.from_env()
    catalog = build_catalog(settings.workspace)
    site = build_docs_site(settings)
    maintenance = build_lake_maintenance(settings.lake_retention)
    return dg.Definitions(
        assets=[catalog, site],
        jobs=[maintenance],
        sensors=[
            build_dead_run_sensor(),
            build_catalog_sensor(settings.workspace, [*catalog.keys, site.key]),
            build_usage_sensor(settings.usage, settings.usage_retention),
            build_alerts_sensor(settings),
        ],
        schedules=[
            dg.ScheduleDefinition(
                name="platform__lake_maintenance__schedule",
                cron_schedule="0 3 * * *",
                job=maintenance,
                execution_timezone="UTC",
                default_status=dg.DefaultScheduleStatus.RUNNING,
                description="Expires the lake's history beyond its retention and deletes unneeded files, daily.",
            ),
        ],
        resources={"lake": lake_resource(settings), "serving": serving_resource(settings)},
    )


def build_usage_sensor(usage: UsageLog, retention: timedelta) -> dg.SensorDefinition:
    @dg.sensor(
        name="platform__serving_usage",
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING,
        required_resource_keys={"serving"},
        description="Records who read which port and columns of the serving database, and how often, in the "
        "usage journal, from PostgreSQL's statement statistics; drops the journal's days past its retention.",
    )
    def serving_usage(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        usage.prune(retention)
        target = context.resources.serving.target()
        if target is None:
            return dg.SkipReason("no serving database: products are served to nobody")
        try:
            rows = collect_usage(target, usage)
        except (ServingError, UsageUnavailable) as error:
            return dg.SkipReason(str(error))
        return dg.SkipReason(f"usage recorded: {len(rows)} (person, port) pair(s) read since the last collection")

    return serving_usage


# --- refreshed on every change ------------------------------------------------------------------

DOCS_SITE_KEY = dg.AssetKey(["platform", "mesh", "docs_site"])


def mesh_state(loaded: LoadedMesh, instance: dg.DagsterInstance) -> dict[str, object]:
    """What the catalog and the site are built from: the mesh's files (their fingerprint; the mesh
    is loaded again only when they change), and the latest publication of any domain port (the
    instance's last materialization of one)."""
    fingerprint, mesh = loaded.current()
    ports = [asset_key(product, port.name) for product in mesh.products for port in product.published_ports]
    records = instance.get_asset_records(ports) if ports else []
    published = max(
        (
            r.asset_entry.last_materialization_record.storage_id
            for r in records
            if r.asset_entry.last_materialization_record
        ),
        default=0,
    )
    return {"descriptors": hashlib.sha256(fingerprint.encode()).hexdigest()[:16], "published": published}


def build_catalog_sensor(workspace: Path, targets: list[dg.AssetKey]) -> dg.SensorDefinition:
    loaded = LoadedMesh(MeshIndex.of_workspace(workspace))

    @dg.sensor(
        name="platform__catalog__sensor",
        minimum_interval_seconds=30,
        target=targets,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Refreshes the mesh catalog and the docs site when a domain publishes or a descriptor "
        "changes (and once when the platform starts).",
    )
    def _refresh(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        state = mesh_state(loaded, context.instance)
        cursor = json.dumps(state, sort_keys=True)
        if cursor == context.cursor:
            return dg.SkipReason("no domain published and no descriptor changed since the last refresh")
        return dg.SensorResult(
            run_requests=[dg.RunRequest(run_key=cursor, tags={"mesh/refresh": cursor})], cursor=cursor
        )

    return _refresh


def build_docs_site(settings: Settings) -> dg.AssetsDefinition:
    @dg.asset(
        key=DOCS_SITE_KEY,
        group_name="platform",
        owners=[OWNER],
        kinds={"html"},
        deps=[catalog_key(t) for t in CATALOG_TABLES],
        description="The mesh's static documentation site for business readers: every product and port, "
        "owners, consumers, data dictionaries, lineage and latest health (mesh docs build).",
    )
    def docs_site(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        mesh = load_mesh(settings.workspace)
        health = {product.product_address: product_health(context.instance, product) for product in mesh.products}
        usage = recent_usage(MeshIndex.of_workspace(settings.workspace), settings.usage)
        index = build_site(mesh, settings.site_root, health, usage=usage)
        context.log.info(f"docs site: file://{index}")
        return dg.MaterializeResult(
            metadata={"index": dg.MetadataValue.path(str(index)), "products": len(health), "domains": len(mesh.domains)}
        )

    return docs_site


def catalog_key(table: CatalogTable) -> dg.AssetKey:
    return dg.AssetKey(["platform", "mesh", table.name])


def build_catalog(workspace: Path) -> dg.AssetsDefinition:
    """The catalog's four tables as assets: the ports of the `platform.mesh` product, with its checks
    (platform_core.quality.checks) and the mesh's warnings (platform_core.catalog.product)."""
    product = catalog_spec()
    ports = {port.name: port for port in product.output_ports}
    specs = [
        dg.AssetSpec(
            key=catalog_key(table),
            group_name="platform",
            owners=[OWNER],
            description=table.description,
            kinds={"duckdb", "ducklake"},
            metadata={
                "dagster/column_schema": column_schema(product, ports[table.name]),
                "dagster/table_name": ".".join(("lake", *table_name(f"{CATALOG_PRODUCT}.{table.name}"))),
                "address": f"{CATALOG_PRODUCT}.{table.name}",
            },
            tags={"layer": "gold", "port": "table", "classification": "internal"},
        )
        for table in CATALOG_TABLES
    ]
    checks = [
        dg.AssetCheckSpec(c.name, asset=catalog_key(t), blocking=False, description=f"[warn] {c.description}")
        for t in CATALOG_TABLES
        for c in MESH_CHECKS[t.name]
    ]
    checks += [
        dg.AssetCheckSpec(c.name, asset=dg.AssetKey(list(c.path)), blocking=c.blocking, description=c.description)
        for c in product_checks(product)
        if c.path[-1] in ports and c.name != POLICIES_CHECK
    ]

    @dg.multi_asset(
        name="platform__mesh",
        specs=specs,
        check_specs=checks,
        can_subset=True,
        description="Builds the mesh catalog from every domain's descriptors and publishes it.",
    )
    def _catalog(context: dg.AssetExecutionContext, lake: LakeResource) -> Iterator[object]:
        build = [t.name for t in CATALOG_TABLES if catalog_key(t) in context.selected_asset_keys]
        checked = {key.asset_key for key in context.selected_asset_check_keys}
        audit = [t.name for t in CATALOG_TABLES if catalog_key(t) in checked and t.name not in build]
        mesh = replace(load_mesh(workspace), usage=lake.usage())
        outcome = run_catalog(lake.get(), mesh, build, audit, context.run_id)
        for step in (step for step in outcome.steps if step.step.name in ports):  # bronze is no asset
            key = dg.AssetKey(list(product.key_path(step.step.name)))
            selected = [
                r for r in step.results if dg.AssetCheckKey(key, r.check_name) in context.selected_asset_check_keys
            ]
            results = list(check_results(key, selected))
            if step.audit_only or not outcome.built:
                yield from results
                continue
            yield dg.MaterializeResult(
                asset_key=key,
                check_results=results,
                metadata={
                    "dagster/row_count": step.row_count,
                    "lake_snapshot": outcome.publication.snapshot_id,
                    "domains": len(mesh.domains),
                    "domains_with_problems": len(mesh.problems),
                }
                if outcome.publication
                else {"dagster/row_count": step.row_count},
            )
        if outcome.failed or outcome.unchecked:
            raise dg.Failure(
                description=f"{CATALOG_PRODUCT} not published: the last good catalog stays in place.\n"
                + outcome.summary(outcome.failed + outcome.unchecked)
            )

    return _catalog


# --- the lake's upkeep ------------------------------------------------------------------------


class LakeMaintenanceConfig(dg.Config):
    keep: str = Field(default="30d", description="History to keep (30d, 12h, ...): older snapshots are expired.")


def build_lake_maintenance(retention: timedelta) -> dg.JobDefinition:
    @dg.op(
        name="expire_lake_history",
        description="Expires lake snapshots older than the retention, then deletes the data files that no "
        "kept snapshot needs and files no commit ever recorded (a writer killed mid-publication).",
    )
    def expire_lake_history(
        context: dg.OpExecutionContext, config: LakeMaintenanceConfig, lake: LakeResource
    ) -> dg.Output[dict]:
        keep = parse_duration(config.keep)
        with lake.get().connect(read_only=False) as con:
            counts = lake.get().expire(con, keep)
        context.log.info(
            f"lake history kept: {format_duration(keep)}; "
            + ", ".join(f"{name.replace('_', ' ')}: {n}" for name, n in counts.items())
        )
        return dg.Output(counts, metadata={**counts, "kept": format_duration(keep)})

    @dg.job(
        name="lake_maintenance",
        description="The lake's upkeep: retention of its history, unneeded files.",
        config=dg.RunConfig(ops={"expire_lake_history": LakeMaintenanceConfig(keep=format_duration(retention))}),
    )
    def lake_maintenance() -> None:
        expire_lake_history()

    return lake_maintenance
