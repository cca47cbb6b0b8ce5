"""The whole mesh in one set of definitions: what `dg list defs` and `dg check defs` load.

Dagster runs the mesh as one code location per domain, as workspace.yaml lists them; `dg` sees a
project as one location, so this module builds every location of the workspace together, each
exactly as its own location builds it.
"""

import dagster as dg

from platform_core.dagster.mesh import build_mesh


@dg.definitions
def defs() -> dg.Definitions:
    return build_mesh()
