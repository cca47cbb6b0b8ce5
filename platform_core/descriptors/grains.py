"""The time grains a metric is grouped by: words the command line offers before it reads any
descriptor, so they live apart from the metric models (platform_core.descriptors.metrics)."""

from typing import Literal

Grain = Literal["day", "week", "month", "quarter", "year"]
GRAINS: tuple[Grain, ...] = ("day", "week", "month", "quarter", "year")
