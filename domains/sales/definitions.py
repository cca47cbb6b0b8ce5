"""Sales domain: B2B customers, products and orders, owned by Sales Ops Data."""

import dagster as dg

from platform_core import build_domain


@dg.definitions
def defs() -> dg.Definitions:
    return build_domain("sales")
