"""Finding and reading the mesh without the UI: search, one product or port in full, lineage,
health. What `mesh catalog`, `mesh show`, `mesh lineage` and `mesh status` print.

Read from the descriptors (so it is never stale) and, for what happened, from the Dagster
instance in DAGSTER_HOME when one is given.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Literal, NotRequired, TypedDict

from platform_core.catalog.mesh import Mesh, sla_text
from platform_core.catalog.words import rule_text
from platform_core.descriptors.spec import PortInput, Product

if TYPE_CHECKING:  # searching and showing descriptors imports no Dagster; health, from an instance, does
    import dagster as dg

    from platform_core.catalog.health import Observed, ProductHealth


class UnknownAddress(LookupError):
    """An address that names no product or port of the mesh; the message says what exists."""


class Row(TypedDict):
    """A product or port found by `search`: a line of `mesh catalog`."""

    kind: str
    address: str
    what: str
    owner: str
    classification: str
    description: str


def search(
    mesh: Mesh, text: str | None = None, domain: str | None = None, owner: str | None = None, tag: str | None = None
) -> list[Row]:
    """Products and ports whose name, title, description, tags or column names hold `text`
    (case-blind), narrowed by domain, owner (team slug or name, with or without `team:`) and tag."""
    needle = (text or "").casefold()
    rows: list[Row] = []
    for product in mesh.products:
        if (domain and product.domain != domain) or (tag and tag not in product.tags):
            continue
        names = (product.owner.team, product.owner.name)  # an owner need not have a name
        if owner and owner.removeprefix("team:").casefold() not in {n.casefold() for n in names if n}:
            continue
        words = [product.name, product.title, product.description, *product.tags]
        if needle in " ".join(words).casefold():
            rows.append(_row("product", product.product_address, product, product.title, product.description))
        for port in product.output_ports:
            words = [port.name, port.description, *(c.name for c in port.columns)]
            if needle and needle in " ".join(words).casefold():
                rows.append(
                    _row(
                        "port",
                        product.address(port.name),
                        product,
                        port.kind,
                        port.description,
                        port.effective_classification,
                    )
                )
    # what is named after the text first, then the rest in mesh order
    return sorted(rows, key=lambda row: needle not in row["address"].rsplit(".", 1)[-1].casefold())


def _row(
    kind: str, address: str, product: Product, what: str, description: str, classification: str | None = None
) -> Row:
    return {
        "kind": kind,
        "address": address,
        "what": what,
        "owner": f"{product.owner.name} <{product.owner.contact}>",
        "classification": classification or "",
        "description": " ".join(description.split()),
    }


def find(mesh: Mesh, address: str) -> tuple[Product, str | None]:
    """The product of a product or port address, and the port's name (None for a product)."""
    parts = address.split("@")[0].split(".")
    for product in mesh.products:
        if parts[:2] == [product.domain, product.name]:
            if len(parts) == 2:
                return product, None
            if len(parts) == 3 and any(p.name == parts[2] for p in product.output_ports):
                return product, parts[2]
            raise UnknownAddress(
                f"{address}: {product.product_address} has no port {parts[-1]!r}; it publishes: "
                + ", ".join(p.name for p in product.output_ports)
            )
    known = ", ".join(sorted(p.product_address for p in mesh.products))
    raise UnknownAddress(f"{address}: no such product in the mesh; products: {known}")


def upstream(mesh: Mesh, product: Product) -> list[Product]:
    """The products whose ports `product` reads."""
    addresses = {i.product_address for i in product.inputs if isinstance(i, PortInput)}
    return [p for p in mesh.products if p.product_address in addresses]


def downstream(mesh: Mesh, product: Product) -> list[Product]:
    """The products that read a port of `product`."""
    return [p for p in mesh.products if product in upstream(mesh, p)]


Direction = Literal["upstream", "downstream"]


class Tree(TypedDict):
    """The lineage of a product: its `upstream` or its `downstream`, the way the tree was walked."""

    address: str
    title: str
    owner: str | None
    loop: bool
    upstream: NotRequired[list[Tree]]
    downstream: NotRequired[list[Tree]]


