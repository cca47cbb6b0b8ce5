"""Compile product specs into Dagster definitions: assets, checks, freshness, schedules.

`build_domain` is the single call a domain's `definitions.py` makes. Each step of a
product becomes one asset keyed `[domain, product, step]` whose body is `run_step`
(write, audit, publish); each contract rule becomes an asset check on it.
"""

import importlib.util
from collections.abc import Iterable, Iterator
from pathlib import Path

import dagster as dg

from platform_core.descriptors.addresses import domains_root_of, resolve_port
from platform_core.errors import PlatformError, Problem
from platform_core.dagster.freshness import freshness_policy
from platform_core.descriptors.loader import load_domain
from platform_core.quality.results import RuleResult, describe
from platform_core.quality.schema_check import SCHEMA_CHECK_DESCRIPTION
from platform_core.execution.steps import StepOutcome, run_step
from platform_core.settings import Settings
from platform_core.descriptors.spec import Column, FileInput, Port, PortInput, Product, Step
from platform_core.storage.warehouse import Warehouse

class WarehouseResource(dg.ConfigurableResource):
    """The storage root: compute databases and published ports (see platform_core.storage.warehouse)."""

    root: str

    def get(self) -> Warehouse:
        return Warehouse(Path(self.root))


def build_domain(domain: str | Path, settings: Settings | None = None) -> dg.Definitions:
    """Definitions of one domain: every product's assets, checks and schedule, and the warehouse."""
    spec = load_domain(domain if isinstance(domain, Path) else domain_directory(domain))
    settings = settings or Settings.from_env()
    sensors = []
    if any(product.port_inputs for product in spec.products):
        sensors.append(dg.AutomationConditionSensorDefinition(
            f"{spec.name}__follow_upstream_ports", target=dg.AssetSelection.groups(spec.name),
            default_status=dg.DefaultSensorStatus.RUNNING,
            description="Materializes steps fed by other domains' ports when those ports are published anew.",
        ))
    return dg.Definitions.merge(
        *(build_product(product) for product in spec.products),
        dg.Definitions(
            resources={"warehouse": WarehouseResource(root=str(settings.warehouse_root))},
            sensors=sensors,
            # One DuckDB writer per domain: steps of a run go one after another in one process.
            executor=dg.in_process_executor,
        ),
    )


def domain_directory(name: str) -> Path:
    """The folder of package `domains.<name>`, found the way Python (and so Dagster) imports it."""
    spec = importlib.util.find_spec(f"domains.{name}")
    if spec is None or not spec.submodule_search_locations:
        raise PlatformError([Problem(f"domains/{name}", "", "no such domain package")], f"unknown domain {name!r}")
    return Path(next(iter(spec.submodule_search_locations)))


def build_product(product: Product) -> dg.Definitions:
    # Steps fed by other products' ports follow their producers (the schedule still runs the rest):
    # the daemon materializes them when an upstream port is published anew.
    following = follows_other_products(product)
    assets = [build_step_asset(product, layer, step,
                               dg.AutomationCondition.eager() if step.name in following else None)
              for layer, step in product.steps]
    schedules = []
    if product.schedule is not None:
        schedules.append(dg.ScheduleDefinition(
            name=f"{product.domain}__{product.name}__schedule",
            cron_schedule=product.schedule.cron,
            execution_timezone=product.schedule.timezone,
            target=dg.AssetSelection.assets(*assets),
            description=f"Materializes the {product.title} data product.",
            default_status=dg.DefaultScheduleStatus.RUNNING if product.schedule.enabled
            else dg.DefaultScheduleStatus.STOPPED,
        ))
    return dg.Definitions(assets=assets, schedules=schedules)


def asset_key(product: Product, name: str) -> dg.AssetKey:
    return dg.AssetKey([product.domain, product.name, name])


def dependency_key(product: Product, name: str) -> dg.AssetKey:
    """A step of this product, or the asset of another product's port: addresses map 1:1 to keys."""
    source = product.input(name)
    return dg.AssetKey(list(source.parts)) if isinstance(source, PortInput) else asset_key(product, name)


def follows_other_products(product: Product) -> set[str]:
    """Steps that read, directly or through other steps, a port of another product."""
    following = {i.name for i in product.port_inputs}
    for _, step in product.steps:  # declaration order is dependency order within layers
        if following & set(step.depends_on):
            following.add(step.name)
    return following - {i.name for i in product.port_inputs}


