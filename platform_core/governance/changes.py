"""What changed between the contract a product was last published under and its descriptor now,
judged from both sides, as datacontract-cli does.

- Breaking for consumers: what they relied on is gone or looser: a port or column removed
  (a rename is both), a type changed other than widened, a column made nullable or no longer
  unique, a rule dropped or loosened (a wider range, more accepted values, an older max_age),
  the freshness SLA loosened, a column made more sensitive.
- Breaking for the producer: what it must deliver is tighter: a column made not nullable or
  unique, a rule added or tightened, the SLA tightened. Its next run may fail its checks.
- Compatible: a column or port added, descriptions and lineage changed.

A change that breaks consumers needs a new major version (policy `breaking_changes_need_major`).

Given who reads the product (platform_core.governance.readers), a change to a port or column is
judged by actual use: one that no declared consumer reads and nobody read in the usage window is
compatible, with a note saying so; one that is read stays breaking and names who reads it, and how
often. Changes to the SLA and to metrics are judged by the contract alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Literal

from platform_core.descriptors.contract import contract_document
from platform_core.descriptors.spec import CLASSIFICATION_ORDER, Product
from platform_core.descriptors.types import parse_duration
from platform_core.governance.readers import Usage

Breaks = Literal["consumers", "producer", "nothing"]
_DECIMAL = re.compile(r"^decimal\((\d+),(\d+)\)$")


@dataclass(frozen=True)
class Change:
    port: str | None
    field: str  # where in the descriptor now (or where it was)
    what: str
    breaks: Breaks
    metric: str | None = None  # the metric it changes, when it changes one
    column: str | None = None  # the column it changes, when it changes one
    readers: str = ""  # who reads what it changes, in words, when judged by use and read
    note: str = ""  # why it is compatible, when judged so by use

    @property
    def said(self) -> str:
        """The change, with who it breaks or why it breaks nobody."""
        return (
            self.what
            + (f"; it would break {self.readers}" if self.readers else "")
            + (f" ({self.note})" if self.note else "")
        )


def changes(published: dict, product: Product, usage: Usage | None = None) -> list[Change]:
    """Every change from `published` (a contract document, as the lake keeps it) to `product`;
    those breaking consumers judged by `usage` when given."""
    found = _contract_changes(published, product)
    return found if usage is None else [_by_use(change, product, usage) for change in found]


def _by_use(change: Change, product: Product, usage: Usage) -> Change:
    if change.breaks != "consumers" or change.port is None:
        return change
    address = product.address(change.port)
    since = usage.since.date().isoformat()
    if not usage.readers(address, change.column):
        what = change.port if change.column is None else f"{change.port}.{change.column}"
        note = f"compatible: no declared consumer reads {what}, and nobody read it since {since}"
        return replace(change, breaks="nothing", note=note)
    return replace(change, readers=usage.said(address, change.column))


def _contract_changes(published: dict, product: Product) -> list[Change]:
    current = json.loads(contract_document(product))
    found = list(_sla_changes(published.get("sla"), current.get("sla")))
    old_ports = {p["name"]: p for p in published.get("ports", [])}
    new_ports = {p["name"]: (i, p) for i, p in enumerate(current.get("ports", []))}
    for name, old in old_ports.items():
        if name not in new_ports:
            found.append(Change(name, "output_ports", f"port {name} removed", "consumers"))
            continue
        i, new = new_ports[name]
        found.extend(_port_changes(name, f"output_ports[{i}]", old, new))
    for name, (i, _) in new_ports.items():
        if name not in old_ports:
            found.append(Change(name, f"output_ports[{i}]", f"port {name} added", "nothing"))
    found.extend(_metric_changes(published.get("metrics", []), current.get("metrics", [])))
    return found


def breaking_for_consumers(published: dict, product: Product, usage: Usage | None = None) -> list[Change]:
    return [c for c in changes(published, product, usage) if c.breaks == "consumers"]


def _port_changes(port: str, field: str, old: dict, new: dict) -> Iterator[Change]:
    old_columns = {c["name"]: c for c in old.get("columns", [])}
    new_columns = {c["name"]: (j, c) for j, c in enumerate(new.get("columns", []))}
    old_level, new_level = old.get("classification") or "internal", new.get("classification") or "internal"
    for name, before in old_columns.items():
        if name not in new_columns:
            yield Change(port, f"{field}.columns", f"{port}.{name} removed", "consumers", column=name)
            continue
        j, after = new_columns[name]
        for change in _column_changes(port, f"{field}.columns[{j}]", name, before, after, old_level, new_level):
            yield replace(change, column=name)
    for name, (j, after) in new_columns.items():
        if name not in old_columns:
            yield Change(
                port,
                f"{field}.columns[{j}]",
                f"{port}.{name} added" + ("" if after.get("nullable", True) else " (not nullable)"),
                "nothing",
            )
    if old.get("access", "public") == "public" and new.get("access", "public") == "restricted":
        yield Change(port, f"{field}.access", f"{port} made restricted", "consumers")
    yield from _rule_changes(port, f"{field}.quality", old.get("quality", []), new.get("quality", []))


def _column_changes(
    port: str, field: str, name: str, old: dict, new: dict, old_port_level: str, new_port_level: str
) -> Iterator[Change]:
    column = f"{port}.{name}"
    if old["type"] != new["type"]:
        widened = _widens(old["type"], new["type"])
        yield Change(
            port,
            f"{field}.type",
            f"{column} type {old['type']} -> {new['type']}" + (" (widened)" if widened else ""),
            "nothing" if widened else "consumers",
        )
    if old.get("nullable", True) != new.get("nullable", True):
        yield Change(
            port,
            f"{field}.nullable",
            f"{column} made " + ("nullable" if new.get("nullable", True) else "not nullable"),
            "consumers" if new.get("nullable", True) else "producer",
        )
    if old.get("unique", False) != new.get("unique", False):
        yield Change(
            port,
            f"{field}.unique",
            f"{column} made " + ("unique" if new.get("unique") else "not unique"),
            "producer" if new.get("unique") else "consumers",
        )
    before = CLASSIFICATION_ORDER.index(old.get("classification") or old_port_level)
    after = CLASSIFICATION_ORDER.index(new.get("classification") or new_port_level)
    if before != after:
        yield Change(
            port,
            f"{field}.classification",
            f"{column} classified {CLASSIFICATION_ORDER[after]} (was {CLASSIFICATION_ORDER[before]})",
            "consumers" if after > before else "nothing",
        )


def _widens(old: str, new: str) -> bool:
    """Whether every value of type `old` fits type `new` unchanged (a bare `decimal` is any decimal)."""
    old_decimal, new_decimal = _DECIMAL.match(old), _DECIMAL.match(new)
    if new == "decimal":
        return old == "integer" or bool(old_decimal)
    if new_decimal and (old_decimal or old == "integer"):
        p1, s1 = map(int, old_decimal.groups()) if old_decimal else (19, 0)  # a BIGINT has 19 digits
        p2, s2 = map(int, new_decimal.groups())
        return s2 >= s1 and p2 - s2 >= p1 - s1
    return (old, new) in {("integer", "double"), ("date", "timestamp")}


def _rule_key(rule: dict) -> str:
    return (
        str(rule.get("name") or rule.get("type"))
        + ":"
        + ",".join(str(rule.get(k)) for k in ("column", "columns", "to", "field") if rule.get(k) is not None)
    )


def _rule_changes(port: str, field: str, old: list[dict], new: list[dict]) -> Iterator[Change]:
    before, after = {_rule_key(r): r for r in old}, {_rule_key(r): r for r in new}
    for key, rule in before.items():
        label = f"{port}: {rule.get('type')} rule{_on(rule)}"
        if key not in after:
            yield Change(port, field, f"{label} removed", "consumers", column=rule.get("column"))
        elif (tighter := _tightness(rule, after[key])) is not None:
            yield Change(
                port,
                field,
                f"{label} {'tightened' if tighter else 'loosened'}",
                "producer" if tighter else "consumers",
                column=rule.get("column"),
            )
    for key, rule in after.items():
        if key not in before:
            yield Change(port, field, f"{port}: {rule.get('type')} rule{_on(rule)} added", "producer")


def _on(rule: dict) -> str:
    target = rule.get("column") or ",".join(rule.get("columns") or []) or rule.get("name")
    return f" on {target}" if target else ""


def _tightness(old: dict, new: dict) -> bool | None:
    """True when `new` asks more of the producer than `old`, False when less, None when neither."""
    if old == new:
        return None
    kind = old.get("type")
    if kind in ("range", "row_count"):
        looser = _lower(new.get("min"), old.get("min")) or _higher(new.get("max"), old.get("max"))
        tighter = _lower(old.get("min"), new.get("min")) or _higher(old.get("max"), new.get("max"))
        return None if looser == tighter else tighter
    if kind == "accepted_values":
        added, removed = set(new["values"]) - set(old["values"]), set(old["values"]) - set(new["values"])
        return None if bool(added) == bool(removed) else bool(removed)
    if kind == "max_age":
        before, after = parse_duration(old["max_age"]), parse_duration(new["max_age"])
        return None if before == after else after < before
    if old.get("severity") != new.get("severity"):
        return new.get("severity") == "error"
    return False  # another expression: what consumers relied on is gone


def _lower(a: float | None, b: float | None) -> bool:
    """Whether bound `a` lets through more than bound `b` from below (None is no bound)."""
    return b is not None and (a is None or a < b)


def _higher(a: float | None, b: float | None) -> bool:
    return b is not None and (a is None or a > b)


# What a metric's figure depends on: a change to any of these changes the number people read.
_DEFINITION = (
    "type",
    "port",
    "aggregation",
    "expression",
    "filter",
    "time",
    "timezone",
    "numerator",
    "denominator",
    "metrics",
    "decimals",
)


def _metric_changes(old: list[dict], new: list[dict]) -> Iterator[Change]:
    """A metric removed, or defined differently (another aggregation, expression, filter, time,
    components or scale), breaks whoever reads its figure; fewer dimensions or grains break the
    questions that used them. Labels, descriptions, more dimensions or grains are compatible."""
    before = {m["name"]: m for m in old}
    after = {m["name"]: (i, m) for i, m in enumerate(new)}
    for name, was in before.items():
        if name not in after:
            yield Change(None, "metrics", f"metric {name} removed", "consumers", name)
            continue
        i, now = after[name]
        changed = [key for key in _DEFINITION if was.get(key) != now.get(key)]
        if changed:
            what = ", ".join(f"{key} {was.get(key)!r} -> {now.get(key)!r}" for key in changed)
            yield Change(None, f"metrics[{i}]", f"metric {name} defined differently: {what}", "consumers", name)
        for key in ("dimensions", "grains"):
            gone = sorted(set(was.get(key) or ()) - set(now.get(key) or ()))
            if gone:
                yield Change(
                    None, f"metrics[{i}].{key}", f"metric {name} no longer by {', '.join(gone)}", "consumers", name
                )
    for name, (i, _) in after.items():
        if name not in before:
            yield Change(None, f"metrics[{i}]", f"metric {name} added", "nothing", name)


def _sla_changes(old: dict | None, new: dict | None) -> Iterator[Change]:
    old_window = ((old or {}).get("freshness") or {}).get("fail_after")
    new_window = ((new or {}).get("freshness") or {}).get("fail_after")
    if old_window and new_window and old_window != new_window:
        longer = parse_duration(new_window) > parse_duration(old_window)
        yield Change(
            None,
            "sla.freshness.fail_after",
            f"freshness SLA {'loosened' if longer else 'tightened'}: fail after {new_window} (was {old_window})",
            "consumers" if longer else "producer",
        )
    elif old_window and not new_window:
        yield Change(None, "sla", "freshness SLA removed", "consumers")