def lineage(mesh: Mesh, product: Product, direction: Direction, seen: frozenset[str] = frozenset()) -> Tree:
    """The product-level dependency tree from `product`, "upstream" or "downstream"; a product
    met twice on one path (a loop) is shown and not followed."""
    nodes = upstream(mesh, product) if direction == "upstream" else downstream(mesh, product)
    path, loop = seen | {product.product_address}, product.product_address in seen
    tree: Tree = {"address": product.product_address, "title": product.title, "owner": product.owner.name, "loop": loop}
    tree[direction] = [] if loop else [lineage(mesh, node, direction, path) for node in nodes]
    return tree


def lineage_text(tree: Tree, direction: Direction, depth: int = 0) -> Iterator[str]:
    arrow = "" if depth == 0 else ("  " * (depth - 1)) + ("<- " if direction == "upstream" else "-> ")
    yield f"{arrow}{tree['address']}  {tree['title']} ({tree['owner']})" + ("  [loop]" if tree["loop"] else "")
    for child in tree[direction]:
        yield from lineage_text(child, direction, depth + 1)


class OwnerShown(TypedDict):
    team: str
    name: str | None
    contact: str | None


class ConsumerShown(TypedDict):
    name: str
    product: str | None
    purpose: str


class ColumnShown(TypedDict):
    name: str
    type: str
    nullable: bool
    unique: bool
    classification: str
    masking: str | None
    description: str


class RuleShown(TypedDict):
    check: str
    severity: str
    rule: str


class PortShown(TypedDict):
    name: str
    address: str
    kind: str
    description: str
    classification: str
    access: str
    grants: list[str]
    columns: list[ColumnShown]
    rules: list[RuleShown]


class CheckShown(TypedDict):
    """A `CheckResult`, field for field."""

    asset: str
    name: str
    passed: bool
    severity: str
    description: str | None


class HealthShown(TypedDict):
    state: str
    reasons: list[str]
    freshness: str
    last_materialized: str | None
    checks: list[CheckShown]


class Shown(TypedDict):
    """A product or port as `show` gives it, and `show_text` prints it."""

    address: str
    kind: str
    title: str
    description: str
    owner: OwnerShown
    consumers: list[ConsumerShown]
    version: str
    status: str
    sla: str
    schedule: str | None
    upstream: list[str]
    downstream: list[str]
    ports: list[PortShown]
    health: HealthShown | None


def show(mesh: Mesh, address: str, health: ProductHealth | None) -> Shown:
    """Everything about a product (or one of its ports): the descriptor's promises and, from its
    `health` as Dagster knows it, what happened."""
    product, port_name = find(mesh, address)
    ports = [p for p in product.output_ports if port_name in (None, p.name)]
    return {
        "address": address,
        "kind": "port" if port_name else "product",
        "title": product.title,
        "description": " ".join(product.description.split()),
        "owner": {"team": product.owner.team, "name": product.owner.name, "contact": product.owner.contact},
        "consumers": [{"name": c.name, "product": c.product, "purpose": c.purpose} for c in product.consumers],
        "version": product.version,
        "status": product.status,
        "sla": sla_text(product),
        "schedule": f"{product.schedule.cron} ({product.schedule.timezone})" if product.schedule else None,
        "upstream": [p.product_address for p in upstream(mesh, product)],
        "downstream": [p.product_address for p in downstream(mesh, product)],
        "ports": [
            {
                "name": port.name,
                "address": product.address(port.name),
                "kind": port.kind,
                "description": " ".join(port.description.split()),
                "classification": port.effective_classification,
                "access": port.access,
                "grants": [g.grantee for g in port.grants],
                "columns": [
                    {
                        "name": c.name,
                        "type": c.type,
                        "nullable": c.nullable,
                        "unique": c.unique,
                        "classification": port.column_classification(c),
                        "masking": c.masking,
                        "description": c.description,
                    }
                    for c in port.columns
                ],
                "rules": [{"check": r.check_name, "severity": r.severity, "rule": rule_text(r)} for r in port.rules],
            }
            for port in ports
        ],
        "health": _health(health, {p.name for p in ports}) if health else None,
    }


