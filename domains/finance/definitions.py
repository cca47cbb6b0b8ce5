"""Finance domain: accounting, controlling and planning, owned by Finance Data."""

import dagster as dg

from platform_core import build_domain


@dg.definitions
def defs() -> dg.Definitions:
    return build_domain("finance")
