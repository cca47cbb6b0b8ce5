"""The mesh catalog: every product and port, and who consumes whom, read from descriptors.

Built from the domains listed in workspace.yaml by loading their descriptor files, never
by importing domain code, so a domain whose code is broken is still listed, and one whose
descriptors are broken is reported instead of hiding the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from platform_core.descriptors.cache import load_domain_cached
from platform_core.descriptors.freshness import freshness_of
from platform_core.descriptors.graphs import find_cycle
from platform_core.descriptors.mesh_index import MeshIndex
from platform_core.descriptors.spec import Column, CronFreshness, Domain, Port, PortInput, Product
from platform_core.descriptors.types import format_duration
from platform_core.errors import PlatformError

if TYPE_CHECKING:  # the journal (and DuckDB) only where it is read: reading the mesh needs neither
    from platform_core.storage.usage import UsageLog


@dataclass(frozen=True)
class Mesh:
    domains: tuple[Domain, ...]
    problems: tuple[str, ...]  # one readable message per domain that did not load
    failed: tuple[tuple[str, PlatformError], ...] = ()  # each domain that did not load, and why
    usage: UsageLog | None = None  # the usage journal, when the catalog publishes it

    @property
    def products(self) -> Iterator[Product]:
        for domain in self.domains:
            yield from domain.products


def load_mesh(mesh: MeshIndex | Path) -> Mesh:
    """Every domain of the mesh (an index, or a workspace file) loaded: those that load, and why
    the others do not."""
    index = mesh if isinstance(mesh, MeshIndex) else MeshIndex.of_workspace(mesh)
    domains, failed = [], []
    for directory in index.domain_dirs():
        try:
            domains.append(load_domain_cached(directory, index=index))  # validated once per change of its files
        except PlatformError as error:
            failed.append((directory.name, error))
    return Mesh(tuple(domains), tuple(str(error) for _, error in failed), tuple(failed))


@dataclass
class LoadedMesh:
    """The mesh of an index, loaded again only when its files change: a sensor looking every 30
    seconds reads the files' fingerprint (a fraction of a millisecond) instead of loading every
    descriptor (a quarter of a second on the demo mesh)."""

    index: MeshIndex
    fingerprint: str = ""
    mesh: Mesh | None = None

    def current(self) -> tuple[str, Mesh]:
        """The fingerprint of every domain's files (descriptors, SQL, modules) and the mesh they make."""
        mesh = self.index.mesh_digest()
        fingerprint = "".join(self.index.fingerprint(folder, mesh)[:16] for folder in self.index.domain_dirs())
        if self.mesh is None or fingerprint != self.fingerprint:
            self.mesh, self.fingerprint = load_mesh(self.index), fingerprint
        return fingerprint, self.mesh


def sla_text(product: Product) -> str:
    sla = freshness_of(product)
    if isinstance(sla, CronFreshness):
        return f"fresh by {sla.cron} ({sla.timezone}), data not older than {format_duration(sla.lower_bound)}"
    warn = f", warn after {format_duration(sla.warn_after)}" if sla.warn_after else ""
    return f"fail after {format_duration(sla.fail_after)}{warn}" + ("" if product.sla else " (platform default)")


def _common(product: Product) -> dict[str, object]:
    return {
        "domain": product.domain,
        "product": product.name,
        "title": product.title,
        "owner_team": product.owner.team,
        "owner_name": product.owner.name,
        "owner_contact": product.owner.contact,
        "version": product.version,
        "status": product.status,
        "consumers": [{"name": c.name, "purpose": c.purpose} for c in product.consumers],
        "sla": sla_text(product),
    }


def product_rows(mesh: Mesh) -> list[dict[str, object]]:
    return [
        {
            "address": f"{p.domain}.{p.name}",
            **_common(p),
            "description": p.description,
            "tags": list(p.tags),
            "schedule": f"{p.schedule.cron} ({p.schedule.timezone})" if p.schedule else None,
            "ports": [port.name for port in p.output_ports],
            "inputs": [i.address if isinstance(i, PortInput) else f"file:{i.path}" for i in p.inputs],
        }
        for p in mesh.products
    ]


def port_rows(mesh: Mesh) -> list[dict[str, object]]:
    return [
        {
            "address": p.address(port.name),
            **_common(p),
            "port": port.name,
            "kind": port.kind,
            "description": port.description,
            "classification": port.effective_classification,
            "access": port.access,
            "grants": [
                {"consumer": g.consumer, "group": g.group, "purpose": g.purpose, "personal": g.personal}
                for g in port.grants
            ],
            "columns": [_column(port, c) for c in port.columns],
        }
        for p in mesh.products
        for port in p.output_ports
    ]


