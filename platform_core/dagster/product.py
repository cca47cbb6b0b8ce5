"""One data product as Dagster definitions: assets, checks, freshness, schedule and automation.

Each step of a product is one asset keyed `[domain, product, step]`, and each contract rule an
asset check on it. A product's steps share one subsettable multi-asset, whose body is
`run_product`: the steps a run selects are staged and audited, then the product's ports are
published in one commit of the lake, or, if any step fails, not at all. `product_definitions`
adds what the product's runs use (its domain's compute database, the lake, one process per run)
and the sensor that follows the ports it reads: everything a product needs to run anywhere.
"""

# No `from __future__ import annotations`: Dagster reads the op's context annotation at runtime.
import functools
from collections.abc import Iterator
from dataclasses import dataclass, replace

import dagster as dg
from dagster_duckdb import DuckDBResource

from platform_core.catalog.openlineage import product_lineage
from platform_core.dagster.dead_runs import tag_worker
from platform_core.dagster.freshness import freshness_policy
from platform_core.dagster.metadata import (
    asset_key,
    check_results,
    definition_metadata,
    dependency_key,
    materialization_metadata,
    owners,
    tags,
)
from platform_core.dagster.resources import (
    LakeResource,
    ServingResource,
    compute_resource,
    input_snapshot,
    lake_resource,
    serving_resource,
)
from platform_core.descriptors.names import PORT_KIND
from platform_core.descriptors.spec import FileInput, Port, Product, Step
from platform_core.execution.products import ProductOutcome, run_product, start_sandboxes
from platform_core.governance.evaluate import Violation
from platform_core.quality.checks import POLICIES_CHECK, POLICIES_DESCRIPTION, product_checks
from platform_core.quality.results import RuleResult
from platform_core.serving.publish import Served, serve_latest
from platform_core.settings import Settings
from platform_core.storage.lake import Lake


def product_definitions(
    product: Product, settings: Settings, warnings: list[Violation] | None = None, follow: bool = True
) -> dg.Definitions:
    """The product's definitions with the resources its runs use and, with `follow` when it reads
    other products' ports, the sensor that materializes what follows them (a domain has one for
    all its products instead). The resources of one domain are one object per process, so the
    definitions of a domain's products merge."""
    sensors = (
        [
            follow_sensor(
                f"{product.domain}__{product.name}",
                product.product_address,
                dg.AssetSelection.assets(*(asset_key(product, step.name) for _, step in product.steps)),
            )
        ]
        if follow and product.port_inputs
        else []
    )
    return dg.Definitions.merge(
        build_product(product, warnings),
        dg.Definitions(
            resources=resources_of(settings, product.domain),
            sensors=sensors,
            # One DuckDB writer per domain: a run's products go one after another in one process.
            executor=dg.in_process_executor,
        ),
    )


def follow_sensor(prefix: str, what: str, target: dg.AssetSelection) -> dg.AutomationConditionSensorDefinition:
    """The automation sensor of a domain or a product whose steps follow other products' ports."""
    return dg.AutomationConditionSensorDefinition(
        f"{prefix}__follow_upstream_ports",
        target=target,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Materializes the steps of {what} fed by other domains' ports when those ports are published "
        "anew.",
    )


def compute_key(domain: str) -> str:
    """The resource key of a domain's compute database: one per domain, so that products of several
    domains can share a code location (dg's view of the mesh, a dg project's)."""
    return f"duckdb_{domain}"


@functools.cache
def resources_of(settings: Settings, domain: str) -> dict[str, object]:
    return {
        compute_key(domain): compute_resource(settings, domain),
        "lake": lake_resource(settings),
        "serving": serving_resource(settings),
    }


