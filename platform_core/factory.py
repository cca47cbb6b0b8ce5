"""Compile product specs into Dagster definitions: assets, checks, freshness, schedules.

`build_domain` is the single call a domain's `definitions.py` makes. Each step of a
product becomes one asset keyed `[domain, product, step]` whose body is `run_step`
(write, audit, publish); each contract rule becomes an asset check on it.
"""

from pathlib import Path

import dagster as dg

from platform_core.freshness import freshness_policy
from platform_core.loader import load_domain
from platform_core.quality import describe
from platform_core.runner import StepOutcome, run_step
from platform_core.settings import Settings
from platform_core.spec import Column, Domain, Port, Product, Step
from platform_core.storage import Warehouse

DOMAINS_ROOT = Path(__file__).resolve().parent.parent / "domains"
SCHEMA_CHECK_DESCRIPTION = "Produced columns and types match the contract."


class WarehouseResource(dg.ConfigurableResource):
    """The storage root: compute databases and published ports (see platform_core.storage)."""

    root: str

    def get(self) -> Warehouse:
        return Warehouse(Path(self.root))


def build_domain(domain: str | Path, settings: Settings | None = None) -> dg.Definitions:
    """Definitions of one domain: every product's assets, checks and schedule, and the warehouse."""
    directory = Path(domain) if isinstance(domain, Path) or "/" in str(domain) else DOMAINS_ROOT / str(domain)
    spec = load_domain(directory)
    settings = settings or Settings.from_env()
    return dg.Definitions.merge(
        *(build_product(product, spec) for product in spec.products),
        dg.Definitions(
            resources={"warehouse": WarehouseResource(root=str(settings.warehouse_root))},
            # One DuckDB writer per domain: steps of a run go one after another in one process.
            executor=dg.in_process_executor,
        ),
    )


def build_product(product: Product, domain: Domain) -> dg.Definitions:
    assets = [build_step_asset(product, domain, layer, step) for layer, step in product.steps]
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


def build_step_asset(product: Product, domain: Domain, layer: str, step: Step) -> dg.AssetsDefinition:
    key = asset_key(product, step.name)
    checks = [dg.AssetCheckSpec("schema", asset=key, blocking=True, description=SCHEMA_CHECK_DESCRIPTION)]
    checks += [dg.AssetCheckSpec(rule.check_name, asset=key, blocking=rule.severity == "error",
                                 description=f"[{rule.severity}] {describe(rule)}") for rule in step.rules]

    @dg.asset(
        key=key,
        deps=[asset_key(product, d) for d in step.depends_on if product.input(d) is None],
        check_specs=checks,
        group_name=product.domain,
        owners=owners(product),
        description=step.description,
        tags=tags(product, layer, step),
        kinds={"duckdb", step.engine},
        metadata=definition_metadata(product, layer, step),
        freshness_policy=freshness_policy(product),
        pool=f"duckdb_{product.domain}",
    )
    def _asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        outcome = run_step(warehouse.get(), product, step, run_id=context.run_id)
        yield from check_results(outcome)
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


def column_lineage(product: Product, step: Step) -> dg.TableColumnLineage | None:
    """Declared `source` columns, or a same-named column of exactly one upstream step."""
    upstream = {d: {c.name for c in product.step(d).columns} for d in step.depends_on if product.input(d) is None}
    deps: dict[str, list[dg.TableColumnDep]] = {}
    for column in step.columns:
        sources = [tuple(ref.split(".")) for ref in column.source]
        if not sources:
            owners_of_name = [table for table, names in upstream.items() if column.name in names]
            sources = [(owners_of_name[0], column.name)] if len(owners_of_name) == 1 else []
        found = [dg.TableColumnDep(asset_key=asset_key(product, t), column_name=c) for t, c in sources if t in upstream]
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


def check_results(outcome: StepOutcome):
    for result in outcome.results:
        yield dg.AssetCheckResult(
            check_name=result.check_name,
            passed=result.passed,
            severity=dg.AssetCheckSeverity.ERROR if result.severity == "error" else dg.AssetCheckSeverity.WARN,
            metadata={"failing_rows": result.failing_rows, **{k: _metadata_value(v) for k, v in result.observed.items()}},
            description=result.description,
        )


def _metadata_value(value: object) -> object:
    return ", ".join(map(str, value)) if isinstance(value, list) else value
