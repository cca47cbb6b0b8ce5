"""Time "Materialize all" of the HR group in the Dagster UI, from the click to the run queued.

    .venv/bin/python bench/ui_launch.py --rounds 5 --json

`dagster-webserver` serves the project's workspace.yaml on 127.0.0.1 with a fresh instance
(the project's dagster.yaml: runs are queued) and a fresh warehouse whose descriptor cache a
first load filled. Headless Chromium opens the HR asset group and clicks "Materialize all";
the time runs until the webserver's GraphQL API lists the new run as queued. No daemon runs,
so each run stays queued and the next click measures the same thing. Prints the median, every
sample and the machine's load. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

PROJECT = Path(__file__).resolve().parent.parent
WEBSERVER = [sys.executable, "-m", "platform_core.dagster.webserver"]  # as scripts/platform.sh runs it
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RUNS = (
    "{ runsOrError { ... on Runs { results { runId status assetSelection { path } assetCheckSelection { name } } } } }"
)
LOCATIONS = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"


def query(url: str, text: str) -> dict:
    request = urllib.request.Request(
        f"{url}/graphql", data=json.dumps({"query": text}).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)["data"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            raise SystemExit(f"{what} within {timeout} s")
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="One JSON line instead of a sentence.")
    arguments = parser.parse_args()
    chromium = os.environ.get("MESH_CHROMIUM") or shutil.which("chromium")
    if chromium is None:
        raise SystemExit("no Chromium: bash scripts/browser.sh installs Debian's")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "dagster_home"
        home.mkdir()
        shutil.copy(PROJECT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
        env = {**os.environ, "DAGSTER_HOME": str(home), "MESH_WAREHOUSE": str(Path(scratch) / "warehouse")}
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [*WEBSERVER, "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=PROJECT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:

            def loaded() -> bool:
                try:
                    entries = query(url, LOCATIONS)["workspaceOrError"]["locationEntries"]
                except OSError:
                    return False
                return bool(entries) and all(e["loadStatus"] == "LOADED" for e in entries)

            wait_for(loaded, 240, "the locations did not load")
            selected: list[tuple[int, int]] = []  # (assets, checks) of each run
            walls = measure(url, chromium, arguments.rounds, selected)
        finally:
            server.terminate()
            server.wait(timeout=60)
    result = {
        "benchmark": "ui_launch",
        "rounds": arguments.rounds,
        "median_s": round(statistics.median(walls), 2),
        "walls": [round(w, 2) for w in walls],
        "assets_and_checks_per_run": sorted(set(selected)),
        "load": {"before": load_before, "after": os.getloadavg()},
    }
    print(
        json.dumps(result)
        if arguments.json
        else f"'Materialize all' of HR queued its run in {result['median_s']} s (median of {arguments.rounds}: "
        f"{result['walls']}; assets and checks per run: {result['assets_and_checks_per_run']})"
    )


def measure(url: str, chromium: str, rounds: int, selected: list[tuple[int, int]]) -> list[float]:
    walls = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=FLAGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1200})
        page.set_default_timeout(120_000)
        for _ in range(rounds):
            page.goto(f"{url}/locations/hr/asset-groups/hr")
            button = page.get_by_role("button", name="Materialize all")
            button.wait_for()
            page.wait_for_load_state("networkidle")
            skip = page.get_by_role("button", name="Skip")  # the first visit's community dialog
            if skip.count():
                skip.click()
                page.wait_for_load_state("networkidle")
            before = len(query(url, RUNS)["runsOrError"]["results"])
            started = time.perf_counter()
            button.click()
            wait_for(
                lambda before=before: len(query(url, RUNS)["runsOrError"]["results"]) > before, 120, "no run was queued"
            )
            walls.append(time.perf_counter() - started)
            (run,) = query(url, RUNS)["runsOrError"]["results"][:1]
            if run["status"] not in ("QUEUED", "NOT_STARTED", "STARTING", "STARTED"):
                raise SystemExit(f"the run is {run['status']}")
            selected.append((len(run["assetSelection"] or []), len(run["assetCheckSelection"] or [])))
        browser.close()
    return walls


if __name__ == "__main__":
    main()
