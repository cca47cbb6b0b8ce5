"""The health of each product, as Dagster knows it: last materialization, latest check results,
freshness, last run.

What Dagster knows (`Observed`) is read from the instance in DAGSTER_HOME (never from the lake),
or asked of the Dagster UI serving that instance (platform_core.catalog.ui); `judge` turns it into
the product's health, one judgement for both: what `mesh show`, `mesh status`, the alerts and the
docs site report. This module imports Dagster only to read an instance.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from platform_core.descriptors.cache import CACHE_FOLDER
from platform_core.descriptors.freshness import freshness_of, latest_deadline
from platform_core.descriptors.spec import CronFreshness, Product
from platform_core.descriptors.types import format_duration
from platform_core.quality.checks import product_checks
from platform_core.quality.results import RULES_METADATA
from platform_core.quality.schema_check import COLUMNS_MATCH

if TYPE_CHECKING:
    import dagster as dg

State = Literal["healthy", "stale", "failing_checks", "failed_run", "never_materialized", "not_loaded"]
Severity = Literal["ERROR", "WARN"]


@dataclass(frozen=True)
class CheckResult:
    asset: str  # "<domain>.<product>.<step>"
    name: str
    passed: bool
    severity: Severity
    description: str | None = None
    sample: tuple[dict[str, object], ...] = ()  # a few of the rows it failed on, as the audit kept them
    run_id: str | None = None


@dataclass(frozen=True)
class ProductHealth:
    address: str  # "<domain>.<product>"
    state: State
    reasons: tuple[str, ...]  # why it is not healthy, one readable line each; empty when healthy
    last_materialized: datetime | None = None  # the product's last publication: the latest of its ports
    freshness: Literal["pass", "warn", "fail", "unknown"] = "unknown"
    checks: tuple[CheckResult, ...] = field(default=())  # the latest result of each check of its ports
    failed_run: str | None = None  # the id of its last run, when that run failed

    @property
    def healthy(self) -> bool:
        return self.state == "healthy"

    @property
    def checks_failed(self) -> int:
        return sum(not c.passed for c in self.checks)


@dataclass(frozen=True)
class Observed:
    """What Dagster knows of a product, wherever it was read."""

    materialized: Mapping[str, datetime]  # port name -> its last materialization
    failed_runs: tuple[str, ...]  # the last runs that planned its ports and failed, by id
    checks: tuple[CheckResult, ...]  # the latest result of each check of its steps


@dataclass(frozen=True)
class CheckKey:
    path: tuple[str, ...]  # the asset's key
    name: str


def check_keys(product: Product) -> list[CheckKey]:
    """Every Dagster check of the product's steps."""
    return [CheckKey(tuple(check.path), check.name) for check in product_checks(product)]


def refused(why: str) -> str:
    """The reason a product is not loaded, from why its domain's code location does not load."""
    return f"its code location does not load in Dagster: {why}"


# Worst first: a product is in the worst state any of its reasons puts it in.
_ORDER: tuple[State, ...] = ("not_loaded", "failed_run", "failing_checks", "never_materialized", "stale", "healthy")


def product_health(
    instance: dg.DagsterInstance, product: Product, now: datetime | None = None, refusal: str | None = None
) -> ProductHealth:
    """What the instance knows of a product, judged. `refusal`: why its domain's code location
    does not load (nothing runs it then)."""
    return judge(product, observe(instance, product), now, refusal)


def judge(
    product: Product, observed: Observed, now: datetime | None = None, refusal: str | None = None
) -> ProductHealth:
    """A product's health from what Dagster knows of it: its ports' last materializations, the
    last runs that planned them, the latest result of every check of its steps, and its
    freshness by its SLA."""
    now = now or datetime.now(UTC)
    states: list[tuple[State, str]] = [("not_loaded", refusal)] if refusal else []
    materialized = observed.materialized
    missing = [port.name for port in product.published_ports if port.name not in materialized]
    if missing:
        states.append(("never_materialized", f"never published: {', '.join(missing)}"))
    for run_id in observed.failed_runs:
        states.append(("failed_run", f"its last run {run_id[:8]} failed; the ports keep their last good version"))
    failed = [c for c in observed.checks if not c.passed and c.severity == "ERROR"]
    if failed:
        states.append(
            (
                "failing_checks",
                f"{len(failed)} blocking check(s) failed: "
                + ", ".join(f"{c.asset.rsplit('.', 1)[-1]}.{c.name}" for c in failed),
            )
        )
    # fresh as its oldest port: a port left behind by a run of some ports only is as old as it is
    oldest = min(materialized.values()) if materialized and not missing else None
    freshness = _freshness(product, oldest, now)
    if freshness == "fail":
        assert oldest is not None  # a product never published has no freshness to fail
        states.append(("stale", f"published {format_duration(now - oldest)} ago, later than its SLA allows"))
    state: State = min((s for s, _ in states), key=_ORDER.index, default="healthy")
    last = max(materialized.values()) if materialized else None
    failed_run = observed.failed_runs[-1] if observed.failed_runs else None
    return ProductHealth(
        product.product_address,
        state,
        tuple(reason for _, reason in states),
        last,
        freshness,
        observed.checks,
        failed_run,
    )


