"""The whole mesh's definitions: every code location of the workspace in one set, each built exactly
as its own location is, as one `dg` project sees it (`dg list defs`, `dg check defs`)."""

from __future__ import annotations

import dagster as dg

from platform_core.dagster.factory import build_domain
from platform_core.dagster.platform_location import PLATFORM_MODULE, build_platform
from platform_core.descriptors.mesh_index import MeshIndex
from platform_core.descriptors.workspace import read_workspace
from platform_core.settings import Settings


def build_mesh(settings: Settings | None = None) -> dg.Definitions:
    """Every location of the workspace; a domain that does not load fails the whole, as it should
    fail a check."""
    settings = settings or Settings.from_env()
    locations = read_workspace(settings.workspace)
    platform = [build_platform(settings)] if any(loc.module == PLATFORM_MODULE for loc in locations) else []
    return dg.Definitions.merge(
        *platform,
        *(build_domain(directory, settings) for directory in MeshIndex.of_workspace(settings.workspace).domain_dirs()),
    )
