"""The platform's environment, read in one place and only when definitions are built."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

WAREHOUSE_VARIABLE = "MESH_WAREHOUSE"
WORKSPACE_VARIABLE = "MESH_WORKSPACE"


@dataclass(frozen=True)
class Settings:
    warehouse_root: Path
    workspace: Path = Path("workspace.yaml")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """`MESH_WAREHOUSE` sets the storage root (default `warehouse/`), `MESH_WORKSPACE` the
        workspace whose domains the catalog lists (default `workspace.yaml`), both relative to
        the working directory."""
        environ = os.environ if environ is None else environ
        root = environ.get(WAREHOUSE_VARIABLE) or "warehouse"
        workspace = environ.get(WORKSPACE_VARIABLE) or "workspace.yaml"
        return cls(warehouse_root=Path(root).expanduser().resolve(), workspace=Path(workspace).expanduser().resolve())


def dagster_home(environ: Mapping[str, str] | None = None) -> Path:
    """The Dagster instance's directory, `DAGSTER_HOME`, as Dagster itself requires it."""
    environ = os.environ if environ is None else environ
    home = environ.get("DAGSTER_HOME")
    if not home:
        raise RuntimeError("DAGSTER_HOME is not set: it names the Dagster instance's directory (see README)")
    return Path(home).expanduser().resolve()
