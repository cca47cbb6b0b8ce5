"""Time the discovery commands as a person types them: each in a fresh process, on the demo mesh.

    .venv/bin/python bench/cli.py --repeat 5

`mesh catalog`, `show`, `lineage` read the descriptors only (Dagster is not imported without an
instance); `status` and `check` ask the Dagster instance in DAGSTER_HOME and build every domain's
definitions to tell whether Dagster loads them; HR is materialized first (`--no-materialize`: an
empty instance, as before). `status` and `show` with health are timed twice: reading the
instance, and asking the Dagster UI serving it (a webserver this script starts on the demo
workspace, as scripts/platform.sh does), where Dagster is not imported. One warm-up run of each
first, so that the descriptor cache holds the mesh as it is. Not part of the test suite: timings
depend on the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from platform_core.catalog.ui import DagsterUI, UnreachableUI

PROJECT = Path(__file__).resolve().parent.parent
MESH = str(PROJECT / ".venv" / "bin" / "mesh")
# the webserver as scripts/platform.sh runs it, and Dagster's own command (--plain-webserver)
WEBSERVER = [str(PROJECT / ".venv" / "bin" / "python"), "-m", "platform_core.dagster.webserver"]
PLAIN_WEBSERVER = [str(PROJECT / ".venv" / "bin" / "dagster-webserver")]
LOCATIONS = "{ workspaceOrError { ... on Workspace { locationEntries { loadStatus } } } }"
COMMANDS = (
    ["catalog"],
    ["show", "hr.overtime"],
    ["lineage", "hr.overtime"],
    ["status"],
    ["check"],
)


def wall(command: list[str], environ: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([MESH, *command], cwd=PROJECT, env=environ, capture_output=True, timeout=300, check=False)
    return time.perf_counter() - start


@contextlib.contextmanager
def webserver(environ: dict[str, str], log: Path, command: list[str]) -> Iterator[str]:
    """The Dagster UI on the demo workspace and the instance of `environ`, started by `command`; its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with log.open("w") as output:
        process = subprocess.Popen(
            [*command, "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=PROJECT,
            env=environ,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.time() + 180
            while not loaded(url):  # as a person finds the UI: up, every code location loaded
                if process.poll() is not None or time.time() > deadline:
                    sys.exit(f"the webserver did not start and load the workspace: {log}")
                time.sleep(1)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=60)


def loaded(url: str) -> bool:
    """Whether the webserver at `url` answers and has loaded every code location of its workspace."""
    try:
        workspace = DagsterUI(url).query(LOCATIONS, timeout=5)["workspaceOrError"]
    except UnreachableUI:
        return False
    entries = workspace.get("locationEntries") or []
    return bool(entries) and all(entry["loadStatus"] == "LOADED" for entry in entries)


def report(name: str, command: list[str], environ: dict[str, str], repeat: int) -> None:
    wall(command, environ)  # warm-up: the descriptor cache, the file system's, the webserver's first query
    times = [wall(command, environ) for _ in range(repeat)]
    print(f"mesh {name:<32} median {statistics.median(times):6.2f} s  (min {min(times):.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--materialize", action=argparse.BooleanOptionalAction, default=True, help="HR materialized first"
    )
    parser.add_argument(
        "--plain-webserver",
        action="store_true",
        help="only the commands that ask the UI, against the platform's webserver and dagster-webserver itself, "
        "each started twice, in turn",
    )
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        environ = {**os.environ, "MESH_WAREHOUSE": str(Path(home) / "warehouse"), "MESH_SERVING": "off"}
        with socket.socket() as probe:  # a port nothing listens on: no UI is asked
            probe.bind(("127.0.0.1", 0))
            nowhere = f"http://127.0.0.1:{probe.getsockname()[1]}"
        instance = {**environ, "DAGSTER_HOME": home, "MESH_UI_URL": nowhere}
        if arguments.materialize:  # health with something to tell: HR's run and its 124 checks
            dagster = str(PROJECT / ".venv" / "bin" / "dagster")
            subprocess.run(
                [dagster, "asset", "materialize", "-m", "domains.hr.definitions", "--select", "*"],
                cwd=PROJECT,
                env=instance,
                capture_output=True,
                timeout=600,
                check=True,
            )
        if not arguments.plain_webserver:
            for command in COMMANDS:
                given = instance if command[0] in ("status", "check") else environ
                report(" ".join(command), command, given, arguments.repeat)
            report("show hr.overtime (the instance)", ["show", "hr.overtime"], instance, arguments.repeat)
        launchers = {"": WEBSERVER}
        if arguments.plain_webserver:
            launchers = {", the platform's webserver": WEBSERVER, ", dagster-webserver itself": PLAIN_WEBSERVER}
        for _ in range(2 if arguments.plain_webserver else 1):
            for label, command in launchers.items():
                with webserver(instance, Path(home) / "webserver.log", command) as url:
                    up = {**instance, "MESH_UI_URL": url}
                    report(f"status (the Dagster UI up{label})", ["status"], up, arguments.repeat)
                    report(
                        f"show hr.overtime (the Dagster UI up{label})", ["show", "hr.overtime"], up, arguments.repeat
                    )


if __name__ == "__main__":
    main()
