"""What is wrong in the mesh right now, as conditions an alert can be about.

Each condition has a key that stays the same for as long as the same thing is wrong (a product not
published, a check failing, a product stale, a domain not loading, a sunset coming), a level, and
who it concerns. Alerts are the changes between two looks (platform_core.alerts.engine): a key that
appears (or gets worse) breaks, a key that goes recovers. Read from the Dagster instance and the
descriptors, never from a run as it happens, so a restart or a missed tick loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

import dagster as dg

from platform_core.catalog.health import CheckResult, ProductHealth, product_health
from platform_core.catalog.mesh import Mesh
from platform_core.descriptors.spec import Product
from platform_core.descriptors.types import format_duration

Kind = Literal[
    "not_published",
    "warn_rule",
    "freshness",
    "run_failed",
    "location_down",
    "expectation_broken",
    "sunset",
]
# What a level means, worst last: a change to a worse level alerts again.
LEVELS = ("warn", "fail")


@dataclass(frozen=True)
class Audience:
    """Who a condition concerns: a product's owner (and its other recipients), as owner or as a
    consumer of the product the condition is about, or a domain's owner when none of its products
    loads."""

    product: str | None  # <domain>.<product>
    role: Literal["owner", "consumer"]
    domain: str | None = None  # for a domain that does not load: its owner, from domain.yaml


@dataclass(frozen=True)
class Condition:
    key: str  # stable while the same thing is wrong
    kind: Kind
    level: Literal["warn", "fail"]
    subject: str  # the product, or the domain, it is about
    title: str  # one line: what is wrong
    detail: tuple[str, ...] = ()  # more lines: which checks, why, what consumers keep
    sample: tuple[dict[str, object], ...] = ()  # a few failing rows, where there are some
    link: str | None = None  # the asset in the UI
    run_id: str | None = None  # the run that showed it, when one did
    audience: tuple[Audience, ...] = field(default=())
    recovers: bool = True  # a sunset passes, it does not recover: no message when it goes

    @property
    def as_state(self) -> dict[str, object]:
        """What the engine keeps of it between looks."""
        return {
            "level": self.level,
            "kind": self.kind,
            "subject": self.subject,
            "title": self.title,
            "recovers": self.recovers,
            "audience": [[a.product, a.role, a.domain] for a in self.audience],
        }


def conditions(
    mesh: Mesh,
    instance: dg.DagsterInstance,
    refusals: Mapping[str, str],
    now: datetime,
    ui_url: str,
    sunset_notice: timedelta,
) -> list[Condition]:
    """Every condition of the mesh now: each loaded product's (from the instance), each domain that
    does not load, each sunset within `sunset_notice`."""
    found: list[Condition] = []
    readers = Readers(mesh)
    for product in mesh.products:
        if product.domain in refusals:
            continue  # its location does not load: the domain's condition says so, nothing runs it
        health = product_health(instance, product, now)
        found += _product_conditions(instance, product, health, readers, ui_url)
    for name, reason in sorted(refusals.items()):
        found.append(_location_down(name, reason))
    for name, error in mesh.failed:
        found.append(_location_down(name, f"its descriptors do not load: {str(error).splitlines()[0]}"))
    found += _sunsets(mesh, readers, now.date(), sunset_notice)
    return found


def _product_conditions(
    instance: dg.DagsterInstance, product: Product, health: ProductHealth, readers: Readers, ui_url: str
) -> Iterator[Condition]:
    address = product.product_address
    owner = Audience(address, "owner")
    consumers = readers.of_product(product)
    link = f"{ui_url}/assets/{product.domain}/{product.name}"
    blocking = [c for c in health.checks if not c.passed and c.severity == "ERROR"]
    if blocking:
        ports = sorted({port for port, _ in consumers})
        yield Condition(
            f"not_published:{address}",
            "not_published",
            "fail",
            address,
            f"{address} was not published: {len(blocking)} blocking check(s) failed",
            (
                *(_check_line(c) for c in blocking),
                *((f"consumers keep reading the previous version of {', '.join(ports)}",) if ports else ()),
            ),
            next((c.sample for c in blocking if c.sample), ()),
            f"{ui_url}/assets/{'/'.join(blocking[0].asset.split('.'))}?view=checks",
            blocking[0].run_id,
            (owner, *(Audience(reader, "consumer") for reader in sorted({r for _, r in consumers}))),
        )
        for check in blocking:
            expecting = check.name.removeprefix("expected_by_").split("__")
            if check.name.startswith("expected_by_") and len(expecting) >= 2:
                consumer = f"{expecting[0]}.{expecting[1]}"
                yield Condition(
                    f"expectation_broken:{check.asset}:{consumer}",
                    "expectation_broken",
                    "fail",
                    check.asset,
                    f"{check.asset} broke what {consumer} expects of it, and was not published",
                    (_check_line(check), f"{consumer} keeps reading the previous version"),
                    check.sample,
                    f"{ui_url}/assets/{'/'.join(check.asset.split('.'))}?view=checks",
                    check.run_id,
                    (Audience(consumer, "consumer"), owner),
                )
    for check in health.checks:
        if not check.passed and check.severity == "WARN":
            yield Condition(
                f"warn_rule:{check.asset}:{check.name}",
                "warn_rule",
                "warn",
                address,
                f"{check.asset}: warning check {check.name} failed (the product was published)",
                (_check_line(check),),
                check.sample,
                f"{ui_url}/assets/{'/'.join(check.asset.split('.'))}?view=checks",
                check.run_id,
                (owner,),
            )
    if health.freshness in LEVELS and health.last_materialized is not None:
        level: Literal["warn", "fail"] = "fail" if health.freshness == "fail" else "warn"
        yield Condition(
            f"freshness:{address}",
            "freshness",
            level,
            address,
            f"{address} is {'stale' if level == 'fail' else 'nearly stale'}: its freshness SLA "
            + ("is breached" if level == "fail" else "warns"),
            (f"last published {health.last_materialized:%Y-%m-%d %H:%M} UTC",),
            link=link,
            audience=(owner, *(Audience(reader, "consumer") for reader in sorted({r for _, r in consumers}))),
        )
    if health.failed_run is not None and not blocking:
        yield Condition(
            f"run_failed:{address}",
            "run_failed",
            "fail",
            address,
            f"{address}: its last run failed; its ports keep their last good version",
            (failure_of(instance, health.failed_run),),
            link=link,
            run_id=health.failed_run,
            audience=(owner,),
        )


def failure_of(instance: dg.DagsterInstance, run_id: str) -> str:
    """Why a run failed, as Dagster recorded it (a process that died says so: it was reaped)."""
    records = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    said = next((r.dagster_event.message for r in reversed(records) if r.dagster_event), None)
    return (said or "the run failed").splitlines()[0]


def _check_line(check: CheckResult) -> str:
    step = check.asset.rsplit(".", 1)[-1]
    promise = (check.description or "").rstrip(".")
    return f"{step}: {check.name} failed" + (f" (its promise: {promise})" if promise else "")


def _location_down(domain: str, reason: str) -> Condition:
    return Condition(
        f"location_down:{domain}",
        "location_down",
        "fail",
        domain,
        f"domain {domain} does not load: nothing of it runs until it does",
        (reason,),
        audience=(Audience(None, "owner", domain),),
    )


def _sunsets(mesh: Mesh, readers: Readers, today: date, notice: timedelta) -> Iterator[Condition]:
    """A previous major, or a deprecated product, whose sunset is within `notice`: its readers hear
    once, and its owner."""
    for product in mesh.products:
        address = product.product_address
        dated: list[tuple[date, str, int | None]] = []
        previous = product.previous
        if previous is not None and previous.major is not None:
            dated.append((previous.sunset, f"major {previous.major} of {address}", previous.major))
        if product.status == "deprecated" and product.sunset is not None:
            dated.append((product.sunset, address, None))
        for sunset, what, major in dated:
            if not today <= sunset <= today + notice:
                continue
            reading = sorted({r for _, r in readers.of_product(product, major)})
            yield Condition(
                f"sunset:{what}:{sunset.isoformat()}",
                "sunset",
                "warn",
                address,
                f"{what} stops being published on {sunset.isoformat()}, in {format_duration(sunset - today)}",
                (f"read by {', '.join(reading)}: move to the current version before then",) if reading else (),
                audience=(Audience(address, "owner"), *(Audience(r, "consumer") for r in reading)),
                recovers=False,
            )


class Readers:
    """Which products read which ports, and whether they subscribed to hear when they break."""

    def __init__(self, mesh: Mesh) -> None:
        self.reads: list[tuple[str, str, int | None, bool]] = [  # (port address, reader, pinned major, subscribed)
            (source.port_address, product.product_address, source.major, source.subscribe)
            for product in mesh.products
            for source in product.port_inputs
        ]

    def of_product(self, product: Product, major: int | None = None) -> list[tuple[str, str]]:
        """(port name, reader) for each subscribed reader of the product's ports (pinned to `major`, when given)."""
        prefix = product.product_address + "."
        return [
            (port.removeprefix(prefix), reader)
            for port, reader, pinned, subscribed in self.reads
            if port.startswith(prefix) and subscribed and (major is None or pinned == major)
        ]
