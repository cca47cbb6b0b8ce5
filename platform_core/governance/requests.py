"""What a producer must add so that a consumer may read one of its ports: the exact entries.

A product that reads another domain's port is listed among the producer's `consumers`, and a
restricted port grants it by name. When either is missing, `mesh check` shows the entries to add
(`AccessRequest.text`), and `mesh request-access` writes them into the producer's descriptor as a
change its owner reviews (platform_core.scaffold.requests). Nothing here reads or writes a file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from platform_core.descriptors.addresses import AddressError, Resolved
from platform_core.descriptors.mesh_index import MeshIndex
from platform_core.descriptors.spec import PortInput, Product


@dataclass(frozen=True)
class AccessRequest:
    """The entries a producer adds for one consumer product reading one port."""

    producer_file: Path  # the producer's descriptor
    port: str  # the port's name in that descriptor
    previous: bool  # a port of the previous major (under `previous: ports:`)
    address: str  # the port as the consumer reads it: hr.overtime.dim_employee (maybe @1)
    consumer: str  # the consuming product: procurement.suppliers
    purpose: str | None  # why the consumer reads it, as its input says
    list_consumer: bool  # a `consumers` entry is missing
    grant: bool  # a grant on the (restricted) port is missing

    @property
    def why(self) -> str:
        return self.purpose or f"<why {self.consumer} reads it>"

    @property
    def consumer_entry(self) -> dict[str, str]:
        return {"name": self.consumer.replace(".", "_"), "product": self.consumer, "purpose": self.why}

    @property
    def grant_entry(self) -> dict[str, str]:
        return {"consumer": self.consumer, "purpose": self.why}

    def entries(self) -> list[str]:
        """The entries, as YAML lines under the keys they go to."""
        lines = []
        if self.list_consumer:
            lines += ["consumers:", f"  - {flow_mapping(self.consumer_entry)}"]
        if self.grant:
            ports = "previous: ports" if self.previous else "output_ports"
            lines += [f"{ports}: the port named {self.port}, its grants:", f"  - {flow_mapping(self.grant_entry)}"]
        return lines

    def text(self, shown_path: str) -> str:
        """The change in words a producer can paste, and the command that writes it."""
        return "\n".join(
            [
                f"the producer adds, in {shown_path}:",
                *(f"  {line}" for line in self.entries()),
                f"or write it for the producer to review: mesh request-access {self.address} --for {self.consumer} "
                f"--purpose {json.dumps(self.why)}",
            ]
        )


def access_request(
    resolved: Resolved, producer_file: Path, address: str, consumer: str, purpose: str | None
) -> AccessRequest | None:
    """What the producer of `resolved` (read by `consumer` as `address`) must add, or None when nothing."""
    contract, port = resolved.producer, resolved.port
    listed = any(c.product == consumer for c in contract.consumers)
    granted = port.access != "restricted" or port.grant(consumer) is not None
    if listed and granted:
        return None
    return AccessRequest(
        producer_file=producer_file,
        port=port.name,
        previous=resolved.published_as != port.name,
        address=address,
        consumer=consumer,
        purpose=purpose,
        list_consumer=not listed,
        grant=not granted,
    )


def flow_mapping(entry: dict[str, str]) -> str:
    """A one-line YAML mapping, each text quoted as JSON (which YAML reads the same)."""
    return "{" + ", ".join(f"{key}: {json.dumps(value)}" for key, value in entry.items()) + "}"


def request_for(product: Product, source: PortInput) -> AccessRequest | None:
    """What the producer of the port `product` reads as `source` must add for it, or None."""
    index = MeshIndex.of(product)
    try:
        resolved = index.resolve(source.address)
    except AddressError:
        return None  # the loader reports it
    entry = index.product(resolved.producer.product)
    if entry is None:
        return None
    return access_request(resolved, entry.file, source.address, product.product_address, source.purpose)
