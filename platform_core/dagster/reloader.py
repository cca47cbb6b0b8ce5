"""Keeps the UI and the daemon in step with the project's files, and tells the operator what happens.

`scripts/platform.sh` runs it beside the webserver. It runs the daemon itself (`--daemon`) and
polls workspace.yaml and every listed domain's folder:

- When the workspace changes (`mesh new domain`, `mesh remove domain`, a hand edit), it restarts
  the daemon, waits until the new daemon has loaded every code location (its heartbeats come
  after the load), and only then asks the webserver to reload the workspace. So the UI never
  shows a location the daemon does not have: a run launched from the UI the moment a new domain
  appears is queued and launched, never failed with "Location ... does not exist". Dagster's own
  daemon reads the workspace again only every 60 seconds, and the UI on request.
- When a domain's SQL, code or descriptors change, it reloads that location in the UI (and every
  location whose governance reads the changed descriptor); the daemon refreshes every location
  within a minute by itself, and runs load their code afresh anyway.

Restarting the daemon stops no run: a run's process outlives the code server that launched it.

The terminal shows what an operator needs, each line with its time: these reloads, each run
that starts and ends (with its location, and a link for a failed one), and errors the daemon or
the webserver log. Everything else (run events, code servers' chatter) goes to the log files
under `--logs`, and run events are in the UI.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from platform_core.descriptors.mesh_index import MeshIndex

RELOAD_WORKSPACE = "mutation { reloadWorkspace { __typename ... on PythonError { message } } }"
RELOAD_LOCATION = (
    "mutation($name: String!) { reloadRepositoryLocation(repositoryLocationName: $name) "
    "{ __typename ... on PythonError { message } } }"
)
DAEMON_READY_SECONDS = 600  # how long a restarted daemon may take to load every location
# Lines of the daemon's and the webserver's logs worth an operator's eye: errors, not chatter.
WORTH_SHOWING = re.compile(r" - (ERROR|CRITICAL) - |^Traceback|Error: ")


def say(text: str) -> None:
    """One line on the terminal, with its time."""
    print(f"{datetime.now().strftime('%H:%M:%S')} {text}", flush=True)


def snapshot(workspace: Path) -> tuple[str, dict[str, str]]:
    """The workspace file's content, and per listed domain the mesh index's fingerprint of what its
    location is built from (its own sources, and every descriptor of the mesh that governance reads)."""
    try:
        text = workspace.read_bytes()
        index = MeshIndex.of_workspace(workspace)
        mesh = index.mesh_digest()
        domains = {d.name: index.fingerprint(d, mesh) for d in index.domain_dirs()}
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


class Daemon:
    """`dagster-daemon run` on the workspace, its output in a log file, restarted on request."""

    def __init__(self, workspace: Path, log: Path) -> None:
        self.workspace, self.log = workspace, log
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0.0

    def start(self) -> None:
        self.started = time.time()
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-w", str(self.workspace)],
                cwd=self.workspace.parent,
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> None:
        """As Ctrl-C stops it: its code servers are told to end once their runs have."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)

    def ended(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def ready(self, instance: Any) -> bool:
        """Every daemon of the instance has sent a heartbeat since this start: the daemon loaded the
        workspace before starting them."""
        beats = instance.get_daemon_heartbeats()
        return all(
            kind in beats and beats[kind].timestamp > self.started for kind in instance.get_required_daemon_types()
        )

    def restart(self, instance: Any, timeout: float = DAEMON_READY_SECONDS) -> bool:
        """Stop, start, and wait until it has loaded the workspace; whether it did in time."""
        self.stop()
        self.start()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.ended() is not None:
                return False
            if self.ready(instance):
                return True
            time.sleep(1)
        return False


class Runs:
    """Each run that starts or ends, said once."""

    def __init__(self, instance: Any, url: str) -> None:
        self.instance, self.url = instance, url
        self.seen: dict[str, str] = {}
        self.since = time.time()

    def news(self) -> Iterator[str]:
        import dagster as dg

        records = self.instance.get_run_records(dg.RunsFilter(updated_after=datetime.fromtimestamp(self.since - 5)))
        self.since = time.time()
        for record in sorted(records, key=lambda r: r.update_timestamp):
            run, status = record.dagster_run, record.dagster_run.status.value
            if self.seen.get(run.run_id) == status or status in ("NOT_STARTED", "MANAGED", "STARTING", "CANCELING"):
                continue
            self.seen[run.run_id] = status
            where = run.remote_job_origin.location_name if run.remote_job_origin else _domain_of(run)
            took = ""
            if record.end_time and record.start_time:
                took = f" in {record.end_time - record.start_time:.0f} s"
            line = f"run {run.run_id[:8]} ({where}, {run.job_name}) {status.lower()}{took}"
            if status == "FAILURE":
                line += f": {self.url}/runs/{run.run_id}"
            yield line


def _domain_of(run: Any) -> str:
    """Where a run launched outside the UI (`dagster asset materialize`, `mesh materialize`) belongs:
    the domain of the assets it selected."""
    keys = sorted(run.asset_selection or (), key=lambda key: key.path)
    return keys[0].path[0] if keys else "?"


class LogTail:
    """The lines added to a log file since the last look."""

    def __init__(self, path: Path) -> None:
        self.path, self.position = path, path.stat().st_size if path.exists() else 0

    def new_lines(self) -> list[str]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as stream:
            stream.seek(self.position)
            data = stream.read()
        complete = data.rsplit(b"\n", 1)[0] if b"\n" in data else b""
        self.position += len(complete) + (1 if b"\n" in data else 0)
        return complete.decode("utf-8", "replace").splitlines()


def watch(
    url: str, workspace: Path, interval: float = 2.0, daemon: Daemon | None = None, logs: Path | None = None
) -> None:
    instance = _instance() if daemon is not None else None
    runs = Runs(instance, url) if instance is not None else None
    tails = [LogTail(logs / name) for name in ("daemon.log", "webserver.log")] if logs else []
    if daemon is not None:
        daemon.start()
        say(f"daemon started (schedules, sensors, automation, run queue); its log: {daemon.log}")
    last = snapshot(workspace)
    pause = 0.0  # before starting again a daemon that stopped: longer each time it stops soon after a start
    while True:
        time.sleep(interval)
        if daemon is not None and (code := daemon.ended()) is not None:
            pause = min(60.0, pause * 2 or interval) if time.time() - daemon.started < 60 else 0.0
            say(f"the daemon stopped (exit {code}); starting it again in {pause:.0f} s (see {daemon.log})")
            time.sleep(pause)
            daemon.start()
        current = snapshot(workspace)
        whole, locations = changes(last, current)
        try:
            if whole:
                if daemon is not None:
                    say(f"{workspace.name} changed: restarting the daemon, then the UI, so that both run the same")
                    if not daemon.restart(instance):
                        say(f"the daemon did not load the workspace (see {daemon.log}); reloading the UI anyway")
                say(f"{workspace.name} changed: reloading every code location of the UI")
                post(url, RELOAD_WORKSPACE)
                say("the UI " + ("and the daemon have" if daemon is not None else "has") + " the new workspace")
            for name in locations:
                say(f"domain {name} changed: reloading its code location")
                post(url, RELOAD_LOCATION, {"name": name})
        except (urllib.error.URLError, OSError, KeyError, ValueError) as error:
            say(f"could not ask the webserver at {url} to reload ({error}); retrying")
            continue  # keep `last`: the change is retried on the next poll
        if current[0]:
            last = current
        for line in runs.news() if runs is not None else ():
            say(line)
        for tail in tails:
            for line in tail.new_lines():
                if WORTH_SHOWING.search(line) and "No heartbeat received" not in line:
                    say(f"{tail.path.stem}: {line.strip()[:300]}")


def _instance() -> Any:
    import dagster as dg

    return dg.DagsterInstance.get()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="The webserver, e.g. http://127.0.0.1:3000")
    parser.add_argument("-w", "--workspace", type=Path, default=Path("workspace.yaml"))
    parser.add_argument("--interval", type=float, default=2.0, help="Seconds between polls.")
    parser.add_argument("--daemon", action="store_true", help="Run the daemon too, in step with the UI.")
    parser.add_argument("--logs", type=Path, help="Where the daemon's log goes, and the webserver's is read.")
    arguments = parser.parse_args()
    workspace = arguments.workspace.resolve()
    logs = arguments.logs.resolve() if arguments.logs else None
    if logs is not None:
        logs.mkdir(parents=True, exist_ok=True)
    daemon = Daemon(workspace, (logs or workspace.parent) / "daemon.log") if arguments.daemon else None
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stopped as Ctrl-C stops it: the daemon too
    try:
        with contextlib.suppress(KeyboardInterrupt):
            watch(arguments.url.rstrip("/"), workspace, arguments.interval, daemon, logs)
    finally:
        if daemon is not None:
            daemon.stop()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
