"""The one list of a product's checks: what the asset factory declares and what health reads.

Every step has the automatic `schema` check, which also runs the `not_null` rules its columns'
`nullable: false` implies, and one check per other rule (declared, or implied by a column's
`unique: true`, or expected by a consumer); every published port
also has `policies`, the governance warnings about it, and one check per consumer that expects
columns or freshness of it (platform_core.quality.expectations). Each check is named by the step's asset path
(`[domain, product, step]`) and its name.
"""

from __future__ import annotations

from dataclasses import dataclass

from platform_core.descriptors.spec import Product
from platform_core.quality.expectations import expectation_description
from platform_core.quality.results import describe
from platform_core.quality.schema_check import schema_description

SCHEMA_CHECK = "schema"
POLICIES_CHECK = "policies"
POLICIES_DESCRIPTION = "The governance policies in force hold for the product and this port."


@dataclass(frozen=True)
class CheckDeclaration:
    path: tuple[str, str, str]  # the step's asset path: domain, product, step
    name: str
    blocking: bool
    description: str


def product_checks(product: Product) -> list[CheckDeclaration]:
    """Every check of the product, step by step, then the policies check of each published port."""
    checks = []
    for _, step in product.steps:
        path = product.key_path(step.name)
        checks.append(CheckDeclaration(path, SCHEMA_CHECK, True, schema_description(step.nullability)))
        checks += [
            CheckDeclaration(path, rule.check_name, rule.severity == "error", f"[{rule.severity}] {describe(rule)}")
            for rule in step.checked_rules
        ]
    checks += [
        CheckDeclaration(product.key_path(port.name), e.check_name, True, f"[error] {expectation_description(e)}")
        for port in product.published_ports
        for e in port.expected
    ]
    checks += [
        CheckDeclaration(
            product.key_path(port.name),
            POLICIES_CHECK,
            False,
            f"[warn] {POLICIES_DESCRIPTION} (mesh policies lists them).",
        )
        for port in product.published_ports
    ]
    return checks
