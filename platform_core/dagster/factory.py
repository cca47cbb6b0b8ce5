"""Compile product specs into Dagster definitions: assets, checks, freshness, schedules.

`build_domain` is the single call a domain's `definitions.py` makes. Each step of a
product is one asset keyed `[domain, product, step]`, and each contract rule an asset
check on it. A product's steps share one subsettable multi-asset, whose body is
`run_product`: the steps a run selects are staged and audited, then the product's ports
are published in one commit of the lake, or, if any step fails, not at all.
"""


import importlib.util
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from platform_core.dagster.dead_runs import tag_worker
from platform_core.dagster.freshness import freshness_policy
from platform_core.dagster.metadata import (
    asset_key, check_results, definition_metadata, dependency_key, materialization_metadata, owners, tags,
)
from platform_core.dagster.resources import LakeResource, compute_resource, input_snapshot, lake_resource
from platform_core.descriptors.cache import load_domain_cached, sources_fingerprint
from platform_core.descriptors.spec import Domain, FileInput, Port, Product, Step
from platform_core.errors import PlatformError, Problem
from platform_core.execution.products import ProductOutcome, run_product
from platform_core.governance.evaluate import Violation, govern, mesh_context, published_contracts, raise_errors
from platform_core.governance.policies import Context
from platform_core.quality.results import RuleResult, describe
from platform_core.quality.schema_check import SCHEMA_CHECK_DESCRIPTION
from platform_core.settings import Settings
from platform_core.storage.warehouse import Warehouse

POLICIES_CHECK = "policies"


# Dagster calls a location's definitions function several times per process (6 for one
# `dagster asset materialize`). The last build of each domain is kept, and used again while the
# mesh's files are unchanged; across processes, the validated descriptors come from the cache.
_BUILT: dict[tuple[Path, Settings], tuple[str, dg.Definitions]] = {}


def build_domain(domain: str | Path, settings: Settings | None = None) -> dg.Definitions:
    """Definitions of one domain: every product's assets, checks and schedule, and its resources.
    A domain that breaks a governance policy of severity `error` does not load (PlatformError).
    Built once per process while what the build reads is unchanged."""
    directory = (domain if isinstance(domain, Path) else domain_directory(domain)).resolve()
    settings = settings or Settings.from_env()
    fingerprint = sources_fingerprint(directory)
    built = _BUILT.get((directory, settings))
    if built is None or built[0] != fingerprint:
        _BUILT[(directory, settings)] = built = (fingerprint, _build_domain(directory, settings, fingerprint))
    return built[1]


def _build_domain(directory: Path, settings: Settings, fingerprint: str) -> dg.Definitions:
    spec = load_domain_cached(directory, fingerprint)
    violations = govern(spec, governance_context(spec, settings))
    raise_errors(spec, violations)
    return definitions_of(spec, settings, [v for v in violations if v.severity == "warn"])


def governance_context(spec: Domain, settings: Settings) -> Context:
    """What policies see beyond the domain: the mesh's descriptors, and what the lake last published."""
    return mesh_context(spec.directory.parent, published_contracts(Warehouse.from_settings(settings)))


def dagster_problem(spec: Domain) -> str | None:
    """Why Dagster would refuse to load the domain's definitions, or None: `mesh check` asks,
    so that what it accepts also loads in Dagster."""
    try:
        dg.Definitions.validate_loadable(definitions_of(spec, Settings.from_env(), []))
    except Exception as error:  # noqa: BLE001 - any refusal is the answer
        return f"{type(error).__name__}: {(str(error).splitlines() or [''])[0]}"
    return None


