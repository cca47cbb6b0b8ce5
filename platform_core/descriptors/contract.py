"""A product's contract as a document: what its ports promise, without how they are built.

Every publication records the fingerprint of the contract it was published under, and the
lake keeps each document once, so a consumer can always see what a version promised.
"""

from __future__ import annotations

import hashlib
import json

from platform_core.descriptors.spec import Product

# How a port is built is the producer's business, not part of the promise.
_IMPLEMENTATION = {"sql", "python", "depends_on"}


def contract_document(product: Product) -> str:
    """The contract of every output port, with the product's version, SLA and metrics (a metric's
    definition is a promise too: the figure consumers and people rely on), as canonical JSON."""
    document: dict[str, object] = {
        "product": f"{product.domain}.{product.name}",
        "version": product.version,
        "sla": product.sla.model_dump(mode="json") if product.sla else None,
        "ports": [port.model_dump(mode="json", exclude=_IMPLEMENTATION) for port in product.output_ports],
    }
    if product.metrics:  # absent otherwise: a product without metrics keeps the fingerprint it had
        document["metrics"] = [metric.model_dump(mode="json") for metric in product.metrics]
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def contract_fingerprint(document: str) -> str:
    return "sha256:" + hashlib.sha256(document.encode("utf-8")).hexdigest()[:16]
