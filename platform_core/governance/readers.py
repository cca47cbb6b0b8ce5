"""Who reads each port, which of its columns, for what and how often: the mesh's descriptors and
the usage journal together.

- Consumer products the mesh declares: every product whose descriptor reads the port, with the
  columns its steps read (platform_core.descriptors.reads), whether it has run yet or not.
- What the usage journal recorded in the window (platform_core.storage.usage): products' runs,
  people through the serving database (counted under the groups they read for: a group is what
  a port grants and what a product's `consumers` name), people and scripts through `Warehouse.read`.

This is what `mesh usage` shows, what the product pages of the docs site show, what judges a
breaking change by use (platform_core.governance.changes) and what the `unused_ports` policy asks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from platform_core.descriptors.addresses import AddressError
from platform_core.descriptors.loader import read_product
from platform_core.descriptors.mesh_index import MeshIndex
from platform_core.descriptors.reads import input_columns
from platform_core.descriptors.spec import Product, reading_purpose
from platform_core.storage.usage import ReadSummary, UsageLog

Kind = Literal["product", "group", "person"]
# How far back reads count where nothing says otherwise: the docs site, the policies' defaults.
USAGE_WINDOW = timedelta(days=90)


@dataclass(frozen=True)
class Reader:
    """One reader of one port: a product, a group of people, or a person in no group."""

    name: str  # `finance.overtime_accruals`, `group payroll`, `person omar.haddad`
    kind: Kind
    purpose: str | None
    columns: frozenset[str]  # every column it read (or, for a declared product, reads)
    reads: int = 0  # recorded in the window: runs, statements or calls
    people: frozenset[str] = frozenset()  # the logins behind a group's reads
    last: datetime | None = None  # the last recorded read
    declared: bool = False  # a product whose descriptor reads the port
    per_day: tuple[tuple[date, int], ...] = ()

    def said(self) -> str:
        """Who, and how much, in words: `group payroll (14 reads by 2 people, last 2026-12-04)`."""
        parts = []
        if self.reads:
            parts.append(f"{self.reads} read{'s' if self.reads != 1 else ''}")
            if self.kind == "group":
                parts[-1] += f" by {len(self.people)} {'person' if len(self.people) == 1 else 'people'}"
        elif self.declared:
            parts.append("its descriptor reads it; no run recorded in the window")
        if self.last is not None:
            parts.append(f"last {self.last.date().isoformat()}")
        return f"{self.name} ({', '.join(parts)})" if parts else self.name


@dataclass(frozen=True)
class Usage:
    """Who read the mesh's ports since `since` (and who declares reading them)."""

    since: datetime
    ports: dict[str, tuple[Reader, ...]] = field(default_factory=dict)  # port address -> its readers

    def readers(self, address: str, column: str | None = None) -> tuple[Reader, ...]:
        """The readers of a port (`hr.overtime.fact_overtime`), or of one of its columns."""
        found = self.ports.get(address, ())
        return found if column is None else tuple(r for r in found if column in r.columns)

    def said(self, address: str, column: str | None = None) -> str:
        """Who reads a port or column, in one phrase: `finance.overtime_accruals (3 reads, last
        2026-12-04), group payroll (14 reads by 2 people, last 2026-12-05)`."""
        return ", ".join(reader.said() for reader in self.readers(address, column))


def recent_usage(index: MeshIndex, log: UsageLog | None, window: timedelta = USAGE_WINDOW) -> Usage:
    """Who reads the mesh's ports, over the last `window`."""
    return usage_of(index, log, datetime.now(UTC) - window)