def build_product(product: Product, warnings: list[Violation] | None = None) -> dg.Definitions:
    automation = automation_of(product)
    specs = [asset_spec(product, layer, step, automation.get(step.name)) for layer, step in product.steps]
    checks = product_check_specs(product)

    @dg.multi_asset(
        name=f"{product.domain}__{product.name}",
        specs=specs,
        check_specs=checks,
        can_subset=True,
        pool=f"duckdb_{product.domain}",
        required_resource_keys={compute_key(product.domain), "lake", "serving"},
        description=f"Builds, audits and publishes the {product.title} data product ({product.domain}.{product.name}).",
    )
    def _product(context: dg.AssetExecutionContext) -> Iterator[object]:
        duckdb: DuckDBResource = getattr(context.resources, compute_key(product.domain))
        lake: LakeResource = context.resources.lake
        build = {key.path[-1] for key in context.selected_asset_keys}
        audit_only = {key.asset_key.path[-1] for key in context.selected_asset_check_keys} - build
        tag_worker(context)  # so that, killed, the run is known dead and its pool slot freed
        # OpenLineage: START now, the outcome once the domain's database is released (docs/openlineage.md)
        events = product_lineage(product, context.run_id, context.job_name, build, audit_only, context.log.warning)
        unsandboxed = lake.allows_unsandboxed_python(product.domain)
        # the pandas steps' first process loads while the database opens and the first steps run
        sandboxes = start_sandboxes(product, build, audit_only, unsandboxed)
        with sandboxes, events as lineage, lake.writer(duckdb) as con:
            outcome = run_product(
                con,
                lake.get(),
                product,
                build=build,
                audit_only=audit_only,
                input_snapshot=input_snapshot(context, lake.get(), con),
                run_id=context.run_id,
                masking_key=lake.masking_key(),
                unsandboxed_python=unsandboxed,
                usage=lake.usage(),
                sandboxes=sandboxes,
            )
        lineage.finished(outcome)
        serving = serve(context.resources.serving, lake.get(), product, context.run_id)
        yield from report(context, product, with_policy_results(outcome, warnings or []), serving)

    schedules = []
    if product.schedule is not None:
        schedules.append(
            dg.ScheduleDefinition(
                name=f"{product.domain}__{product.name}__schedule",
                cron_schedule=product.schedule.cron,
                execution_timezone=product.schedule.timezone,
                target=dg.AssetSelection.assets(*(spec.key for spec in specs)),
                description=f"Materializes the {product.title} data product.",
                default_status=dg.DefaultScheduleStatus.RUNNING
                if product.schedule.enabled
                else dg.DefaultScheduleStatus.STOPPED,
            )
        )
    return dg.Definitions(assets=[_product], schedules=schedules)


@dataclass(frozen=True)
class Serving:
    """What serving the product did this run: served, or why not (None: serving is not configured)."""

    served: Served | None = None
    error: str | None = None


def serve(resource: ServingResource, lake: Lake, product: Product, run_id: str) -> Serving:
    """Serve the product's last publication in the lake to the serving database, if there is one.
    Any failure is said in words, for the run to report: the lake stays right either way."""
    target = resource.target()
    if target is None:
        return Serving()
    try:
        return Serving(served=serve_latest(target, lake, product, run_id))
    except Exception as error:  # noqa: BLE001 - the run reports it; the lake is published whatever happens here
        return Serving(error=f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0]}")


def report(
    context: dg.AssetExecutionContext, product: Product, outcome: ProductOutcome, serving: Serving | None = None
) -> Iterator[object]:
    """The run's results as Dagster events: materializations with their checks once the product is
    published; otherwise the checks that ran, then a failure that says what stopped it (or what
    stopped its serving)."""
    serving = serving or Serving()
    selected_checks = context.selected_asset_check_keys
    address = f"{product.domain}.{product.name}"
    for step in outcome.steps:
        key = asset_key(product, step.step.name)
        selected = [r for r in step.results if dg.AssetCheckKey(key, r.check_name) in selected_checks]
        results = list(check_results(key, selected))
        if step.detail:
            context.log.error(f"{product.address(step.step.name)}: {step.error}\n{step.detail}")
        if step.helper:  # an ephemeral step built again for a selected one: not selected, nothing to report
            continue
        if step.audit_only or not outcome.built:
            yield from results  # a blocking one that failed fails the run, as Dagster does for any check
        else:
            yield dg.MaterializeResult(
                asset_key=key,
                check_results=results,
                metadata=materialization_metadata(product, step.step, step, outcome.publication),
            )
    if serving.served is not None and not serving.served.already:
        context.log.info(serving.served.summary())
    if outcome.failed:
        publishing = any(isinstance(s.step, Port) and not s.audit_only for s in outcome.steps)
        raise dg.Failure(
            description=f"{address} "
            + (
                "not published; every port keeps its last good version.\n"
                if publishing
                else "not built; its tables keep their last good version (this run publishes no port).\n"
            )
            + outcome.summary(outcome.failed),
            metadata={
                "failed_steps": ", ".join(s.step.name for s in outcome.failed),
                "input_snapshot": outcome.input_snapshot,
            },
        )
    if outcome.publication is not None:
        context.log.info(
            f"{address} {outcome.publication.version} published as lake snapshot "
            f"{outcome.publication.snapshot_id}: {', '.join(outcome.publication.ports)}"
        )
    if serving.error:
        raise dg.Failure(
            description=f"{address} was published to the lake but not served: {serving.error}. The "
            "serving database keeps serving its previous version whole; the next run of the product "
            "(or `mesh serving sync`) serves the lake's latest version."
        )
    if outcome.promotion_error:
        raise dg.Failure(
            description=f"{address} was published, but the compute database kept its previous "
            f"tables ({outcome.promotion_error}); the next run rebuilds them."
        )
    if outcome.unchecked:
        raise dg.Failure(description=f"checks of {address} could not run:\n" + outcome.summary(outcome.unchecked))