def build_step_asset(
    product: Product, layer: str, step: Step, automation: dg.AutomationCondition | None = None,
) -> dg.AssetsDefinition:
    key = asset_key(product, step.name)
    checks = [dg.AssetCheckSpec("schema", asset=key, blocking=True, description=SCHEMA_CHECK_DESCRIPTION)]
    checks += [dg.AssetCheckSpec(rule.check_name, asset=key, blocking=rule.severity == "error",
                                 description=f"[{rule.severity}] {describe(rule)}") for rule in step.rules]

    @dg.asset(
        key=key,
        deps=[dependency_key(product, d) for d in step.depends_on if not isinstance(product.input(d), FileInput)],
        check_specs=checks,
        group_name=product.domain,
        owners=owners(product),
        description=step.description,
        tags=tags(product, layer, step),
        kinds={"duckdb", step.engine},
        metadata=definition_metadata(product, layer, step),
        freshness_policy=freshness_policy(product),
        pool=f"duckdb_{product.domain}",
        automation_condition=automation,
    )
    def _asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        outcome = run_step(warehouse.get(), product, step, run_id=context.run_id)
        yield from check_results(outcome.results)
        if outcome.blocking_failures:
            names = ", ".join(r.check_name for r in outcome.blocking_failures)
            raise dg.Failure(
                description=f"{product.address(step.name)} not published: blocking checks failed ({names}); "
                            "the last good version stays in place.",
                metadata={"failed_checks": names, "rows_in_rejected_version": outcome.row_count},
            )
        yield dg.MaterializeResult(metadata=materialization_metadata(product, step, outcome))

    return _asset


def owners(product: Product) -> list[str]:
    return [f"team:{product.owner.team}"] + ([product.owner.contact] if product.owner.contact else [])


def tags(product: Product, layer: str, step: Step) -> dict[str, str]:
    result = {"layer": layer, "product": product.name, "domain": product.domain}
    if isinstance(step, Port):
        result.update({"port": step.kind, "classification": step.effective_classification})
    else:
        result["classification"] = "internal"
    result.update({tag: "" for tag in product.tags})
    return result


def column_schema(product: Product, step: Step) -> dg.TableSchema:
    def describe_column(column: Column) -> str:
        level = step.column_classification(column) if isinstance(step, Port) else column.classification
        return column.description + (f" [{level}]" if level else "")

    return dg.TableSchema(columns=[
        dg.TableColumn(
            name=c.name, type=c.type, description=describe_column(c),
            constraints=dg.TableColumnConstraints(nullable=c.nullable, unique=c.unique),
        )
        for c in step.columns
    ])


def definition_metadata(product: Product, layer: str, step: Step) -> dict[str, object]:
    metadata: dict[str, object] = {
        "dagster/column_schema": column_schema(product, step),
        "dagster/table_name": f"{product.domain}.{product.name}.{step.name}",
        "product": f"{product.title} v{product.version} ({product.status})",
        "layer": layer,
        "consumers": dg.MetadataValue.md("\n".join(f"- **{c.name}**: {c.purpose}" for c in product.consumers)
                                         or "none declared"),
    }
    if isinstance(step, Port):
        metadata["address"] = product.address(step.name)
    transform = step.sql or step.python
    metadata["transform"] = dg.MetadataValue.path(str(product.directory / str(transform).split(":")[0]))
    return metadata


def upstream_columns(product: Product, name: str) -> set[str]:
    source = product.input(name)
    if isinstance(source, PortInput):
        return {c.name for c in resolve_port(source.address, domains_root_of(product)).columns}
    return {c.name for c in product.step(name).columns}


def column_lineage(product: Product, step: Step) -> dg.TableColumnLineage | None:
    """Declared `source` columns, or a same-named column of exactly one upstream step or port."""
    upstream = {d: upstream_columns(product, d) for d in step.depends_on
                if not isinstance(product.input(d), FileInput)}
    deps: dict[str, list[dg.TableColumnDep]] = {}
    for column in step.columns:
        sources = [tuple(ref.split(".")) for ref in column.source]
        if not sources:
            owners_of_name = [table for table, names in upstream.items() if column.name in names]
            sources = [(owners_of_name[0], column.name)] if len(owners_of_name) == 1 else []
        found = [dg.TableColumnDep(asset_key=dependency_key(product, t), column_name=c)
                 for t, c in sources if t in upstream]
        if found:
            deps[column.name] = found
    return dg.TableColumnLineage(deps_by_column=deps) if deps else None


def materialization_metadata(product: Product, step: Step, outcome: StepOutcome) -> dict[str, object]:
    metadata: dict[str, object] = {"dagster/row_count": outcome.row_count, "compute_table": outcome.table}
    lineage = column_lineage(product, step)
    if lineage is not None:
        metadata["dagster/column_lineage"] = lineage
    if outcome.snapshot is not None:
        metadata["snapshot"] = outcome.snapshot.file
        metadata["published_version"] = outcome.snapshot.version_id
    return metadata


def check_results(results: Iterable[RuleResult]) -> Iterator[dg.AssetCheckResult]:
    for result in results:
        yield dg.AssetCheckResult(
            check_name=result.check_name,
            passed=result.passed,
            severity=dg.AssetCheckSeverity.ERROR if result.severity == "error" else dg.AssetCheckSeverity.WARN,
            metadata={"failing_rows": result.failing_rows, **{k: _metadata_value(v) for k, v in result.observed.items()}},
            description=result.description,
        )


def _metadata_value(value: object) -> object:
    return ", ".join(map(str, value)) if isinstance(value, list) else value
