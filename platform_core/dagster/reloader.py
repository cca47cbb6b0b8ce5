"""Keeps a running webserver in step with the project's files, so nobody has to press "Reload".

`scripts/platform.sh` runs it next to the webserver and the daemon. It polls workspace.yaml
and every listed domain's folder: when the workspace changes (`mesh new domain`, `mesh remove
domain`, a hand edit) it asks the webserver to reload the whole workspace, which reads the
file again and starts a code server for a new location; when a domain's SQL or code change, it
reloads that one location, and when a descriptor changes, every location whose governance reads
it. The daemon reads workspace.yaml again by itself every 60 seconds, so schedules and automation
of a new domain follow within a minute.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from platform_core.descriptors.mesh_index import MeshIndex

RELOAD_WORKSPACE = "mutation { reloadWorkspace { __typename ... on PythonError { message } } }"
RELOAD_LOCATION = (
    "mutation($name: String!) { reloadRepositoryLocation(repositoryLocationName: $name) "
    "{ __typename ... on PythonError { message } } }"
)


def snapshot(workspace: Path) -> tuple[str, dict[str, str]]:
    """The workspace file's content, and per listed domain the mesh index's fingerprint of what its
    location is built from (its own sources, and every descriptor of the mesh that governance reads)."""
    try:
        text = workspace.read_bytes()
        index = MeshIndex.of_workspace(workspace)
        domains = {d.name: index.fingerprint(own=d) for d in index.domain_dirs()}
    except Exception:  # noqa: BLE001 - a file half-written or broken now: the next poll sees it whole
        return "", {}
    return hashlib.sha256(text).hexdigest(), domains


def changes(before: tuple[str, dict[str, str]], after: tuple[str, dict[str, str]]) -> tuple[bool, list[str]]:
    """Whether the workspace must be reloaded whole, else which locations changed."""
    if not after[0]:
        return False, []
    if before[0] != after[0]:
        return True, []
    return False, sorted(name for name, value in after[1].items() if before[1].get(name) != value)


def post(url: str, query: str, variables: dict[str, str] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=300) as response:  # a reload loads the location's code
        return json.load(response)["data"]


def watch(url: str, workspace: Path, interval: float = 2.0) -> None:
    last = snapshot(workspace)
    while True:
        time.sleep(interval)
        current = snapshot(workspace)
        whole, locations = changes(last, current)
        try:
            if whole:
                print(f"{workspace.name} changed: reloading every code location", flush=True)
                post(url, RELOAD_WORKSPACE)
            for name in locations:
                print(f"domain {name} changed: reloading its code location", flush=True)
                post(url, RELOAD_LOCATION, {"name": name})
        except (urllib.error.URLError, OSError, KeyError, ValueError) as error:
            print(f"could not ask the webserver at {url} to reload ({error}); retrying", flush=True)
            continue  # keep `last`: the change is retried on the next poll
        if current[0]:
            last = current


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="The webserver, e.g. http://127.0.0.1:3000")
    parser.add_argument("-w", "--workspace", type=Path, default=Path("workspace.yaml"))
    parser.add_argument("--interval", type=float, default=2.0, help="Seconds between polls.")
    arguments = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        watch(arguments.url.rstrip("/"), arguments.workspace.resolve(), arguments.interval)


if __name__ == "__main__":
    main()
