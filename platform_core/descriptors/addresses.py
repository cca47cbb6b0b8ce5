"""Resolve a port address (`hr.overtime.fact_overtime`) from the producer's descriptor files.

A consumer never imports a producer's code: it reads the producer's `product.yaml`, and
only output ports can be addressed. Internal tables (bronze, silver, unpublished gold)
stay private to their product, whatever the consumer asks for.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from platform_core.errors import ProblemCollector
from platform_core.descriptors.files import display_path, read_yaml
from platform_core.descriptors.spec import Port, Product


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
    contract = _read_contract(path, address)
    published = ", ".join(sorted(contract.ports)) or "nothing"
    if port in contract.ports:
        entry = contract.ports[port]
        if isinstance(entry, str):
            raise AddressError(f"{address}: {entry}")
        return entry
    if port in contract.internal:
        raise AddressError(f"{address} is an internal {contract.internal[port]} table of {domain}.{product_name}, "
                           f"not an output port; it publishes: {published}")
    raise AddressError(f"{address}: {domain}.{product_name} has no output port {port!r}; it publishes: {published}")


@dataclass(frozen=True)
class Contract:
    """What a consumer may see of a producer's descriptor: its output ports, each validated on
    its own (a port, or why its entry is invalid), and the names of its internal tables."""

    ports: dict[str, Port | str]
    internal: dict[str, str]


def _read_contract(path: Path, address: str) -> Contract:
    stat = path.stat()
    try:
        contract, problem = _parse_contract(str(path), stat.st_mtime_ns, stat.st_size)
    except Exception as error:  # noqa: BLE001 - the producer's mistake stays the producer's; the consumer learns which
        contract, problem = None, (f"the producer's descriptor {display_path(path)} cannot be read "
                                   f"({type(error).__name__}); run mesh check on it")
    if contract is None:
        raise AddressError(f"{address}: {problem}")
    return contract


@functools.lru_cache(maxsize=256)
def _parse_contract(path: str, mtime_ns: int, size: int) -> tuple[Contract | None, str]:
    """A producer's contract, parsed once per version of the file (a consumer resolves many columns).

    Only the ports are validated, one by one: a mistake elsewhere in the producer's descriptor
    is the producer's error (its own location fails to load), not its consumers'.
    """
    problems = ProblemCollector()
    data = read_yaml(Path(path), problems)
    if data is None:
        return None, f"the producer's descriptor {display_path(Path(path))} cannot be read: {problems.problems[0].message}"
    ports: dict[str, Port | str] = {}
    for entry in _entries(data.get("output_ports")):
        try:
            ports[str(entry["name"])] = Port.model_validate(entry)
        except ValidationError as error:
            ports[str(entry["name"])] = (f"the producer's contract for this port is invalid ({error.error_count()} "
                                         f"problem(s); run mesh check on {display_path(Path(path))})")
    layers = data.get("layers") if isinstance(data.get("layers"), dict) else {}
    internal = {str(entry["name"]): layer for layer in ("bronze", "silver", "gold")
                for entry in _entries(layers.get(layer)) if str(entry["name"]) not in ports}
    return Contract(ports=ports, internal=internal), ""


def _entries(value: object) -> list[dict]:
    """The named mappings of a YAML list, whatever else a broken descriptor holds."""
    return [e for e in value if isinstance(e, dict) and "name" in e] if isinstance(value, list) else []
