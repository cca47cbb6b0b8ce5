"""Processes of the lake tests in test_lake: readers, writers and a publication to be killed.

    python -m tests.lake_worker read ROOT STOP_FILE            reads shop.sales until STOP_FILE exists
    python -m tests.lake_worker commit ROOT DOMAIN N START      N publications of DOMAIN.load, from START (epoch s)
    python -m tests.lake_worker materialize DOMAIN_DIR ROOT N START   N Dagster runs of a domain, from START
    python -m tests.lake_worker publish-big ROOT               a publication of shop.sales too big to finish soon

Each prints one JSON line of what it saw or did.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from platform_core.storage.lake import Lake, LakeConfig
from platform_core.storage.warehouse import Warehouse

# Both ports of shop.sales count the same orders, so one whole version always agrees with itself.
BOTH_PORTS = (
    "SELECT (SELECT sum(order_count) FROM lake.shop.sales__customers), "
    "(SELECT sum(orders) FROM lake.shop.sales__daily_sales)"
)


def read(root: Path, stop: Path) -> dict:
    warehouse, seen, errors, reads = Warehouse(root), set(), [], 0
    con = warehouse.reader()
    ready = stop.with_name(f"{stop.name}.ready.{os.getpid()}")
    while not stop.exists():
        try:
            # one statement reads one snapshot of the lake, as any DuckDB client would
            customers, daily = con.execute(BOTH_PORTS).fetchone()
            # and through the platform's reader, both ports pinned at one snapshot
            at = warehouse.snapshot()
            pinned = [
                int(warehouse.read(f"shop.sales.{port}", at=at).aggregate(f"sum({column})").fetchone()[0])
                for port, column in (("customers", "order_count"), ("daily_sales", "orders"))
            ]
            if customers != daily or pinned[0] != pinned[1]:
                errors.append(f"mixed versions: {customers} != {daily} or {pinned}")
            seen.add(int(customers))
            reads += 1
            ready.touch()  # the test starts publishing once every reader has read
        except Exception as error:  # noqa: BLE001 - every failure to read is what the test looks for
            errors.append(f"{type(error).__name__}: {error}")
        time.sleep(0.02)
    return {"reads": reads, "versions": sorted(seen), "errors": errors[:20]}


def commit(root: Path, domain: str, count: int, start: float) -> dict:
    return publish_rounds(Lake(LakeConfig.local(root)), domain, count, start)


def publish_rounds(lake: Lake, domain: str, count: int, start: float) -> dict:
    """From `start` (epoch s), N publications of `<domain>.load`, one port of 1000 rows each."""
    time.sleep(max(0.0, start - time.time()))
    snapshots = []
    with lake.connect(read_only=False) as con:
        for i in range(count):
            con.execute(f"CREATE OR REPLACE TEMP TABLE batch AS SELECT range AS n, {i} AS round FROM range(1000)")
            publication = lake.publish(
                con,
                f"{domain}.load",
                {"numbers": "SELECT * FROM batch"},
                version="1.0.0",
                contract="sha256:test",
                contract_document="{}",
                run_id=f"{domain}-{i}",
            )
            snapshots.append(publication.snapshot_id)
    return {"snapshots": snapshots}


def materialize(domain_dir: Path, root: Path, count: int, start: float) -> dict:
    import dagster as dg

    from platform_core.dagster.factory import build_domain
    from platform_core.settings import Settings
    from tests.conftest import platform_instance

    defs = build_domain(domain_dir, Settings(warehouse_root=root))
    time.sleep(max(0.0, start - time.time()))
    successes = 0
    with tempfile.TemporaryDirectory() as home, platform_instance(Path(home)) as instance:
        for _ in range(count):
            result = dg.materialize(
                list(defs.assets or []), instance=instance, resources=defs.resources, raise_on_error=False
            )
            successes += result.success
    return {"successes": successes}


def publish_big(root: Path) -> dict:
    """Replace shop.sales with versions far too big to write quickly: the test kills this mid-way."""
    lake = Lake(LakeConfig.local(root))
    with lake.connect(read_only=False) as con:
        big = "SELECT 'c' || range AS customer, 1::BIGINT AS order_count FROM range(300000000)"
        lake.publish(
            con,
            "shop.sales",
            {"customers": big, "daily_sales": big},
            version="9.9.9",
            contract="sha256:test",
            contract_document="{}",
            run_id="killed",
        )
    return {"finished": True}


def main(argv: list[str]) -> None:
    mode, *args = argv
    if mode == "read":
        out = read(Path(args[0]), Path(args[1]))
    elif mode == "commit":
        out = commit(Path(args[0]), args[1], int(args[2]), float(args[3]))
    elif mode == "materialize":
        out = materialize(Path(args[0]), Path(args[1]), int(args[2]), float(args[3]))
    else:
        out = publish_big(Path(args[0]))
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
