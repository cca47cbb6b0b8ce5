"""HR domain: people, organisation and working time, owned by HR Data."""

import dagster as dg

from platform_core import build_domain


@dg.definitions
def defs() -> dg.Definitions:
    return build_domain("hr")
