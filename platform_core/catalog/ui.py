"""The Dagster UI as the reader of health: what the instance knows of each product (the facts of
platform_core.catalog.health), asked of the webserver's GraphQL API, the UI's own source.

`mesh status` asks the UI when one answers at MESH_UI_URL (`http://127.0.0.1:3000`, where
scripts/platform.sh starts it) and serves the instance of DAGSTER_HOME. Dagster is then not
imported (0.6 s and more before a question could be asked of the instance itself), and a domain's
code location is judged by what the UI shows of it now, not by what its files would give. The
judgement is `health.judge` either way, so the answer is the same.

This module imports neither Dagster nor the descriptors: `mesh status` sends its first question,
the one that needs no descriptor, before it loads the mesh, and the webserver answers it while
the mesh loads.
"""

from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from platform_core.background import Background
from platform_core.descriptors.names import PORT_KIND

if TYPE_CHECKING:
    from platform_core.catalog.health import CheckKey, CheckResult, Observed, Severity
    from platform_core.descriptors.spec import Product

# An answer within this long, or the instance is read instead: a UI that is up answers in tens of
# milliseconds; one that is not there refuses the connection at once.
REACH_SECONDS = 2.0
ANSWER_SECONDS = 30.0

_LOCATIONS = """workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message causes { message } } } } } }"""
_EXECUTION = """{ runId evaluation { severity success description
  metadataEntries { label ... on JsonMetadataEntry { jsonString } ... on BoolMetadataEntry { boolValue } } } }"""
# Asked one after the other (`DagsterUI.health_answer`): the first of every asset of the workspace,
# the second of every port the first names (an asset of kind PORT_KIND). Neither needs a descriptor:
# `mesh status` and `mesh show` send them, in a thread, before they load the mesh.
_CHECKS = f"""query Checks {{ {_LOCATIONS}
  assetNodes {{ assetKey {{ path }} kinds assetMaterializations(limit: 1) {{ timestamp }}
    assetChecksOrError {{ ... on AssetChecks {{
    checks {{ name executionForLatestMaterialization {_EXECUTION} }} }} }} }} }}"""
_LATEST = """query Latest($ports: [AssetKeyInput!]!) { assetsLatestInfo(assetKeys: $ports) {
  assetKey { path } latestMaterialization { timestamp } latestRun { id status } } }"""


class UnreachableUI(Exception):
    """The UI did not answer, or not as a Dagster webserver does."""


