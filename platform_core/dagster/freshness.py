"""Freshness SLAs as Dagster freshness policies, with one platform default applied centrally."""

from __future__ import annotations

import dagster as dg

from platform_core.descriptors.freshness import freshness_of
from platform_core.descriptors.spec import CronFreshness, Product


def freshness_policy(product: Product) -> dg.FreshnessPolicy:
    sla = freshness_of(product)
    if isinstance(sla, CronFreshness):
        return dg.FreshnessPolicy.cron(deadline_cron=sla.cron, lower_bound_delta=sla.lower_bound, timezone=sla.timezone)
    return dg.FreshnessPolicy.time_window(fail_window=sla.fail_after, warn_window=sla.warn_after)