def _health(health: ProductHealth, ports: set[str]) -> HealthShown:
    return {
        "state": health.state,
        "reasons": list(health.reasons),
        "freshness": health.freshness,
        "last_materialized": health.last_materialized.isoformat() if health.last_materialized else None,
        "checks": [
            {"asset": c.asset, "name": c.name, "passed": c.passed, "severity": c.severity, "description": c.description}
            for c in health.checks
            if c.asset.rsplit(".", 1)[-1] in ports
        ],
    }


def show_text(shown: Shown) -> Iterator[str]:
    owner = shown["owner"]
    yield f"{shown['address']}: {shown['title']} ({shown['kind']}, version {shown['version']}, {shown['status']})"
    yield f"  {shown['description']}"
    yield f"owner:      {owner['name']} <{owner['contact']}> ({owner['team']})"
    yield f"sla:        {shown['sla']}" + (f"; scheduled {shown['schedule']}" if shown["schedule"] else "")
    yield f"upstream:   {', '.join(shown['upstream']) or '-'}"
    yield f"downstream: {', '.join(shown['downstream']) or '-'}"
    yield "consumers:"
    yield from (
        f"  - {c['name']}{' (' + c['product'] + ')' if c['product'] else ''}: {c['purpose']}"
        for c in shown["consumers"]
    )
    health = shown["health"]
    if health is None:
        yield "health:     unknown (no Dagster instance: set DAGSTER_HOME)"
    else:
        yield (
            f"health:     {health['state']}, freshness {health['freshness']}, last published "
            f"{health['last_materialized'] or 'never'}"
        )
        yield from (f"  ! {reason}" for reason in health["reasons"])
    for port in shown["ports"]:
        access = f", access {port['access']}" + (f" (granted: {', '.join(port['grants'])})" if port["grants"] else "")
        yield ""
        yield f"port {port['address']} ({port['kind']}, {port['classification']}{access})"
        yield f"  {port['description']}"
        width = max(len(c["name"]) for c in port["columns"])
        for c in port["columns"]:
            flags = ", ".join(
                f
                for f in (
                    "not null" if not c["nullable"] else "",
                    "unique" if c["unique"] else "",
                    c["classification"],
                    f"masked: {c['masking']}" if c["masking"] else "",
                )
                if f
            )
            yield f"  {c['name']:<{width}}  {c['type']:<14} {flags:<34} {c['description']}"
        yield "  rules:"
        yield from (f"    [{r['severity']}] {r['check']}: {r['rule']}" for r in port["rules"])
        if health is not None:
            checks = [c for c in health["checks"] if c["asset"].endswith("." + port["name"])]
            failed = [c["name"] for c in checks if not c["passed"]]
            yield f"  latest checks: {len(checks) - len(failed)} passed, {len(failed)} failed" + (
                f" ({', '.join(failed)})" if failed else ""
            )


def status(
    mesh: Mesh, instance: dg.DagsterInstance, domain: str | None = None, refusals: Mapping[str, str] | None = None
) -> list[ProductHealth]:
    """Every product's health, as the instance knows it, and a line for each domain whose
    descriptors do not load; `refusals`: why a domain's code location does not load in Dagster
    (its products are then not loaded)."""
    from platform_core.catalog.health import observe

    observed = {p.product_address: observe(instance, p) for p in mesh.products if domain in (None, p.domain)}
    return judged(mesh, observed, domain, refusals)


def judged(
    mesh: Mesh, observed: Mapping[str, Observed], domain: str | None = None, refusals: Mapping[str, str] | None = None
) -> list[ProductHealth]:
    """`status` from what Dagster knows of each product (by address), wherever it was read."""
    from platform_core.catalog.health import ProductHealth, judge

    refusals = refusals or {}
    found = [
        judge(p, observed[p.product_address], refusal=refusals.get(p.domain))
        for p in mesh.products
        if domain in (None, p.domain)
    ]
    found += [
        ProductHealth(f"{name}.*", "not_loaded", (f"its descriptors do not load: {error}",))
        for name, error in mesh.failed
        if domain in (None, name)
    ]
    return found