def usage_of(index: MeshIndex, log: UsageLog | None, since: datetime, within: str | None = None) -> Usage:
    """Who reads the ports under `within` (a domain, product or port; all when None), declared in the
    mesh or recorded in `log` since `since`."""
    domains = _Domains(index)
    recorded = log.summary(since, within) if log is not None else []
    readers: dict[tuple[str, str], _Reader] = {}
    for address, product, columns, purpose in _declared(index, domains, within):
        entry = readers.setdefault((address, product), _Reader(product, "product", purpose))
        entry.columns |= columns
        entry.declared = True
    for read in recorded:
        for name, kind in _names(read):
            purpose = read.purpose if kind == "person" else read.purpose or domains.purpose(read.address, name)
            entry = readers.setdefault((read.address, name), _Reader(name, kind, purpose))
            entry.add(read)
    ports: dict[str, list[Reader]] = {}
    for (address, _), entry in sorted(readers.items()):
        ports.setdefault(address, []).append(entry.frozen())
    return Usage(since, {address: tuple(found) for address, found in ports.items()})


def _names(read: ReadSummary) -> list[tuple[str, Kind]]:
    """Who a read counts for: the product that ran, each group the person read for, or the person."""
    if read.surface == "run":
        return [(read.reader, "product")]
    if read.groups:
        return [(f"group {group}", "group") for group in read.groups]
    return [(f"person {read.reader}", "person")]


def _declared(
    index: MeshIndex, domains: _Domains, within: str | None
) -> Iterable[tuple[str, str, frozenset[str], str | None]]:
    """(port address, product, columns read, purpose) for every port input of the mesh's products."""
    for entry in index.products():
        addresses = [a.split("@")[0] for a in index.reads(entry)]
        if within is not None and not any(_under(a, within) or _under(within, a) for a in addresses):
            continue
        product = domains.product(entry.domain, entry.name)
        if product is None:
            continue
        columns = input_columns(product)
        for source in product.port_inputs:
            try:
                resolved = MeshIndex.of(product).resolve(source.address)
            except AddressError:
                continue
            if within is None or _under(resolved.address, within):
                yield resolved.address, product.product_address, columns.get(source.name, frozenset()), source.purpose


def _under(address: str, within: str) -> bool:
    return address == within or address.startswith(within + ".")


class _Domains:
    """The mesh's products, each read once when first asked, as its descriptor says (one that does
    not read as a product reads nothing)."""

    def __init__(self, index: MeshIndex) -> None:
        self.index = index
        self.read: dict[str, Product | None] = {}

    def product(self, domain: str, name: str) -> Product | None:
        address = f"{domain}.{name}"
        if address not in self.read:
            entry = self.index.product(address)
            self.read[address] = read_product(entry, self.index) if entry is not None else None
        return self.read[address]

    def purpose(self, address: str, reader: str) -> str | None:
        """Why a group reads a port, as its producer says: the grant to the group, else the
        consumer entry of that name; why a product reads it: its grant or consumer entry."""
        domain, name, port = address.split(".")
        product = self.product(domain, name)
        if product is None:
            return None
        group = reader.removeprefix("group ") if reader.startswith("group ") else None
        published = next((p for p in product.published_ports if p.name == port), None)
        return reading_purpose(published, product.consumers, None if group else reader, group)


@dataclass
class _Reader:
    name: str
    kind: Kind
    purpose: str | None
    columns: frozenset[str] = frozenset()
    reads: int = 0
    people: set[str] = field(default_factory=set)
    last: datetime | None = None
    declared: bool = False
    per_day: dict[date, int] = field(default_factory=dict)

    def add(self, read: ReadSummary) -> None:
        self.columns |= frozenset(read.columns)
        self.reads += read.reads
        if read.surface != "run":
            self.people.add(read.reader)
        self.last = max(self.last, read.last) if self.last else read.last
        for day, reads in read.per_day:
            self.per_day[day] = self.per_day.get(day, 0) + reads
        self.purpose = self.purpose or read.purpose

    def frozen(self) -> Reader:
        return Reader(
            self.name,
            self.kind,
            self.purpose,
            self.columns,
            self.reads,
            frozenset(self.people),
            self.last,
            self.declared,
            tuple(sorted(self.per_day.items())),
        )
