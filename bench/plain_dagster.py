"""The platform's definitions written again in plain Dagster, for benchmarks that separate the
platform's own cost from Dagster's.

`describe` turns a domain's built definitions into JSON: every asset's key, dependencies, owners,
description, tags, kinds, metadata (column schemas), freshness policy and automation condition,
every check, each multi-asset's pool, every schedule. Loaded as a Dagster module (`-f
bench/plain_dagster.py` with `PLAIN_DAGSTER_DESCRIBED=<json>`), this file builds the same
definitions directly with `dg.multi_asset`, a DuckDB resource and the in-process executor, as a
team would write them by hand, with bodies that do no work: each selected asset materializes
and each selected check passes. What is left between the two is the platform's own cost.

With `PLAIN_DAGSTER_WORK=<json>` (`sources`, `database`, `lake`, `key`), HR's bodies do HR's
work instead, as bench/handwritten_hr.py does it: each selected table built from the product's
SQL in a DuckDB file (the employee master by the product's own pandas function, in the run's
process), each of its checks one query (the 9 `policies` checks and finance's
`expected_by_...` check, which have no query there, pass), a failing blocking check fails the
run, and the ports are published to a DuckLake in one commit before the assets are reported.
That is plain Dagster doing the product's work, as a team would write it without the platform.
"""

import importlib.util
import json
import os
import sys
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource
from dagster_shared.serdes import deserialize_value, serialize_value

DESCRIBED_VARIABLE = "PLAIN_DAGSTER_DESCRIBED"
WORK_VARIABLE = "PLAIN_DAGSTER_WORK"


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


def locations(described: list[dict], work: dict | None = None) -> dict[str, dg.Definitions]:
    """One Definitions per domain (group), as the platform's code locations; with `work`, HR's
    bodies do its work."""
    parts: dict[str, tuple[list, list]] = {}
    for entry in described:
        if "schedule" in entry:
            continue
        assets, _ = parts.setdefault(entry["assets"][0]["group"], ([], []))
        assets.append(multi_asset(entry, work))
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
            resources={"duckdb": DuckDBResource(database=work["database"] if work else ":memory:")},
        )
        for group, (assets, schedules) in parts.items()
    }


def multi_asset(entry: dict, work: dict | None = None) -> dg.AssetsDefinition:
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
        selected = [c for c in checks if c.key in context.selected_asset_check_keys]
        keys = [spec.key for spec in specs if spec.key in context.selected_asset_keys]  # dependency order
        if work is not None:
            yield from hr_work(duckdb, keys, selected, work)
            return
        # no work: each selected asset materializes, each selected check passes
        for key in keys:
            yield dg.MaterializeResult(
                asset_key=key,
                check_results=[
                    dg.AssetCheckResult(asset_key=key, check_name=c.name, passed=True)
                    for c in selected
                    if c.asset_key == key
                ],
            )

    return body


def hr_work(duckdb: DuckDBResource, keys: list[dg.AssetKey], checks: list[dg.AssetCheckSpec], work: dict):
    """HR's selected tables built and checked as bench/handwritten_hr.py does it, and its ports
    published when they were all built; then the materializations, with their checks."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import handwritten_hr as hand

    reported = []
    with duckdb.get_connection() as con:
        con.execute("SET TimeZone = 'UTC'")
        hand.prepare(con, Path(work["sources"]))
        for key in keys:
            table = key.path[-1]
            if table == "employees":
                employees_in_pandas(con, hand)
            else:
                hand.build_table(con, table)
            found = {r["check"]: r for r in hand.check(con, table)}
            results = [
                dg.AssetCheckResult(
                    asset_key=key,
                    check_name=c.name,
                    passed=bool(found[c.name]["passed"]) if c.name in found else True,
                    severity=dg.AssetCheckSeverity.WARN
                    if found.get(c.name, {}).get("severity") == "warn"
                    else dg.AssetCheckSeverity.ERROR,
                )
                for c in checks
                if c.asset_key == key
            ]
            blocking = [r.check_name for r in results if not r.passed and r.severity == dg.AssetCheckSeverity.ERROR]
            if blocking:
                raise dg.Failure(f"{table}: blocking checks failed ({', '.join(blocking)}); nothing published")
            reported.append(dg.MaterializeResult(asset_key=key, check_results=results))
        if set(hand.PORTS) <= {key.path[-1] for key in keys}:
            hand.publish(con, Path(work["lake"]), work["key"])
    yield from reported


def employees_in_pandas(con, hand) -> None:
    """The employee master by the product's own pandas function, in the run's process (as plain
    Dagster runs Python), cast to its columns."""
    path = Path(__file__).resolve().parent.parent / "domains" / "hr" / "products" / "overtime" / "transforms.py"
    spec = importlib.util.spec_from_file_location("hr_transforms", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    frame = module.clean_employees({"raw_employees": con.sql("SELECT * FROM raw_employees").df()})
    columns = [column.split(" ", 1) for column in hand.SCHEMAS["employees"].split(", ")]
    con.register("employees_frame", frame)
    cast = ", ".join(f"CAST({name} AS {kind}) AS {name}" for name, kind in columns)
    con.execute(f"CREATE OR REPLACE TABLE employees AS SELECT {cast} FROM employees_frame")
    con.unregister("employees_frame")


if DESCRIBED_VARIABLE in os.environ:  # loaded by Dagster as a module of one location
    described_work = json.loads(os.environ[WORK_VARIABLE]) if os.environ.get(WORK_VARIABLE) else None
    defs = dg.Definitions.merge(
        *locations(json.loads(Path(os.environ[DESCRIBED_VARIABLE]).read_text()), described_work).values()
    )
