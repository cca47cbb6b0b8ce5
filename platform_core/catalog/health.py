"""The health of each product, as the Dagster instance knows it: last materialization, latest
check results, freshness, last run.

Read from the instance in DAGSTER_HOME (never from the lake): what `mesh show`, `mesh status`
and the docs site report.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import dagster as dg

from platform_core.descriptors.freshness import freshness_of
from platform_core.descriptors.spec import CronFreshness, Product
from platform_core.descriptors.types import format_duration
from platform_core.quality.checks import product_checks
from platform_core.quality.results import RULES_METADATA
from platform_core.quality.schema_check import COLUMNS_MATCH

State = Literal["healthy", "stale", "failing_checks", "failed_run", "never_materialized", "not_loaded"]


@dataclass(frozen=True)
class CheckResult:
    asset: str  # "<domain>.<product>.<step>"
    name: str
    passed: bool
    severity: Literal["ERROR", "WARN"]
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


# Worst first: a product is in the worst state any of its reasons puts it in.
_ORDER: tuple[State, ...] = ("not_loaded", "failed_run", "failing_checks", "never_materialized", "stale", "healthy")


def product_health(
    instance: dg.DagsterInstance, product: Product, now: datetime | None = None, refusal: str | None = None
) -> ProductHealth:
    """What the instance knows of a product: its ports' last materializations, the last run that
    planned them, the latest result of every check of its steps, and its freshness by its SLA.
    `refusal`: why its domain's code location does not load (nothing runs it then)."""

    now = now or datetime.now(UTC)
    address = product.product_address
    ports = [dg.AssetKey(list(product.key_path(port.name))) for port in product.published_ports]
    records = {r.asset_entry.asset_key: r.asset_entry for r in instance.get_asset_records(ports)}
    states: list[tuple[State, str]] = [("not_loaded", refusal)] if refusal else []

    materialized = {
        key: _timestamp(event.timestamp)
        for key in ports
        if key in records and (event := records[key].last_materialization)
    }
    missing = [key.path[-1] for key in ports if key not in materialized]
    if missing:
        states.append(("never_materialized", f"never published: {', '.join(missing)}"))
    planned = (instance.get_latest_planned_materialization_info(key) for key in ports)
    failed_run = None
    for run_id in sorted({info.run_id for info in planned if info is not None}):
        run = instance.get_run_by_id(run_id)
        if run is not None and run.status == dg.DagsterRunStatus.FAILURE:
            failed_run = run_id
            states.append(("failed_run", f"its last run {run_id[:8]} failed; the ports keep their last good version"))

    checks = tuple(
        _latest_checks(
            instance, [dg.AssetCheckKey(dg.AssetKey(list(check.path)), check.name) for check in product_checks(product)]
        )
    )
    failed = [c for c in checks if not c.passed and c.severity == "ERROR"]
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
    return ProductHealth(address, state, tuple(reason for _, reason in states), last, freshness, checks, failed_run)


def _timestamp(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _latest_checks(instance: dg.DagsterInstance, keys: list[dg.AssetCheckKey]) -> Iterable[CheckResult]:
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    for key in keys:
        record = latest.get(key)
        event = record.event.dagster_event if record and record.event else None
        evaluation = event.event_specific_data if event else None
        if not isinstance(evaluation, dg.AssetCheckEvaluation):  # planned, never run (its run failed first)
            continue
        asset, run_id = ".".join(key.asset_key.path), record.run_id if record else None
        sample = evaluation.metadata.get("sample")
        rules = evaluation.metadata.get(RULES_METADATA)
        parts = rules.data if isinstance(rules, dg.JsonMetadataValue) and isinstance(rules.data, list) else []
        matched = evaluation.metadata.get(COLUMNS_MATCH)
        yield CheckResult(
            asset,
            key.name,
            matched.value
            if isinstance(matched, dg.BoolMetadataValue) and matched.value is not None
            else evaluation.passed,
            "WARN" if evaluation.severity == dg.AssetCheckSeverity.WARN else "ERROR",
            evaluation.description,
            tuple(sample.data) if isinstance(sample, dg.JsonMetadataValue) and isinstance(sample.data, list) else (),
            run_id,
        )
        for part in parts:  # each rule the check ran within itself, with its own result, as its own check
            yield CheckResult(
                asset,
                str(part["check"]),
                bool(part["passed"]),
                "WARN" if part.get("severity") == "warn" else "ERROR",
                part.get("description"),
                tuple(part.get("sample") or ()),
                run_id,
            )


def _freshness(product: Product, last: datetime | None, now: datetime) -> Literal["pass", "warn", "fail", "unknown"]:
    """By the product's SLA, as its freshness policy does: age against the windows; with a cron
    SLA, published after the last deadline's lower bound."""
    from dagster._utils.schedules import get_latest_completed_cron_tick  # Dagster's own cron arithmetic

    if last is None:
        return "unknown"
    sla, age = freshness_of(product), now - last
    if isinstance(sla, CronFreshness):
        deadline = get_latest_completed_cron_tick(sla.cron, now, sla.timezone)
        return "fail" if last < deadline - sla.lower_bound else "pass"
    if age > sla.fail_after:
        return "fail"
    return "warn" if sla.warn_after and age > sla.warn_after else "pass"
