"""Usage as its owner reads it: per port, who reads it, for what, how often, which columns, and
which columns nobody read. `mesh usage` prints it; the docs site shows it on each product's page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from platform_core.descriptors.addresses import AddressError
from platform_core.descriptors.mesh_index import MeshIndex
from platform_core.descriptors.spec import Port
from platform_core.governance.readers import Reader, usage_of
from platform_core.storage.usage import UsageLog


@dataclass(frozen=True)
class PortUsage:
    address: str
    port: Port
    readers: tuple[Reader, ...]

    @property
    def unread(self) -> tuple[str, ...]:
        """The port's columns no reader read (or declares reading)."""
        read = {c for r in self.readers for c in r.columns}
        return tuple(c.name for c in self.port.columns if c.name not in read)


def port_usage(index: MeshIndex, log: UsageLog | None, window: timedelta, within: str | None = None) -> list[PortUsage]:
    """Every published port under `within` (a domain, product or port; all when None) and its
    readers over the last `window`."""
    usage = usage_of(index, log, datetime.now(UTC) - window, within)
    return [
        PortUsage(address, port, usage.readers(address))
        for address, port in _ports(index, within)
        if within is None or address == within or address.startswith(within + ".")
    ]


def _ports(index: MeshIndex, within: str | None) -> list[tuple[str, Port]]:
    domain = within.split(".")[0] if within else None
    found = []
    for entry in index.products(domain):
        try:
            contract = index.contract(entry.address)
        except AddressError:
            continue
        for name, port in sorted(contract.ports.items()):
            if isinstance(port, Port):
                found.append((f"{entry.address}.{name}", port))
    return found


def usage_rows(ports: list[PortUsage], window: timedelta, for_table: bool = False) -> list[dict[str, object]]:
    """One row per port and reader (a port with none has one row saying so), each with the port's
    unread columns; for a table, lists are written out as text."""
    today = datetime.now(UTC).date()

    def listed(values: list[str]) -> object:
        return ", ".join(values) if for_table else values

    rows: list[dict[str, object]] = []
    for port in ports:
        unread = {"unread columns": listed(list(port.unread))}
        if not port.readers:
            rows.append({"port": port.address, "reader": "nobody", "reads": 0, **unread})
        for reader in port.readers:
            rows.append(
                {
                    "port": port.address,
                    "reader": reader.name,
                    "kind": reader.kind + (" (declared)" if reader.declared else ""),
                    "purpose": reader.purpose,
                    "reads": reader.reads,
                    "per day": round(reader.reads / _days_since(reader, today), 1),
                    "people": len(reader.people) if reader.kind != "product" else None,
                    "columns": listed(sorted(reader.columns)),
                    "last read": reader.last.isoformat(timespec="seconds") if reader.last else None,
                    "reads by day": [{"day": d.isoformat(), "reads": n} for d, n in reader.per_day],
                    **unread,
                }
            )
    return rows


def _days_since(reader: Reader, today: date) -> int:
    """The days from a reader's first read in the window to today, both counted (1 at least)."""
    first = reader.per_day[0][0] if reader.per_day else today
    return max((today - first).days + 1, 1)
