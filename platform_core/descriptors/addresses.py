"""What a consumer sees of a producer: the contract in its descriptor, and the port an address names.

A consumer never imports a producer's code: it reads the producer's descriptor (found by the
mesh index), and only output ports can be addressed. Internal tables (bronze, silver,
unpublished gold) stay private to their product, whatever the consumer asks for.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from platform_core.descriptors.files import display_path, read_yaml
from platform_core.descriptors.metrics import Metric
from platform_core.descriptors.spec import Consumer, Owner, Port, PreviousMajor, major_of, versioned
from platform_core.errors import ProblemCollector


class AddressError(ValueError):
    """An address that names no output port; the message says what does exist."""


@dataclass(frozen=True)
class Resolved:
    """A port as a consumer reaches it: its contract, the name it is built and published under
    (`payroll_compensation__v1` for a previous major's), and its producer's contract."""

    port: Port
    published_as: str
    producer: Contract

    @property
    def address(self) -> str:
        """The address of what is published: `hr.overtime.payroll_compensation__v1`."""
        return f"{self.producer.product}.{self.published_as}"


def resolve_in(contract: Contract, address: str) -> Resolved:
    """The port of `contract` that `address` (maybe pinned to a major: `...@1`) names."""
    domain, product_name, port = address.split("@")[0].split(".")
    pin = int(address.split("@")[1]) if "@" in address else None
    published = ", ".join(sorted(contract.ports)) or "nothing"
    if pin is not None and pin != contract.major:
        return _previous_major(address, port, pin, contract)
    if port in contract.ports:
        entry = contract.ports[port]
        if isinstance(entry, str):
            raise AddressError(f"{address}: {entry}")
        return Resolved(entry, port, contract)
    if port in contract.internal:
        raise AddressError(
            f"{address} is an internal {contract.internal[port]} table of {domain}.{product_name}, "
            f"not an output port; it publishes: {published}"
        )
    raise AddressError(f"{address}: {domain}.{product_name} has no output port {port!r}; it publishes: {published}")


def _previous_major(address: str, port: str, pin: int, contract: Contract) -> Resolved:
    previous = contract.previous
    majors = f"major {contract.major} (current)" + (
        f" and {previous.major} (until {previous.sunset})" if previous is not None else ""
    )
    if previous is None or previous.major != pin:
        raise AddressError(f"{address}: {contract.product} publishes {majors}, not major {pin}")
    changed = {p.name: p for p in previous.ports}
    if port in changed:
        return Resolved(changed[port], versioned(port, pin), contract)
    entry = contract.ports.get(port)
    if isinstance(entry, Port):  # unchanged since that major: the current port serves it
        return Resolved(entry, port, contract)
    raise AddressError(f"{address}: {contract.product} has no output port {port!r} in major {pin}")


@dataclass(frozen=True)
class Contract:
    """What a consumer may see of a producer's descriptor: its output ports, each validated on
    its own (a port, or why its entry is invalid), the names of its internal tables, and what
    governance needs to know of the producer (owner, consumers, version, lifecycle)."""

    product: str
    ports: dict[str, Port | str]
    internal: dict[str, str]
    owner: Owner | None = None
    consumers: tuple[Consumer, ...] = ()
    version: str = ""
    status: str = ""
    sunset: date | None = None
    previous: PreviousMajor | None = None
    metrics: dict[str, Metric] = field(default_factory=dict)  # the valid ones: a broken one is the producer's error

    @property
    def major(self) -> int | None:
        return major_of(self.version)

    @property
    def asking(self) -> str:
        """Who to ask for access: the producer's owner and contact."""
        if self.owner is None:
            return f"the owner of {self.product}"
        who = self.owner.name or f"team {self.owner.team}"
        return f"{who} ({self.owner.contact})" if self.owner.contact else who


def parse_contract(path: Path, product: str, address: str, component: bool = False) -> Contract:
    """The contract in a producer's descriptor file (a component's: in its `attributes`)."""
    status = path.stat()
    try:
        contract, problem = _parse_contract(str(path), product, component, status.st_mtime_ns, status.st_size)
    except Exception as error:  # noqa: BLE001 - the producer's mistake stays the producer's; the consumer learns which
        contract, problem = (
            None,
            (
                f"the producer's descriptor {display_path(path)} cannot be read "
                f"({type(error).__name__}); run mesh check on it"
            ),
        )
    if contract is None:
        raise AddressError(f"{address}: {problem}")
    return contract


@functools.lru_cache(maxsize=256)
def _parse_contract(
    path: str, product: str, component: bool, _mtime_ns: int, _size: int
) -> tuple[Contract | None, str]:
    """A producer's contract, parsed once per version of the file (a consumer resolves many columns).

    Only the ports are validated, one by one: a mistake elsewhere in the producer's descriptor
    is the producer's error (its own location fails to load), not its consumers'.
    """
    problems = ProblemCollector()
    data = read_yaml(Path(path), problems)
    if data is not None and component:
        data = data.get("attributes") if isinstance(data.get("attributes"), dict) else {}
    if data is None:
        return (
            None,
            f"the producer's descriptor {display_path(Path(path))} cannot be read: {problems.problems[0].message}",
        )
    ports: dict[str, Port | str] = {}
    for entry in _entries(data.get("output_ports")):
        try:
            ports[str(entry["name"])] = Port.model_validate(entry)
        except ValidationError as error:
            ports[str(entry["name"])] = (
                f"the producer's contract for this port is invalid ({error.error_count()} "
                f"problem(s); run mesh check on {display_path(Path(path))})"
            )
    layers = data.get("layers")
    if not isinstance(layers, dict):
        layers = {}
    internal = {
        str(entry["name"]): layer
        for layer in ("bronze", "silver", "gold")
        for entry in _entries(layers.get(layer))
        if str(entry["name"]) not in ports
    }
    return Contract(
        product=product,
        ports=ports,
        internal=internal,
        owner=_valid(Owner, data.get("owner")),
        consumers=tuple(c for c in (_valid(Consumer, e) for e in _entries(data.get("consumers"))) if c),
        version=str(data.get("version", "")),
        status=str(data.get("status", "")),
        sunset=_valid_date(data.get("sunset")),
        previous=_valid(PreviousMajor, data.get("previous")),
        metrics={str(e["name"]): m for e in _entries(data.get("metrics")) if (m := _valid_metric(e)) is not None},
    ), ""


_Model = TypeVar("_Model", bound=BaseModel)


def _valid(model: type[_Model], value: object) -> _Model | None:
    """`value` as a `model`, or None when it is not one: the producer's mistake is its own error."""
    try:
        return model.model_validate(value) if value is not None else None
    except ValidationError:
        return None


_METRIC: TypeAdapter[Metric] = TypeAdapter(Metric)


def _valid_metric(value: object) -> Metric | None:
    try:
        return _METRIC.validate_python(value)
    except ValidationError:
        return None


def _valid_date(value: object) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)) if value is not None else None
    except ValueError:
        return None


def _entries(value: object) -> list[dict]:
    """The named mappings of a YAML list, whatever else a broken descriptor holds."""
    return [e for e in value if isinstance(e, dict) and "name" in e] if isinstance(value, list) else []