def _column(port: Port, column: Column) -> dict[str, object]:
    return {
        "name": column.name,
        "type": column.type,
        "description": column.description,
        "nullable": column.nullable,
        "unique": column.unique,
        "classification": port.column_classification(column),
        "masking": column.masking,
    }


def dependency_rows(mesh: Mesh) -> list[dict[str, object]]:
    rows = []
    for product in mesh.products:
        for source in product.port_inputs:
            domain, name, port = source.parts
            readers = sorted(s.name for _, s in product.steps if source.name in product.reads(s))
            rows.append(
                {
                    "consumer": f"{product.domain}.{product.name}",
                    "consumer_domain": product.domain,
                    "consumer_product": product.name,
                    "input_name": source.name,
                    "read_by": readers,
                    "producer_address": source.address,
                    "producer_domain": domain,
                    "producer_product": name,
                    "producer_port": port,
                    "cross_domain": domain != product.domain,
                }
            )
    return rows


def read_rows(mesh: Mesh) -> str:
    """The usage journal's lines as the `port_reads` table, a SELECT for DuckDB: a busy mesh's
    journal holds millions of lines, which never pass through Python."""
    from platform_core.storage.usage import UsageLog

    journal = mesh.usage.select() if mesh.usage is not None else UsageLog(Path("/nonexistent")).select()
    return (
        "SELECT timezone('UTC', \"at\") AS read_at, surface, reader, groups, purpose, address, columns, reads, rows, "
        f'run_id FROM ({journal}) ORDER BY "at", address, reader'
    )


# --- the tables, typed (the contract's logical types) ------------------------------------------

_CONSUMERS = "struct(name string, purpose string)[]"
_COMMON = [
    ("domain", "string", "Owning domain."),
    ("product", "string", "Product name within its domain."),
    ("title", "string", "Product title."),
    ("owner_team", "string", "Owning team (Dagster owner team:<name>)."),
    ("owner_name", "string", "Owning team's display name."),
    ("owner_contact", "string", "Contact e-mail of the owner."),
    ("version", "string", "Product version (semver)."),
    ("status", "string", "Lifecycle status: draft, active, deprecated, retired."),
    ("consumers", _CONSUMERS, "Declared consumers and their purpose."),
    ("sla", "string", "Freshness commitment."),
]


@dataclass(frozen=True)
class CatalogTable:
    name: str
    description: str
    columns: tuple[tuple[str, str, str], ...]  # name, logical type, description
    rows: Callable[[Mesh], list[dict[str, object]] | str]  # the rows, or a SELECT giving them


CATALOG_TABLES = (
    CatalogTable(
        "catalog_products",
        "Every data product of the mesh: owner, consumers and purposes, version, status, SLA.",
        (
            ("address", "string", "<domain>.<product>."),
            *_COMMON,
            ("description", "string", "What the product is for."),
            ("tags", "string[]", "Free labels."),
            ("schedule", "string", "When the product is built."),
            ("ports", "string[]", "Its output ports."),
            ("inputs", "string[]", "What it reads: port addresses, or file:<path> for raw sources."),
        ),
        product_rows,
    ),
    CatalogTable(
        "catalog_ports",
        "Every published output port with its contract: classification and columns.",
        (
            ("address", "string", "<domain>.<product>.<port>: the port's stable address."),
            *_COMMON,
            ("port", "string", "Port name."),
            ("kind", "string", "table (gold) or view (business view)."),
            ("description", "string", "What a row is."),
            ("classification", "string", "Most sensitive classification of the port and its columns."),
            ("access", "string", "public (any product may read it) or restricted (only the consumers granted)."),
            (
                "grants",
                "struct(consumer string, group string, purpose string, personal boolean)[]",
                "Consumer products and groups of people granted a restricted port, or personal data in clear, and why.",
            ),
            (
                "columns",
                "struct(name string, type string, description string, nullable boolean, unique boolean, "
                "classification string, masking string)[]",
                "The contract's columns.",
            ),
        ),
        port_rows,
    ),
    CatalogTable(
        "dependencies",
        "The mesh's dependency graph: which product reads which port, across domains.",
        (
            ("consumer", "string", "<domain>.<product> that reads the port."),
            ("consumer_domain", "string", "Domain of the consumer."),
            ("consumer_product", "string", "Consumer product."),
            ("input_name", "string", "Name the consumer gives the input."),
            ("read_by", "string[]", "Consumer steps that read it."),
            ("producer_address", "string", "Address of the port read."),
            ("producer_domain", "string", "Domain of the producer."),
            ("producer_product", "string", "Producer product."),
            ("producer_port", "string", "Port read."),
            ("cross_domain", "boolean", "True when producer and consumer domains differ."),
        ),
        dependency_rows,
    ),
    CatalogTable(
        "port_reads",
        "Who read which port and columns, when, for what, and how much: the usage journal, as far back as it keeps.",
        (
            ("read_at", "timestamp", "When (UTC); for statements collected together, when they were collected."),
            ("surface", "string", "run (a consumer product), serving (a person, in SQL) or python (Warehouse.read)."),
            ("reader", "string", "The consumer product's address, or the person's login."),
            ("groups", "string[]", "The person's groups the read counts for."),
            ("purpose", "string", "Why, where the read says: the input's, or the one Warehouse.read was given."),
            ("address", "string", "<domain>.<product>.<port> read."),
            ("columns", "string[]", "Every column of the port the reads touched."),
            ("reads", "integer", "Runs, statements or calls counted in the row."),
            ("rows", "integer", "Rows read, when known."),
            ("run_id", "string", "The consumer's run, for a run's read."),
        ),
        read_rows,
    ),
)


