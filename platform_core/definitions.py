"""The platform's code location: the mesh catalog and dependency graph (see mesh_location)."""

import dagster as dg

from platform_core.dagster.platform_location import build_platform


@dg.definitions
def defs() -> dg.Definitions:
    return build_platform()
