"""Freshness SLAs as Dagster freshness policies, with one platform default applied centrally."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from platform_core.spec import CronFreshness, Product, TimeWindowFreshness

# A product that states no SLA must still be noticed when it stops updating: two days, warn after one.
PLATFORM_DEFAULT = TimeWindowFreshness(fail_after=timedelta(hours=48), warn_after=timedelta(hours=24))


def freshness_of(product: Product) -> TimeWindowFreshness | CronFreshness:
    return product.sla.freshness if product.sla else PLATFORM_DEFAULT


def freshness_policy(product: Product) -> dg.FreshnessPolicy:
    sla = freshness_of(product)
    if isinstance(sla, CronFreshness):
        return dg.FreshnessPolicy.cron(deadline_cron=sla.cron, lower_bound_delta=sla.lower_bound, timezone=sla.timezone)
    return dg.FreshnessPolicy.time_window(fail_window=sla.fail_after, warn_window=sla.warn_after)