@dataclass(frozen=True)
class DagsterUI:
    url: str

    @classmethod
    def serving(cls, url: str, dagster_home: str | os.PathLike) -> DagsterUI | None:
        """The UI at `url`, when it answers and serves the instance of `dagster_home`; None otherwise
        (nothing listens there, or it serves another instance: its runs are not this one's)."""
        ui = cls(url.rstrip("/"))
        try:
            info = ui.query("{ instance { info } }", timeout=REACH_SECONDS)["instance"]["info"]
            served = (yaml.safe_load(info) or {})["local_artifact_storage"]["config"]["base_dir"]
        except (UnreachableUI, KeyError, TypeError, yaml.YAMLError):
            return None
        return ui if Path(served).resolve() == Path(dagster_home).resolve() else None

    def query(self, text: str, variables: Mapping[str, object] | None = None, timeout: float = ANSWER_SECONDS) -> dict:
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=json.dumps({"query": text, "variables": dict(variables or {})}).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with _opener(self.url).open(request, timeout=timeout) as response:
                answer = json.load(response)
        except (OSError, ValueError) as error:  # refused, timed out, not HTTP, not JSON
            raise UnreachableUI(f"{self.url}: {error}") from error
        if not isinstance(answer, dict) or answer.get("errors") or not isinstance(answer.get("data"), dict):
            raise UnreachableUI(f"{self.url}: {str(answer)[:300]}")
        return answer["data"]

    def ask_health(self) -> Background[dict]:
        """`health_answer`, asked in a thread of its own while the asker goes on."""
        return Background(self.health_answer)

    def health_answer(self) -> dict:
        """What `health_facts` reads, of the whole workspace. First the code locations' states and
        the checks of every asset, each with its execution for its asset's latest materialization;
        then the latest materialization and run of every port the first answer names."""
        data = self.query(_CHECKS)
        ports = [node["assetKey"]["path"] for node in data["assetNodes"] if PORT_KIND in node["kinds"]]
        return data | self.query(_LATEST, {"ports": _keys(ports)})

    def health_facts(
        self, products: Iterable[Product], asked: Background[dict]
    ) -> tuple[dict[str, Observed], dict[str, str | None]]:
        """What the instance knows of each product (by address), and each code location's state
        in the UI (by name): why it does not load, or None when it loads. A location still
        loading is not in it. `asked` is `ask_health`, sent before the products were loaded.

        Each check's latest execution comes with its asset's node, in one question for all: the UI
        gives it there when it concerns the asset's latest materialization. Any other (a check
        not run since, an asset whose location is not loaded) is asked by itself, as its latest
        execution, which is what the instance gives: a third question, rarely asked."""
        # imported here, not above: the descriptors they need load while `ask_health` is answered
        from platform_core.catalog.health import CheckKey, Observed, check_keys, timestamp

        products = list(products)
        keys = {p.product_address: check_keys(p) for p in products}
        ports = sorted({tuple(p.key_path(port.name)) for p in products for port in p.published_ports})
        data = asked.result()
        latest = {tuple(info["assetKey"]["path"]): info for info in data["assetsLatestInfo"]}
        if unnamed := [port for port in ports if port not in latest]:  # its location is not loaded, say
            latest |= {
                tuple(info["assetKey"]["path"]): info
                for info in self.query(_LATEST, {"ports": _keys(unnamed)})["assetsLatestInfo"]
            }
        executions: dict[CheckKey, list[dict]] = {}
        for node in data["assetNodes"]:
            path = tuple(node["assetKey"]["path"])
            ever = bool(node["assetMaterializations"])
            for check in (node["assetChecksOrError"] or {}).get("checks", []):
                execution = check["executionForLatestMaterialization"]
                if execution is not None or not ever:  # an asset never materialized: never run
                    executions[CheckKey(path, check["name"])] = [execution] if execution else []
        executions |= self._latest_executions(
            [key for found in keys.values() for key in found if key not in executions]
        )

        observed = {}
        for product in products:
            materialized: dict[str, datetime] = {}
            failed: set[str] = set()
            for port in product.published_ports:
                info = latest.get(tuple(product.key_path(port.name))) or {}
                if info.get("latestMaterialization"):
                    materialized[port.name] = timestamp(float(info["latestMaterialization"]["timestamp"]) / 1000)
                if (run := info.get("latestRun")) and run["status"] == "FAILURE":
                    failed.add(run["id"])
            results = [r for key in keys[product.product_address] for r in _results(key, executions[key])]
            observed[product.product_address] = Observed(materialized, tuple(sorted(failed)), tuple(results))
        return observed, _locations(data["workspaceOrError"])

    def _latest_executions(self, keys: list[CheckKey]) -> dict[CheckKey, list[dict]]:
        """Each check's latest execution, asked by itself."""
        if not keys:
            return {}
        declared = ", ".join(f"$a{i}: AssetKeyInput!, $n{i}: String!" for i in range(len(keys)))
        asked = " ".join(
            f"c{i}: assetCheckExecutions(assetKey: $a{i}, checkName: $n{i}, limit: 1) {_EXECUTION}"
            for i in range(len(keys))
        )
        variables: dict[str, object] = {}
        for i, key in enumerate(keys):
            variables |= {f"a{i}": {"path": list(key.path)}, f"n{i}": key.name}
        data = self.query(f"query Executions({declared}) {{ {asked} }}", variables)
        return {key: data[f"c{i}"] for i, key in enumerate(keys)}


def _keys(paths: Iterable[Sequence[str]]) -> list[dict[str, list[str]]]:
    return [{"path": list(path)} for path in paths]


def _opener(url: str) -> urllib.request.OpenerDirector:
    """A UI on this machine is reached directly, whatever proxy the environment names for the web."""
    local = urllib.parse.urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")
    return urllib.request.build_opener(urllib.request.ProxyHandler({})) if local else urllib.request.build_opener()


def _results(key: CheckKey, executions: list[dict]) -> Iterable[CheckResult]:
    from platform_core.catalog.health import check_results

    evaluation = executions[0]["evaluation"] if executions else None
    if not evaluation:  # planned, never run (its run failed first)
        return ()
    metadata: dict[str, object] = {}
    for entry in evaluation["metadataEntries"]:
        if "jsonString" in entry:
            metadata[entry["label"]] = json.loads(entry["jsonString"])
        elif "boolValue" in entry:
            metadata[entry["label"]] = entry["boolValue"]
    severity: Severity = "WARN" if evaluation["severity"] == "WARN" else "ERROR"
    return check_results(
        key, evaluation["success"], severity, evaluation["description"], metadata, executions[0]["runId"]
    )


def _locations(workspace: dict) -> dict[str, str | None]:
    if workspace.get("__typename") != "Workspace":
        raise UnreachableUI(f"the UI's workspace: {str(workspace)[:300]}")
    states: dict[str, str | None] = {}
    for entry in workspace["locationEntries"]:
        loaded = entry["locationOrLoadError"] or {}
        if entry["loadStatus"] != "LOADED":
            continue
        if loaded.get("__typename") == "RepositoryLocation":
            states[entry["name"]] = None
        else:
            states[entry["name"]] = _why(loaded)
    return states


def _why(error: dict) -> str:
    """A location's load error as one line: its root cause (the platform's own error, with the fix,
    under Dagster's "Error occurred during the loading" wrapper), as the UI shows it."""
    first = ((error.get("causes") or [None])[-1] or error).get("message") or "an error it does not name"
    return " ".join(first.split())