def step_cycle(mesh: Mesh) -> list[str]:
    """A loop of steps through other products' ports (`[a, b, a]`), or [] when there is none.

    Each product's own steps are checked when it loads; a loop that crosses products or
    domains only shows once the whole mesh is in view, and automation would run it forever.
    """
    needs: dict[str, list[str]] = {}
    for product in mesh.products:
        ports = {source.name: source.address for source in product.port_inputs}
        steps = {step.name for _, step in product.steps}
        for _, step in product.steps:
            needs[product.address(step.name)] = [
                ports[dep] if dep in ports else product.address(dep)
                for dep in product.reads(step)
                if dep in ports or dep in steps
            ]
    return find_cycle(needs)


def loop_problems(mesh: Mesh) -> list[str]:
    """The mesh's loop of steps as one readable line (`a -> b -> a`), or none."""
    loop = step_cycle(mesh)
    return [" -> ".join(loop)] if loop else []


def domain_order(mesh: Mesh) -> list[str]:
    """Domains ordered so that every producer comes before its consumers (workspace order otherwise)."""
    needs: dict[str, set[str]] = {d.name: set() for d in mesh.domains}
    for row in dependency_rows(mesh):
        if row["cross_domain"] and row["producer_domain"] in needs:
            needs[str(row["consumer_domain"])].add(str(row["producer_domain"]))
    ordered: list[str] = []
    while needs:
        ready = [d for d, deps in needs.items() if deps <= set(ordered)]
        if not ready:
            raise PlatformError([], f"domains depend on each other in a cycle: {', '.join(sorted(needs))}")
        ordered.append(ready[0])
        del needs[ready[0]]
    return ordered


def product_order(mesh: Mesh, targets: list[str] | None = None, upstream: bool = False) -> list[Product]:
    """Products to build, each after every product it reads: all of them, or those `targets`
    names (a domain, or `<domain>.<product>`) and, with `upstream`, every product they read from."""
    products = {p.product_address: p for p in mesh.products}
    reads = {
        address: {f"{s.parts[0]}.{s.parts[1]}" for s in product.port_inputs} & products.keys()
        for address, product in products.items()
    }
    wanted = set(products)
    if targets:
        wanted = set()
        for target in targets:
            named = [a for a in products if a == target or a.split(".")[0] == target]
            if not named:
                known = ", ".join(sorted({a.split(".")[0] for a in products} | set(products)))
                raise PlatformError([], f"no domain or product {target!r} in the mesh; there are: {known}")
            wanted |= set(named)
        while upstream and (more := {r for a in wanted for r in reads[a]} - wanted):
            wanted |= more
    ordered: list[str] = []
    while len(ordered) < len(wanted):
        ready = sorted(a for a in wanted - set(ordered) if reads[a] & wanted <= set(ordered))
        if not ready:
            raise PlatformError([], f"products read each other in a loop: {', '.join(sorted(wanted - set(ordered)))}")
        ordered.append(ready[0])
    return [products[a] for a in ordered]
