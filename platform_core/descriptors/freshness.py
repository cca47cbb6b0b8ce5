"""A product's freshness commitment: the one it declares, or the platform's default."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from platform_core.descriptors.files import read_own, write_own
from platform_core.descriptors.spec import CronFreshness, Product, TimeWindowFreshness

# A product that states no SLA must still be noticed when it stops updating: two days, warn after one.
PLATFORM_DEFAULT = TimeWindowFreshness(fail_after=timedelta(hours=48), warn_after=timedelta(hours=24))


def freshness_of(product: Product) -> TimeWindowFreshness | CronFreshness:
    return product.sla.freshness if product.sla else PLATFORM_DEFAULT


# The last deadline of each cron SLA, kept beside the product until its next deadline: the health
# of a product with a cron SLA is asked often (`mesh status`, every alert tick) and the answer
# changes once per deadline, while Dagster's cron arithmetic costs importing Dagster.
DEADLINES = "mesh-deadlines.json"


def latest_deadline(sla: CronFreshness, folder: Path, now: datetime) -> datetime:
    """The last deadline of a cron SLA at `now`, by Dagster's own cron arithmetic (as the asset's
    freshness policy counts), kept in `folder` (a cache's: one that cannot be written costs time)
    for as long as it stays the last."""
    path, key, moment = folder / DEADLINES, f"{sla.cron}\0{sla.timezone}", now.timestamp()
    kept = _kept_deadlines(path)
    latest, following = kept.get(key, (None, None))
    if latest is not None and following is not None and latest <= moment < following:
        return datetime.fromtimestamp(latest, tz=UTC)
    from dagster._utils.schedules import get_latest_completed_cron_tick, get_next_cron_tick

    last = get_latest_completed_cron_tick(sla.cron, now, sla.timezone)
    upcoming = get_next_cron_tick(sla.cron, now, sla.timezone)
    if last.timestamp() <= moment < upcoming.timestamp():
        try:
            folder.mkdir(parents=True, exist_ok=True)
            write_own(path, json.dumps({**kept, key: [last.timestamp(), upcoming.timestamp()]}).encode())
        except OSError:
            pass
    return last


def _kept_deadlines(path: Path) -> dict[str, tuple[float, float]]:
    try:
        kept = json.loads(read_own(path) or b"{}")
    except ValueError:
        return {}
    if not isinstance(kept, dict):
        return {}
    return {
        key: (float(value[0]), float(value[1]))
        for key, value in kept.items()
        if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int | float) for v in value)
    }