def definitions_of(spec: Domain, settings: Settings, warnings: list[Violation]) -> dg.Definitions:
    sensors = []
    if any(product.port_inputs for product in spec.products):
        sensors.append(dg.AutomationConditionSensorDefinition(
            f"{spec.name}__follow_upstream_ports", target=dg.AssetSelection.groups(spec.name),
            default_status=dg.DefaultSensorStatus.RUNNING,
            description="Materializes steps fed by other domains' ports when those ports are published anew.",
        ))
    return dg.Definitions.merge(
        *(build_product(product, [w for w in warnings if w.product == product.product_address])
          for product in spec.products),
        dg.Definitions(
            resources={"duckdb": compute_resource(settings, spec.name), "lake": lake_resource(settings)},
            sensors=sensors,
            # One DuckDB writer per domain: a run's products go one after another in one process.
            executor=dg.in_process_executor,
        ),
    )


def domain_directory(name: str) -> Path:
    """The folder of package `domains.<name>`, found the way Python (and so Dagster) imports it."""
    spec = importlib.util.find_spec(f"domains.{name}")
    if spec is None or not spec.submodule_search_locations:
        raise PlatformError([Problem(f"domains/{name}", "", "no such domain package")], f"unknown domain {name!r}")
    return Path(next(iter(spec.submodule_search_locations)))


def build_product(product: Product, warnings: list[Violation] | None = None) -> dg.Definitions:
    automation = automation_of(product)
    specs = [asset_spec(product, layer, step, automation.get(step.name)) for layer, step in product.steps]
    checks = product_check_specs(product)

    @dg.multi_asset(
        name=f"{product.domain}__{product.name}", specs=specs, check_specs=checks, can_subset=True,
        pool=f"duckdb_{product.domain}",
        description=f"Builds, audits and publishes the {product.title} data product ({product.domain}.{product.name}).",
    )
    def _product(context: dg.AssetExecutionContext, duckdb: DuckDBResource, lake: LakeResource):
        build = {key.path[-1] for key in context.selected_asset_keys}
        audit_only = {key.asset_key.path[-1] for key in context.selected_asset_check_keys} - build
        tag_worker(context)  # so that, killed, the run is known dead and its pool slot freed
        with lake.writer(duckdb) as con:
            outcome = run_product(con, lake.get(), product, build=build, audit_only=audit_only,
                                  input_snapshot=input_snapshot(context, lake.get(), con), run_id=context.run_id,
                                  masking_key=lake.masking_key())
        yield from report(context, product, with_policy_results(outcome, warnings or []))

    schedules = []
    if product.schedule is not None:
        schedules.append(dg.ScheduleDefinition(
            name=f"{product.domain}__{product.name}__schedule",
            cron_schedule=product.schedule.cron,
            execution_timezone=product.schedule.timezone,
            target=dg.AssetSelection.assets(*(spec.key for spec in specs)),
            description=f"Materializes the {product.title} data product.",
            default_status=dg.DefaultScheduleStatus.RUNNING if product.schedule.enabled
            else dg.DefaultScheduleStatus.STOPPED,
        ))
    return dg.Definitions(assets=[_product], schedules=schedules)


def report(context: dg.AssetExecutionContext, product: Product, outcome: ProductOutcome) -> Iterator[object]:
    """The run's results as Dagster events: materializations with their checks once the product is
    published; otherwise the checks that ran, then a failure that says what stopped it."""
    selected_checks = context.selected_asset_check_keys
    address = f"{product.domain}.{product.name}"
    for step in outcome.steps:
        key = asset_key(product, step.step.name)
        results = [r for r in check_results(key, step.results)
                   if dg.AssetCheckKey(key, r.check_name) in selected_checks]
        if step.detail:
            context.log.error(f"{product.address(step.step.name)}: {step.error}\n{step.detail}")
        if step.audit_only or not outcome.built:
            yield from results  # a blocking one that failed fails the run, as Dagster does for any check
        else:
            yield dg.MaterializeResult(asset_key=key, check_results=results, metadata=materialization_metadata(
                product, step.step, step, outcome.publication))
    if outcome.failed:
        publishing = any(isinstance(s.step, Port) and not s.audit_only for s in outcome.steps)
        raise dg.Failure(
            description=f"{address} " + ("not published; every port keeps its last good version.\n" if publishing else
                                         "not built; its tables keep their last good version (this run "
                                         "publishes no port).\n") + outcome.summary(outcome.failed),
            metadata={"failed_steps": ", ".join(s.step.name for s in outcome.failed),
                      "input_snapshot": outcome.input_snapshot},
        )
    if outcome.publication is not None:
        context.log.info(f"{address} {outcome.publication.version} published as lake snapshot "
                         f"{outcome.publication.snapshot_id}: {', '.join(outcome.publication.ports)}")
    if outcome.promotion_error:
        raise dg.Failure(description=f"{address} was published, but the compute database kept its previous "
                                     f"tables ({outcome.promotion_error}); the next run rebuilds them.")
    if outcome.unchecked:
        raise dg.Failure(description=f"checks of {address} could not run:\n" + outcome.summary(outcome.unchecked))


