"""The platform's environment, read in one place and only when definitions are built."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

WAREHOUSE_VARIABLE = "MESH_WAREHOUSE"


@dataclass(frozen=True)
class Settings:
    warehouse_root: Path

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """`MESH_WAREHOUSE` sets the storage root; by default `warehouse/` in the working directory."""
        environ = os.environ if environ is None else environ
        root = environ.get(WAREHOUSE_VARIABLE) or "warehouse"
        return cls(warehouse_root=Path(root).expanduser().resolve())
