"""The mesh as a deployment runs it, on one machine: every code location served by its own
`dagster api grpc` process, a workspace file of `grpc_server` entries pointing at them, and the
webserver and daemon on top, all sharing one instance (DAGSTER_HOME and its database).

A location served apart can be stopped and started again, a new version of one domain's
code, while the webserver and the daemon keep serving the others: that is what the tests
check, so each server here can be restarted alone on the port the workspace names.

Every process starts in a session of its own, so that stopping it also stops what it
started: a code server launches each run's worker as a child process, which would outlive
it otherwise.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TypeVar

from dagster._grpc.client import DagsterGrpcClient

from tests.webserver import LOCATIONS, Webserver

BIN = Path(sys.executable).parent
T = TypeVar("T")

LAUNCH = """mutation Launch($params: ExecutionParams!) { launchPipelineExecution(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on Error { message }
  ... on RunConfigValidationInvalid { errors { message } } } }"""
RELOAD = """mutation Reload($name: String!) { reloadRepositoryLocation(repositoryLocationName: $name) {
  __typename ... on Error { message } ... on WorkspaceLocationEntry { loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } }"""
MATERIALIZABLE = """query Assets($location: String!) { repositoryOrError(repositorySelector:
  {repositoryLocationName: $location, repositoryName: "__repository__"}) {
  __typename ... on Repository { assetNodes { assetKey { path } isMaterializable } } ... on Error { message } } }"""
RUNS = """query Runs($filter: RunsFilter) { runsOrError(filter: $filter) { __typename ... on Error { message }
  ... on Runs { results { runId status tags { key value } assetSelection { path } } } } }"""
RUN = """query Run($id: ID!) { runOrError(runId: $id) {
  __typename ... on Run { runId status } ... on Error { message } } }"""
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


def free_port() -> int:
    """A port of 127.0.0.1 nothing listens on now (the OS's choice, so parallel tests differ)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Deadline:
    """One time budget for a whole scenario: each wait takes what is left of it, so a test that
    goes wrong fails within the budget instead of adding up every wait's own timeout."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()

    def wait_for(
        self,
        probe: Callable[[], T | None],
        what: str,
        timeout: float,
        interval: float = 1.0,
        diagnose: Callable[[], str] = lambda: "",
    ) -> T:
        """probe()'s first truthy answer, asked every `interval` seconds until `timeout` (or the
        budget) runs out; probe may raise AssertionError to fail at once."""
        limit = time.monotonic() + min(timeout, max(self.left(), 0))
        while True:
            answer = probe()
            if answer:
                return answer
            if time.monotonic() >= limit:
                raise AssertionError(f"{what}: not within {timeout:.0f} s (budget {self.seconds:.0f} s)\n{diagnose()}")
            time.sleep(interval)


@dataclass
class Service:
    """A long-running process of the topology with its log file, started in a session of its own."""

    name: str
    args: list[str]
    cwd: Path
    env: Mapping[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _log: IO[str] | None = field(default=None, repr=False)

    def start(self) -> None:
        assert self.process is None, f"{self.name} is already running"
        self._log = self.log_path.open("a")
        self.process = subprocess.Popen(
            self.args,
            cwd=self.cwd,
            env=dict(self.env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, chars: int = 4000) -> str:
        return f"--- {self.name} ({self.log_path}) ---\n" + (
            self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else "(no log)"
        )

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM to the process, SIGKILL if it does not exit in time; then SIGKILL to whatever
        it started and left behind (run workers), found by its session's process group."""
        process, self.process = self.process, None
        if process is not None:
            try:
                if process.poll() is None:
                    process.terminate()
                    try:
                        process.wait(timeout=timeout)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait(timeout=timeout)
            finally:
                with suppress(ProcessLookupError, PermissionError):  # nothing of the group is left
                    os.killpg(process.pid, signal.SIGKILL)  # the group keeps the leader's pid as its id
        if self._log is not None:
            self._log.close()
            self._log = None


@dataclass
class CodeServer(Service):
    """`dagster api grpc` serving one location on a fixed port of 127.0.0.1."""

    location: str = ""
    port: int = 0

    def serving(self) -> bool:
        assert self.running(), f"the code server of {self.location} exited\n{self.log_tail()}"
        try:
            DagsterGrpcClient(port=self.port, host="127.0.0.1").ping("topology")
        except Exception:  # noqa: BLE001 - any failure to answer means not serving yet
            return False
        return True


class GraphQL(Webserver):
    """The webserver's GraphQL API, with variables: the UI's own calls for launching runs,
    reloading a location and listing runs."""

    def ask(self, text: str, **variables: object) -> dict:
        payload = json.dumps({"query": text, "variables": variables}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", data=payload, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.load(response)
        assert "errors" not in answer, answer
        return answer["data"]

    def locations(self) -> dict[str, dict]:
        """Each location's entry as the UI shows it now: loadStatus and locationOrLoadError."""
        return {e["name"]: e for e in self.query(LOCATIONS)["workspaceOrError"]["locationEntries"]}

    def materializable(self, location: str) -> list[list[str]]:
        """The asset keys a location can materialize (not the other domains' ports it reads)."""
        repository = self.ask(MATERIALIZABLE, location=location)["repositoryOrError"]
        assert repository["__typename"] == "Repository", repository
        return sorted(n["assetKey"]["path"] for n in repository["assetNodes"] if n["isMaterializable"])

    def launch_assets(self, location: str, keys: Sequence[Sequence[str]]) -> str:
        """Launch a run of the given assets of a location, as the UI's Materialize button does."""
        params = {
            "selector": {
                "repositoryLocationName": location,
                "repositoryName": "__repository__",
                "pipelineName": "__ASSET_JOB",
                "assetSelection": [{"path": list(k)} for k in keys],
            },
            "mode": "default",
            "executionMetadata": {"tags": []},
        }
        launched = self.ask(LAUNCH, params=params)["launchPipelineExecution"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        return launched["run"]["runId"]

    def run_status(self, run_id: str) -> str:
        run = self.ask(RUN, id=run_id)["runOrError"]
        assert run["__typename"] == "Run", run
        return run["status"]

    def runs(self, tags: Mapping[str, str] | None = None) -> list[dict]:
        filter_ = {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]}
        runs = self.ask(RUNS, filter=filter_)["runsOrError"]
        assert runs["__typename"] == "Runs", runs
        return runs["results"]

    def reload(self, location: str) -> dict:
        return self.ask(RELOAD, name=location)["reloadRepositoryLocation"]


@dataclass(frozen=True)
class Location:
    """A code location to serve: its name and the module that defines it."""

    name: str
    module: str


def workspace_yaml(servers: Sequence[CodeServer]) -> str:
    """The workspace file of a deployment: where each location's server listens, no code."""
    lines = ["load_from:"] + [
        f"  - grpc_server: {{host: 127.0.0.1, port: {s.port}, location_name: {s.location}}}" for s in servers
    ]
    return "\n".join(lines) + "\n"


@dataclass
class Topology:
    """The started processes, by role, and the webserver's API to watch and drive them."""

    servers: dict[str, CodeServer]
    webserver: Service
    daemon: Service
    ui: GraphQL
    workspace: Path

    def logs(self) -> str:
        """The end of every process's log, for a failure's message."""
        return "\n".join(s.log_tail() for s in [*self.servers.values(), self.webserver, self.daemon])


@contextmanager
def running_topology(
    project: Path, locations: Sequence[Location], env: Mapping[str, str], run_dir: Path, deadline: Deadline
) -> Iterator[Topology]:
    """Code servers for the locations, then the webserver and the daemon on their workspace
    file, every process on 127.0.0.1 with `env` (its DAGSTER_HOME names the instance, whose
    tables must exist); all stopped on leaving, the daemon first so that it launches nothing more."""
    servers = {
        location.name: CodeServer(
            name=f"code server {location.name}",
            cwd=project,
            env=env,
            log_path=run_dir / f"grpc-{location.name}.log",
            args=[
                str(BIN / "dagster"),
                "api",
                "grpc",
                "-m",
                location.module,
                "-d",
                str(project),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "--location-name",
                location.name,
            ],
            location=location.name,
            port=port,
        )
        for location, port in zip(locations, (free_port() for _ in locations), strict=True)
    }
    workspace = run_dir / "workspace.yaml"
    workspace.write_text(workspace_yaml(list(servers.values())))
    port = free_port()
    webserver = Service(
        "webserver",
        [str(BIN / "dagster-webserver"), "-w", str(workspace), "-h", "127.0.0.1", "-p", str(port)],
        project,
        env,
        run_dir / "webserver.log",
    )
    daemon = Service(
        "daemon", [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)], project, env, run_dir / "daemon.log"
    )
    topology = Topology(servers, webserver, daemon, GraphQL(f"http://127.0.0.1:{port}"), workspace)
    with ExitStack() as stack:
        for service in [*servers.values(), webserver, daemon]:  # stopped in the reverse order
            stack.callback(service.stop)
        for server in servers.values():  # they load their code in parallel
            server.start()
        for server in servers.values():
            deadline.wait_for(server.serving, f"{server.location}'s server serving", 120, diagnose=server.log_tail)
        webserver.start()
        daemon.start()

        def answering() -> bool:
            assert webserver.running(), webserver.log_tail()
            try:
                urllib.request.urlopen(f"{topology.ui.url}/server_info", timeout=5).close()
            except OSError:
                return False
            return True

        deadline.wait_for(answering, "the webserver answering", 120, diagnose=webserver.log_tail)
        yield topology


def migrate_instance(project: Path, env: Mapping[str, str], timeout: float = 120) -> None:
    """Create the instance's tables once, before any process of the topology uses them, as a
    deployment does (`dagster instance migrate`): processes starting together would race to."""
    done = subprocess.run(
        [str(BIN / "dagster"), "instance", "migrate"],
        cwd=project,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout + done.stderr