def with_policy_results(outcome: ProductOutcome, warnings: list[Violation]) -> ProductOutcome:
    """The outcome with each port's `policies` check: the warnings about the product or that port."""
    steps = []
    for step in outcome.steps:
        if isinstance(step.step, Port) and not step.error:
            about = [w for w in warnings if w.port in (None, step.step.name)]
            result = RuleResult(
                POLICIES_CHECK,
                "warn",
                not about,
                len(about),
                {"violations": [f"[{w.policy}] {w.field}: {w.message}" for w in about]} if about else {},
                POLICIES_DESCRIPTION,
            )
            step = replace(step, results=(*step.results, result))
        steps.append(step)
    return replace(outcome, steps=tuple(steps))


# Built once when found missing, never again by automation (a failed run is not retried on every
# tick): the product's own steps that feed the steps following other products.
MISSING_ONCE: dg.AutomationCondition = (
    dg.AutomationCondition.missing().newly_true() & ~dg.AutomationCondition.in_progress()
).with_label("missing_once")


def automation_of(product: Product) -> dict[str, dg.AutomationCondition]:
    """Each automated step's condition. Steps fed by other products' ports follow their producers:
    the daemon materializes them when an upstream port is published anew (eager). What they need
    from the product's own sources is built when missing, so that on a fresh warehouse the whole
    consumer follows, not only the steps whose every input already exists. The schedule still
    runs the rest (no condition)."""
    following = follows_other_products(product)
    return dict.fromkeys(feeds(product, following), MISSING_ONCE) | {
        name: dg.AutomationCondition.eager() for name in following
    }


def feeds(product: Product, following: set[str]) -> set[str]:
    """The product's own steps that the given steps read, directly or through other steps."""
    needed: set[str] = set()
    for _, step in reversed(product.steps):  # declaration order is dependency order
        if step.name in following or step.name in needed:
            needed |= set(product.reads(step))
    return needed - following - {i.name for i in product.inputs}


def follows_other_products(product: Product) -> set[str]:
    """Steps that read, directly or through other steps, a port of another product."""
    following = {i.name for i in product.port_inputs}
    for _, step in product.steps:  # declaration order is dependency order within layers
        if following & set(product.reads(step)):
            following.add(step.name)
    return following - {i.name for i in product.port_inputs}


def product_check_specs(product: Product) -> list[dg.AssetCheckSpec]:
    """Every check the product's location defines (platform_core.quality.checks lists them)."""
    return [
        dg.AssetCheckSpec(
            check.name, asset=dg.AssetKey(list(check.path)), blocking=check.blocking, description=check.description
        )
        for check in product_checks(product)
    ]


def asset_spec(product: Product, layer: str, step: Step, automation: dg.AutomationCondition | None) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=asset_key(product, step.name),
        deps=[dependency_key(product, d) for d in product.reads(step) if not isinstance(product.input(d), FileInput)],
        group_name=product.domain,
        owners=owners(product),
        description=step.description,
        tags=tags(product, layer, step),
        kinds={"duckdb", step.engine} | ({PORT_KIND} if isinstance(step, Port) else set()),
        metadata=definition_metadata(product, layer, step),
        freshness_policy=freshness_policy(product),
        automation_condition=automation,
    )
