"""Processes of test_lake_remote, each configured from the environment as a deployment is
(MESH_LAKE_CATALOG, MESH_LAKE_DATA, the AWS variables, MESH_S3_ENDPOINT), as on other machines.

    python -m tests.remote_lake_worker publish DOMAIN N START    N publications of DOMAIN.load, from START (epoch s)
    python -m tests.remote_lake_worker read DOMAIN,... STOP_FILE   reads each DOMAIN.load until STOP_FILE exists

Each prints one JSON line of what it did or saw.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from platform_core.settings import Settings
from platform_core.storage.lake import Lake, NotPublished
from platform_core.storage.warehouse import Warehouse
from tests.lake_worker import publish_rounds


def publish(domain: str, count: int, start: float) -> dict:
    return publish_rounds(Lake(Settings.from_env().lake_config), domain, count, start)


def read(domains: list[str], stop: Path) -> dict:
    warehouse = Warehouse.from_settings(Settings.from_env())
    seen: dict[str, set[int]] = {d: set() for d in domains}
    errors, reads = [], 0
    while not stop.exists():
        for domain in domains:
            try:
                rows, rounds = (
                    warehouse.read(f"{domain}.load.numbers").aggregate("count(*), count(DISTINCT round)").fetchone()
                )
                if (rows, rounds) != (1000, 1):
                    errors.append(f"{domain}: a mixed or partial version: {rows} rows of {rounds} rounds")
                seen[domain].add(warehouse.current(f"{domain}.load.numbers").snapshot_id)
                reads += 1
            except NotPublished:
                pass  # not yet: the writers start at the same moment as the reader
            except Exception as error:  # noqa: BLE001 - every other failure to read is what the test looks for
                errors.append(f"{type(error).__name__}: {error}")
        time.sleep(0.05)
    return {"reads": reads, "seen": {d: sorted(s) for d, s in seen.items()}, "errors": errors[:20]}


def main(argv: list[str]) -> None:
    mode, *args = argv
    out = (
        publish(args[0], int(args[1]), float(args[2])) if mode == "publish" else read(args[0].split(","), Path(args[1]))
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
