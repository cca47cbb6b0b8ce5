"""The Dagster webserver as tests start and ask it: `dagster-webserver` on a workspace, as
scripts/platform.sh starts it (platform_core.dagster.webserver), and its GraphQL API (the UI's
own source)."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import PROJECT, subprocess_env

WEBSERVER = [sys.executable, "-m", "platform_core.dagster.webserver"]  # as scripts/platform.sh runs it

LOCATIONS = """{ workspaceOrError { ... on Workspace { locationEntries {
  name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
LAUNCH = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) { __typename
  ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } ... on InvalidSubsetError { message } } }"""
RUN_STATUS = """query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Webserver:
    def __init__(self, url: str) -> None:
        self.url = url

    def launch(self, location: str, keys: list[list[str]]) -> str:
        """Launch a run of assets of a location, as "Materialize" in the UI does; its id."""
        params = {
            "selector": {
                "repositoryLocationName": location,
                "repositoryName": "__repository__",
                "jobName": "__ASSET_JOB",
                "assetSelection": [{"path": key} for key in keys],
            },
            "mode": "default",
            "executionMetadata": {"tags": []},
        }
        data = self.query_with(LAUNCH, {"params": params})["launchRun"]
        assert data["__typename"] == "LaunchRunSuccess", data
        return str(data["run"]["runId"])

    def run_status(self, run_id: str, timeout: float) -> str:
        """The run's status once it ends (or when `timeout` passes)."""
        deadline, status = time.time() + timeout, ""
        while time.time() < deadline:
            status = self.query_with(RUN_STATUS, {"id": run_id})["runOrError"]["status"]
            if status in ("SUCCESS", "FAILURE", "CANCELED"):
                break
            time.sleep(1)
        return status

    def query_with(self, text: str, variables: dict) -> dict:
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=json.dumps({"query": text, "variables": variables}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            body = json.load(response)
        assert "errors" not in body, body
        return body["data"]

    def query(self, text: str) -> dict:
        return self.query_with(text, {})

    def loaded_locations(self, timeout: float = 240) -> list[dict]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            entries = self.query(LOCATIONS)["workspaceOrError"]["locationEntries"]
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                return entries
            time.sleep(1)
        raise AssertionError(f"locations still loading after {timeout} s: {entries}")


@contextlib.contextmanager
def running_webserver(project: Path, tmp_path: Path) -> Iterator[Webserver]:
    """The platform's `dagster-webserver` on the project's workspace.yaml, on a free port of 127.0.0.1, as
    scripts/platform.sh starts it; stopped on leaving."""
    (tmp_path / "dagster_home").mkdir(exist_ok=True)
    shutil.copy(PROJECT / "dagster_home" / "dagster.yaml", tmp_path / "dagster_home" / "dagster.yaml")
    port = free_port()
    log = (tmp_path / "webserver.log").open("w")
    process = subprocess.Popen(
        [*WEBSERVER, "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=project,
        env=subprocess_env(tmp_path),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/server_info", timeout=5).close()
                break
            except OSError:
                assert process.poll() is None, (tmp_path / "webserver.log").read_text()[-3000:]
                assert time.time() < deadline, "the webserver did not answer within 120 s"
                time.sleep(1)
        yield Webserver(url)
    finally:
        process.terminate()
        process.wait(timeout=60)
        log.close()
