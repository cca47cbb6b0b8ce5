"""The platform's definitions written again in plain Dagster, for benchmarks that separate the
platform's own cost from Dagster's.

`describe` turns a domain's built definitions into JSON: every asset's key, dependencies, owners,
description, tags, kinds, metadata (column schemas), freshness policy and automation condition,
every check, each multi-asset's pool, every schedule. Loaded as a Dagster module (`-f
bench/plain_dagster.py` with `PLAIN_DAGSTER_DESCRIBED=<json>`), this file builds the same
definitions directly with `dg.multi_asset`, a DuckDB resource and the in-process executor, as a
team would write them by hand, with bodies that do no work: each selected asset materializes
and each selected check passes. What is left between the two is the platform's own cost.
"""

import json
import os
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource
from dagster_shared.serdes import deserialize_value, serialize_value

DESCRIBED_VARIABLE = "PLAIN_DAGSTER_DESCRIBED"


def describe(definitions: list[dg.Definitions], path: Path) -> Path:
    """Write the assets, checks and schedules of built definitions as JSON (made once, untimed)."""
    described = []
    for built in definitions:
        for assets_def in built.assets:
            described.append(
                {
                    "name": assets_def.op.name,
                    "pool": assets_def.op.pool,
                    "assets": [
                        {
                            "key": list(spec.key.path),
                            "deps": [list(d.asset_key.path) for d in spec.deps],
                            "group": spec.group_name,
                            "owners": list(spec.owners),
                            "description": spec.description,
                            "tags": {k: v for k, v in spec.tags.items() if not k.startswith("dagster/kind/")},
                            "kinds": sorted(spec.kinds),
                            "metadata": serialize_value(spec.metadata),
                            "freshness": serialize_value(spec.freshness_policy),
                            "automation": serialize_value(spec.automation_condition)
                            if spec.automation_condition
                            else None,
                        }
                        for spec in assets_def.specs
                    ],
                    "checks": [
                        {
                            "name": c.name,
                            "asset": list(c.asset_key.path),
                            "blocking": c.blocking,
                            "description": c.description,
                        }
                        for c in assets_def.check_specs
                    ],
                }
            )
        for schedule in built.schedules or []:
            described.append(
                {
                    "schedule": schedule.name,
                    "cron": schedule.cron_schedule,
                    "timezone": schedule.execution_timezone,
                    "keys": [
                        list(k.path)
                        for k in schedule.target.resolvable_to_job.selection.resolve(built.resolve_asset_graph())
                    ],
                }
            )
    path.write_text(json.dumps(described), encoding="utf-8")
    return path


def locations(described: list[dict]) -> dict[str, dg.Definitions]:
    """One Definitions per domain (group), as the platform's code locations."""
    parts: dict[str, tuple[list, list]] = {}
    for entry in described:
        if "schedule" in entry:
            continue
        assets, _ = parts.setdefault(entry["assets"][0]["group"], ([], []))
        assets.append(multi_asset(entry))
    for entry in described:
        if "schedule" in entry:
            group = next(
                a["group"] for e in described if "assets" in e for a in e["assets"] if a["key"] == entry["keys"][0]
            )
            parts[group][1].append(
                dg.ScheduleDefinition(
                    name=entry["schedule"],
                    cron_schedule=entry["cron"],
                    execution_timezone=entry["timezone"],
                    target=dg.AssetSelection.assets(*(dg.AssetKey(k) for k in entry["keys"])),
                )
            )
    return {
        group: dg.Definitions(
            assets=assets,
            schedules=schedules,
            executor=dg.in_process_executor,
            resources={"duckdb": DuckDBResource(database=":memory:")},
        )
        for group, (assets, schedules) in parts.items()
    }


def multi_asset(entry: dict) -> dg.AssetsDefinition:
    specs = [
        dg.AssetSpec(
            key=dg.AssetKey(a["key"]),
            deps=[dg.AssetKey(d) for d in a["deps"]],
            group_name=a["group"],
            owners=a["owners"],
            description=a["description"],
            tags=a["tags"],
            kinds=set(a["kinds"]),
            metadata=deserialize_value(a["metadata"]),
            freshness_policy=deserialize_value(a["freshness"]),
            automation_condition=deserialize_value(a["automation"]) if a["automation"] else None,
        )
        for a in entry["assets"]
    ]
    checks = [
        dg.AssetCheckSpec(
            c["name"], asset=dg.AssetKey(c["asset"]), blocking=c["blocking"], description=c["description"]
        )
        for c in entry["checks"]
    ]

    @dg.multi_asset(name=entry["name"], specs=specs, check_specs=checks, can_subset=True, pool=entry["pool"])
    def body(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
        # no work: each selected asset materializes, each selected check passes
        selected = context.selected_asset_check_keys
        for key in [spec.key for spec in specs if spec.key in context.selected_asset_keys]:  # dependency order
            yield dg.MaterializeResult(
                asset_key=key,
                check_results=[
                    dg.AssetCheckResult(asset_key=key, check_name=c.name, passed=True)
                    for c in checks
                    if c.asset_key == key and c.key in selected
                ],
            )

    return body


if DESCRIBED_VARIABLE in os.environ:  # loaded by Dagster as a module of one location
    defs = dg.Definitions.merge(*locations(json.loads(Path(os.environ[DESCRIBED_VARIABLE]).read_text())).values())