def observe(instance: dg.DagsterInstance, product: Product) -> Observed:
    """What the instance knows of a product, through Dagster's API."""
    import dagster as dg

    ports = {dg.AssetKey(list(product.key_path(port.name))): port.name for port in product.published_ports}
    records = {r.asset_entry.asset_key: r.asset_entry for r in instance.get_asset_records(list(ports))}
    materialized = {
        name: timestamp(event.timestamp)
        for key, name in ports.items()
        if key in records and (event := records[key].last_materialization)
    }
    planned = (instance.get_latest_planned_materialization_info(key) for key in ports)
    failed_runs = tuple(
        run_id
        for run_id in sorted({info.run_id for info in planned if info is not None})
        if (run := instance.get_run_by_id(run_id)) is not None and run.status == dg.DagsterRunStatus.FAILURE
    )
    keys = [dg.AssetCheckKey(dg.AssetKey(list(k.path)), k.name) for k in check_keys(product)]
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    checks: list[CheckResult] = []
    for key in keys:
        record = latest.get(key)
        happened = record.event.dagster_event if record and record.event else None
        evaluation = happened.event_specific_data if happened else None
        if not isinstance(evaluation, dg.AssetCheckEvaluation):  # planned, never run (its run failed first)
            continue
        metadata = {label: _plain(value) for label, value in evaluation.metadata.items()}
        severity: Severity = "WARN" if evaluation.severity == dg.AssetCheckSeverity.WARN else "ERROR"
        checks += check_results(
            CheckKey(tuple(key.asset_key.path), key.name),
            evaluation.passed,
            severity,
            evaluation.description,
            metadata,
            record.run_id if record else None,
        )
    return Observed(materialized, failed_runs, tuple(checks))


def check_results(
    key: CheckKey,
    passed: bool,
    severity: Severity,
    description: str | None,
    metadata: Mapping[str, object],
    run_id: str | None,
) -> Iterable[CheckResult]:
    """A Dagster check's evaluation as the platform reports it: the check, then each rule it ran
    within itself (the schema check's), with its own result, as its own check. `metadata`: the
    evaluation's, as plain values."""
    asset = ".".join(key.path)
    sample, rules, matched = metadata.get("sample"), metadata.get(RULES_METADATA), metadata.get(COLUMNS_MATCH)
    yield CheckResult(
        asset,
        key.name,
        matched if isinstance(matched, bool) else passed,
        severity,
        description,
        tuple(sample) if isinstance(sample, list) else (),
        run_id,
    )
    for part in rules if isinstance(rules, list) else []:
        yield CheckResult(
            asset,
            str(part["check"]),
            bool(part["passed"]),
            "WARN" if part.get("severity") == "warn" else "ERROR",
            part.get("description"),
            tuple(part.get("sample") or ()),
            run_id,
        )


def timestamp(seconds: float) -> datetime:
    """An event's time, to the millisecond: as precise as the UI's API gives it, so that the health
    read from the instance and from the UI are the same."""
    return datetime.fromtimestamp(int(seconds * 1000) / 1000, tz=UTC)


def _plain(value: object) -> object:
    """A metadata value as the UI's API gives it: JSON data, a bool, or neither (not read here)."""
    import dagster as dg

    if isinstance(value, dg.JsonMetadataValue):
        return value.data
    if isinstance(value, dg.BoolMetadataValue):
        return value.value
    return None


def _freshness(product: Product, last: datetime | None, now: datetime) -> Literal["pass", "warn", "fail", "unknown"]:
    """By the product's SLA, as its freshness policy does: age against the windows; with a cron
    SLA, published after the last deadline's lower bound."""
    if last is None:
        return "unknown"
    sla, age = freshness_of(product), now - last
    if isinstance(sla, CronFreshness):
        return (
            "fail" if last < latest_deadline(sla, product.directory / CACHE_FOLDER, now) - sla.lower_bound else "pass"
        )
    if age > sla.fail_after:
        return "fail"
    return "warn" if sla.warn_after and age > sla.warn_after else "pass"
