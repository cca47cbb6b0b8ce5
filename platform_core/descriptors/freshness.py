"""A product's freshness commitment: the one it declares, or the platform's default."""

from __future__ import annotations

from datetime import timedelta

from platform_core.descriptors.spec import CronFreshness, Product, TimeWindowFreshness

# A product that states no SLA must still be noticed when it stops updating: two days, warn after one.
PLATFORM_DEFAULT = TimeWindowFreshness(fail_after=timedelta(hours=48), warn_after=timedelta(hours=24))


def freshness_of(product: Product) -> TimeWindowFreshness | CronFreshness:
    return product.sla.freshness if product.sla else PLATFORM_DEFAULT
