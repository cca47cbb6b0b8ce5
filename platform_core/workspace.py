"""The domains of the mesh, as listed in workspace.yaml (the same file `dagster dev` reads)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

DOMAIN_MODULE = re.compile(r"^domains\.([a-z][a-z0-9_]*)\.definitions$")


@dataclass(frozen=True)
class Location:
    name: str
    module: str
    domain: str | None  # None for locations that are not domains (the platform's own)
    working_directory: str = "."


def read_workspace(path: Path) -> list[Location]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    locations = []
    for entry in data.get("load_from", []):
        target = entry.get("python_module")
        module = target if isinstance(target, str) else (target or {}).get("module_name", "")
        options = target if isinstance(target, dict) else {}
        match = DOMAIN_MODULE.match(module)
        locations.append(Location(name=options.get("location_name", module), module=module,
                                  domain=match[1] if match else None,
                                  working_directory=options.get("working_directory", ".")))
    return locations


def domain_directories(workspace: Path) -> list[Path]:
    """Each domain's folder, under the location's working directory (relative to the workspace file)."""
    root = workspace.resolve().parent
    return [(root / loc.working_directory).resolve() / "domains" / loc.domain
            for loc in read_workspace(workspace) if loc.domain]
