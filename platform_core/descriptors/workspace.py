"""The domains of the mesh, as listed in workspace.yaml (the same file `dagster dev` reads)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from platform_core.descriptors.files import display_path, read_yaml
from platform_core.errors import ProblemCollector

DOMAIN_MODULE = re.compile(r"^domains\.([a-z][a-z0-9_]*)\.definitions$")


@dataclass(frozen=True)
class Location:
    name: str
    module: str
    domain: str | None  # None for locations that are not domains (the platform's own)
    working_directory: str = "."


def read_workspace(path: Path) -> list[Location]:
    """The code locations of the workspace file; PlatformError when it cannot be read."""
    problems = ProblemCollector()
    data = read_yaml(path, problems)
    entries = data.get("load_from") if data is not None else None
    if data is not None and not isinstance(entries, list):
        problems.add(display_path(path), "load_from", "must list the code locations")
    problems.raise_if_any(f"the workspace {path.name} cannot be read")
    assert isinstance(entries, list)  # else read_yaml or the check above added a problem, and it raised
    locations = []
    for entry in entries:
        kind, target = next(iter(entry.items())) if isinstance(entry, dict) and entry else ("", None)
        options = target if isinstance(target, dict) else {}
        module = str(
            (target if isinstance(target, str) else options.get("module_name", "")) if kind == "python_module" else ""
        )
        match = DOMAIN_MODULE.match(module)
        name = str(options.get("location_name") or module or (target if isinstance(target, str) else kind))
        locations.append(
            Location(
                name=name,
                module=module,
                domain=match[1] if match else None,
                working_directory=str(options.get("working_directory", ".")),
            )
        )
    return locations


def domain_directories(workspace: Path) -> list[Path]:
    """Each domain's folder, under the location's working directory (relative to the workspace file)."""
    root = workspace.resolve().parent
    return [
        (root / loc.working_directory).resolve() / "domains" / loc.domain
        for loc in read_workspace(workspace)
        if loc.domain
    ]


def find_workspace(start: Path | None = None, name: str = "workspace.yaml") -> Path:
    """The project's workspace file: in `start` (the working directory) or the nearest folder
    above it that has one, so commands work from anywhere in the project; `start/name` if none."""
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / name).is_file():
            return folder / name
    return start / name
