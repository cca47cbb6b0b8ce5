"""Resolve a port address (`hr.overtime.fact_overtime`) from the producer's descriptor files.

A consumer never imports a producer's code: it reads the producer's `product.yaml`, and
only output ports can be addressed. Internal tables (bronze, silver, unpublished gold)
stay private to their product, whatever the consumer asks for.
"""

from __future__ import annotations

import functools
from pathlib import Path

from pydantic import ValidationError

from platform_core.errors import ProblemCollector
from platform_core.loader_yaml import read_yaml
from platform_core.spec import Port, Product


class AddressError(ValueError):
    """An address that names no output port; the message says what does exist."""


def domains_root_of(product: Product) -> Path:
    return product.directory.parent.parent.parent  # domains/<domain>/products/<product>


def resolve_port(address: str, domains_root: Path) -> Port:
    domain, product_name, port = address.split(".")
    domain_dir = domains_root / domain
    if not (domain_dir / "domain.yaml").is_file():
        known = sorted(p.parent.name for p in domains_root.glob("*/domain.yaml"))
        raise AddressError(f"{address}: there is no domain {domain!r}; domains: {', '.join(known)}")
    path = domain_dir / "products" / product_name / "product.yaml"
    if not path.is_file():
        known = sorted(p.parent.name for p in domain_dir.glob("products/*/product.yaml"))
        raise AddressError(f"{address}: domain {domain!r} has no product {product_name!r}; "
                           f"products: {', '.join(known) or 'none'}")
    producer = _read_contract(path, address)
    ports = {p.name: p for p in producer.output_ports}
    if port in ports:
        return ports[port]
    published = ", ".join(sorted(ports))
    internal = {step.name: layer for layer, step in producer.steps if step.name not in ports}
    if port in internal:
        raise AddressError(f"{address} is an internal {internal[port]} table of {domain}.{product_name}, "
                           f"not an output port; it publishes: {published}")
    raise AddressError(f"{address}: {domain}.{product_name} has no output port {port!r}; it publishes: {published}")


def _read_contract(path: Path, address: str) -> Product:
    stat = path.stat()
    product, problem = _parse_contract(str(path), stat.st_mtime_ns, stat.st_size)
    if product is None:
        raise AddressError(f"{address}: {problem}")
    return product


@functools.lru_cache(maxsize=256)
def _parse_contract(path: str, mtime_ns: int, size: int) -> tuple[Product | None, str]:
    """A producer's descriptor, parsed once per version of the file (a consumer resolves many columns)."""
    problems = ProblemCollector()
    data = read_yaml(Path(path), problems)
    if data is None:
        return None, f"the producer's descriptor cannot be read: {problems.problems[0].message}"
    try:
        return Product.model_validate(data), ""
    except ValidationError as error:
        return None, f"the producer's descriptor is invalid ({error.error_count()} problem(s); run mesh check)"
