"""Governing a domain: every policy in force over every product, and who may read what.

The verdict is a list of violations, errors and warnings, each naming its file and field.
Errors stop the domain's code location from loading and make `mesh check` exit 1; warnings
show on the product's assets in the UI as a failing `policies` check, and in `mesh check`.

Access is not a policy a domain can tune: a product that reads a restricted port without
a grant is refused, with who to ask.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from platform_core.descriptors.addresses import AddressError
from platform_core.descriptors.files import display_path
from platform_core.descriptors.mesh_index import MeshIndex
from platform_core.descriptors.people import load_people
from platform_core.descriptors.spec import Domain, PortInput, Product
from platform_core.errors import PlatformError, Problem
from platform_core.governance.policies import Context, Policy, Severity
from platform_core.governance.readers import Usage, usage_of
from platform_core.governance.requests import request_for
from platform_core.governance.settings import policies_in_force
from platform_core.settings import Settings
from platform_core.storage.lake import Publication
from platform_core.storage.warehouse import Warehouse


@dataclass(frozen=True)
class Violation:
    policy: str
    severity: Severity
    file: str
    field: str
    message: str
    hint: str
    product: str  # <domain>.<product>
    port: str | None = None
    change: str = ""  # the exact entries someone else must add, when known (platform_core.governance.requests)

    def problem(self) -> Problem:
        return Problem(self.file, self.field, f"[{self.policy}] {self.message} (fix: {self.hint})")

    def as_dict(self) -> dict[str, object]:
        return {
            "severity": self.severity,
            "policy": self.policy,
            "file": self.file,
            "field": self.field,
            "message": self.message,
            "hint": self.hint,
            "product": self.product,
            "port": self.port,
            "change": self.change,
        }


def govern(domain: Domain, context: Context) -> list[Violation]:
    """Every violation of the domain: its policy settings' problems, then each product's."""
    policies, problems = policies_in_force(domain)
    found = [
        Violation(
            "policy_settings",
            "error",
            p.file,
            p.field,
            p.message,
            "tighten a policy in domain.yaml, never weaken it",
            domain.name,
        )
        for p in problems
    ]
    for product in domain.products:
        found += list(_product_violations(product, policies, context))
        found += list(access_violations(product))
    return found


def _product_violations(product: Product, policies: list[Policy], context: Context) -> Iterator[Violation]:
    where = display_path(product.descriptor_path)
    for policy in policies:
        if policy.kind.scope != "product":
            continue
        for finding in policy.kind.check(product, context, policy.params):
            yield Violation(
                policy.name,
                policy.severity,
                where,
                finding.field,
                finding.message,
                policy.kind.hint,
                product.product_address,
                finding.port,
                finding.change,
            )


def access_violations(product: Product) -> Iterator[Violation]:
    """Port inputs this product may not read: restricted ports that do not grant it."""
    where = display_path(product.descriptor_path)
    for i, source in enumerate(product.inputs):
        if not isinstance(source, PortInput):
            continue
        try:
            resolved = MeshIndex.of(product).resolve(source.address)
        except AddressError:
            continue  # the loader reports it
        port = resolved.port
        if port.access == "restricted" and port.grant(product.product_address) is None:
            request = request_for(product, source)
            yield Violation(
                "access",
                "error",
                where,
                f"inputs[{i}].address",
                f"{product.product_address} reads {source.port_address}, a restricted port, without a grant",
                f"ask {resolved.producer.asking} to add {{consumer: {product.product_address}, purpose: ...}} to "
                f"the grants of {source.port_address}",
                product.product_address,
                change=request.text(display_path(request.producer_file)) if request else "",
            )


def raise_errors(domain: Domain, violations: list[Violation]) -> None:
    errors = [v.problem() for v in violations if v.severity == "error"]
    if errors:
        raise PlatformError(errors, f"domain {domain.name!r} breaks {len(errors)} governance rule(s)")


# --- what policies look at beyond the product ------------------------------------------------


def mesh_context(
    mesh: MeshIndex | Path,
    published: Callable[[str], dict | None] | None = None,
    today: date | None = None,
    warehouse: Warehouse | None = None,
) -> Context:
    """A context reading the mesh (an index, or the folder of its domains) and, when given,
    `published` (`product -> contract document` as last published) and the warehouse whose usage
    journal and publications say who reads what, and since when."""
    index = mesh if isinstance(mesh, MeshIndex) else MeshIndex.at(mesh)
    now = datetime.now(UTC)

    @functools.cache
    def usage(product: str, days: int) -> Usage:
        return usage_of(index, warehouse.usage if warehouse else None, now - timedelta(days=days), product)

    @functools.cache
    def publications(address: str) -> list[Publication]:
        return warehouse.publications(address) if warehouse else []

    @functools.cache
    def journal_starts() -> date | None:
        return warehouse.usage.oldest() if warehouse else None

    def watched(address: str, days: int) -> bool:
        """Published, and its reads recorded, since before the window (as far as the lake's history
        and the journal reach): a port added since is not judged yet."""
        start = now - timedelta(days=days)
        oldest = journal_starts()
        if oldest is None or oldest > start.date():
            return False
        found, product = publications(address), publications(address.rsplit(".", 1)[0])
        return bool(found) and (found[0].published_at <= start or found[0] == product[0])

    return Context(
        today=today or now.date(),
        published=published or (lambda product: None),
        consumers_of=index.readers_of,
        groups=functools.cache(lambda: declared_groups(index)),
        usage=usage,
        watched=watched,
    )


def governance_context(spec: Domain, settings: Settings) -> Context:
    """What policies see beyond a loaded domain: its mesh's descriptors, and what its warehouse's
    lake last published."""
    return warehouse_context(MeshIndex.of(spec), settings.warehouse())


def warehouse_context(index: MeshIndex, warehouse: Warehouse) -> Context:
    """What policies see beyond a domain: the mesh's descriptors, what the lake last published, and
    who read what (the warehouse's usage journal)."""
    return mesh_context(index, published_contracts(warehouse), warehouse=warehouse)


def declared_groups(index: MeshIndex) -> frozenset[str] | None:
    """The groups people.yaml declares; None without a people.yaml; none when it cannot be read (its
    problems are mesh check's)."""
    if not index.people_file.exists():
        return None
    try:
        return load_people(index.people_file).group_names
    except PlatformError:
        return frozenset()


def published_contracts(warehouse: Warehouse) -> Callable[[str], dict | None]:
    """`product -> the contract document it was last published under`, read from the lake once, on
    the first question; None when it has none (nothing published yet)."""

    @functools.cache
    def documents() -> dict[str, str]:
        return warehouse.published_contracts()

    def lookup(product: str) -> dict | None:
        text = documents().get(product)
        return json.loads(text) if text else None

    return lookup