def with_policy_results(outcome: ProductOutcome, warnings: list[Violation]) -> ProductOutcome:
    """The outcome with each port's `policies` check: the warnings about the product or that port."""
    steps = []
    for step in outcome.steps:
        if isinstance(step.step, Port) and not step.error:
            about = [w for w in warnings if w.port in (None, step.step.name)]
            result = RuleResult(POLICIES_CHECK, "warn", not about, len(about),
                                {"violations": [f"[{w.policy}] {w.field}: {w.message}" for w in about]} if about else {},
                                "The governance policies in force hold for the product and this port.")
            step = replace(step, results=(*step.results, result))
        steps.append(step)
    return replace(outcome, steps=tuple(steps))


# Built once when found missing, never again by automation (a failed run is not retried on every
# tick): the product's own steps that feed the steps following other products.
MISSING_ONCE = (dg.AutomationCondition.missing().newly_true() & ~dg.AutomationCondition.in_progress()
                ).with_label("missing_once")


def automation_of(product: Product) -> dict[str, dg.AutomationCondition]:
    """Each automated step's condition. Steps fed by other products' ports follow their producers:
    the daemon materializes them when an upstream port is published anew (eager). What they need
    from the product's own sources is built when missing, so that on a fresh warehouse the whole
    consumer follows, not only the steps whose every input already exists. The schedule still
    runs the rest (no condition)."""
    following = follows_other_products(product)
    return ({name: MISSING_ONCE for name in feeds(product, following)} |
            {name: dg.AutomationCondition.eager() for name in following})


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
    """Every check the product's location defines: each step's, and the policies check of each port."""
    return [check for _, step in product.steps for check in check_specs(product, step)] + [
        dg.AssetCheckSpec(POLICIES_CHECK, asset=asset_key(product, port.name), blocking=False,
                          description="[warn] The governance policies in force hold for the product and this port "
                                      "(mesh policies lists them).")
        for port in product.published_ports]


def check_keys(product: Product) -> list[dg.AssetCheckKey]:
    return [spec.key for spec in product_check_specs(product)]


def check_specs(product: Product, step: Step) -> list[dg.AssetCheckSpec]:
    key = asset_key(product, step.name)
    checks = [dg.AssetCheckSpec("schema", asset=key, blocking=True, description=SCHEMA_CHECK_DESCRIPTION)]
    return checks + [dg.AssetCheckSpec(rule.check_name, asset=key, blocking=rule.severity == "error",
                                       description=f"[{rule.severity}] {describe(rule)}") for rule in step.rules]


def asset_spec(product: Product, layer: str, step: Step, automation: dg.AutomationCondition | None) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=asset_key(product, step.name),
        deps=[dependency_key(product, d) for d in product.reads(step) if not isinstance(product.input(d), FileInput)],
        group_name=product.domain,
        owners=owners(product),
        description=step.description,
        tags=tags(product, layer, step),
        kinds={"duckdb", step.engine} | ({"ducklake"} if isinstance(step, Port) else set()),
        metadata=definition_metadata(product, layer, step),
        freshness_policy=freshness_policy(product),
        automation_condition=automation,
    )
