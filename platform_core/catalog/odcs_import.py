"""A data product skeleton from an Open Data Contract Standard (ODCS v3) contract.

A team that starts from a contract (agreed with its consumers, or written in another tool)
gets a descriptor that says the same, and one SQL file per port that returns the promised
columns and no rows: the skeleton loads before anyone writes the real query. A contract
exported by this platform (`platform_core.catalog.odcs`) comes back exactly, its rules from
their `meshRule`; one written elsewhere best effort, from ODCS library metrics and
`SELECT count(*) ... WHERE` checks, with a note for everything the product could not take.
The document is read through the package's model (`OpenDataContractStandard`), as
datacontract-cli reads it: typed fields, not raw mappings.

A contract says what data is promised, never how it is made: inputs and layers are the
team's to write, except the port inputs that relationships rules check against.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, cast

from open_data_contract_standard.model import (
    DataQuality,
    Description,
    OpenDataContractStandard,
    Relationship,
    SchemaObject,
    SchemaProperty,
    ServiceLevelAgreementProperty,
    Support,
    Team,
    TeamMember,
)
from pydantic import BaseModel, ValidationError

from platform_core.catalog.odcs import SLA_IDS, UNIT_MINUTES, compact, contract_yaml, customs, rule_dict
from platform_core.descriptors.column_types import DUCKDB_TYPES, column_type, duckdb_type
from platform_core.descriptors.names import identifier_problem, quote
from platform_core.descriptors.rules import RULES, Expression, Relationships, Rule, Unique
from platform_core.descriptors.spec import CLASSIFICATION_ORDER, Consumer, Grant, PortInput, RowFilter
from platform_core.descriptors.sql import bind_problem, expression_problem
from platform_core.descriptors.types import format_duration
from platform_core.errors import PlatformError, ProblemCollector

_FROM_LOGICAL = {
    "string": "string",
    "integer": "integer",
    "number": "double",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp",
}
_SEVERITIES = {"error": "error", "critical": "error", "warning": "warn", "warn": "warn", "info": "warn"}
# Classifications other contracts use, as the nearest level of ours.
_CLASSIFICATIONS = {
    **{c: c for c in CLASSIFICATION_ORDER},
    "restricted": "confidential",
    "sensitive": "confidential",
    "secret": "confidential",
    "pii": "personal",
}
_STATUSES = {
    "draft": "draft",
    "proposed": "draft",
    "active": "active",
    "deprecated": "deprecated",
    "retired": "retired",
}
# `SELECT count(*) FROM <the port> WHERE <condition>` that must be 0 is our expression NOT (<condition>).
_COUNT_QUERY = re.compile(
    r"select\s+count\s*\(\s*(?:\*|1)\s*\)\s+from\s+(?P<table>\S+)\s+where\s+(?P<condition>.+?)"
    r"\s*;?",
    re.IGNORECASE | re.DOTALL,
)
_OWN_TABLE = re.compile(r"[\"'`]?\$?\{(?:object|table|model)\}[\"'`]?")
_OWN_COLUMN = re.compile(r"[\"'`]?\$?\{(?:property|column|field)\}[\"'`]?")
_REFUSED = "the contract cannot become a product"


@dataclass(frozen=True)
class Skeleton:
    """A product made from a contract: its descriptor, the files it names (path relative to the
    product folder -> text), and notes on what the contract held that the product could not take."""

    descriptor: dict[str, Any]
    files: dict[str, str]
    notes: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.descriptor["name"]

    @property
    def domain(self) -> str:
        return self.descriptor["domain"]

    def product_yaml(self) -> str:
        header = [
            f"# {self.descriptor['title']}: made by `mesh contract import` from an ODCS contract.",
            "# Each port's SQL returns its columns and no rows: replace it with the query that builds the",
            "# port, and add the inputs and layers it reads (a contract does not say how data is made).",
        ]
        header += ["#", "# Notes from the import:", *(f"#   - {note}" for note in self.notes)] if self.notes else []
        return "\n".join(header) + "\n" + contract_yaml(self.descriptor)


class _Reading:
    """What an import learns on the way: notes for the team, problems that stop it."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.problems = ProblemCollector()

    def problem(self, field: str, message: str) -> None:
        self.problems.add("contract", field, message)

    def name(self, value: object, what: str) -> str:
        """An identifier from a name written elsewhere (`customerId` -> customer_id), noted when it changes."""
        text = _snake(value)
        if value is not None and text != value:
            self.notes.append(f"{what} {value!r} is {text!r} here (names are snake_case)")
        return text


def _snake(value: object) -> str:
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(value or "")).lower()
    text = re.sub(r"_+", "_", re.sub(r"[^a-z0-9]+", "_", text)).strip("_")
    return f"n_{text}" if text and not text[0].isalpha() else text


def _dicts(value: object) -> list[dict[str, Any]]:
    """The mappings of a custom property's value (the platform's own data, which no model types)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def import_contract(document: Mapping[str, Any], domain: str | None = None) -> Skeleton:
    """A product skeleton from an ODCS v3 contract, in `domain` (default: the contract's own).

    Written into `domains/<domain>/products/<name>/` (`write_skeleton`), it loads. PlatformError
    when the document cannot become a product: not v3, not readable by the ODCS model, no name,
    no version, no schema, no domain."""
    reading = _Reading()
    contract = _parsed(document, reading)
    name = reading.name(contract.name or contract.dataProduct, "name")
    domain = domain or reading.name(contract.domain, "domain")
    _refusals(contract, name, domain, reading)
    own = customs(contract.customProperties)
    ports = {reading.name(o.name, "schema"): o for o in contract.schema_ or []}
    built = [_port(port, obj, set(ports), own, reading) for port, obj in ports.items()]
    reading.problems.raise_if_any(_REFUSED)
    sla = contract.slaProperties or []
    descriptor = compact(
        {
            "name": name,
            "domain": domain,
            "title": own.get("title") or name.replace("_", " ").title(),
            "description": _description(contract.description, reading),
            "owner": _owner(contract, domain, reading),
            "version": contract.version,
            "status": _status(contract.status, reading),
            "sunset": _sunset(sla),
            "consumers": _valid_entries(Consumer, own.get("consumers"), "consumer", reading),
            "tags": _tags(contract.tags or [], reading),
            "inputs": _needed_inputs(built, own, reading),
            "sla": _freshness(sla, own, reading),
            "schedule": _schedule(sla, own),
            "output_ports": [port for port, _ in built],
            "metrics": _metrics(contract, reading),
        }
    )
    _sla_notes(sla, reading)
    return Skeleton(descriptor, {port["sql"]: sql for port, sql in built}, tuple(reading.notes))


def _metrics(contract: OpenDataContractStandard, reading: _Reading) -> list[dict[str, Any]]:
    """The product's metrics, from the measures of its schema: as the platform defined them
    (customProperties.meshMetric), or named in a note when only their SQL is there."""
    found = []
    for obj in contract.schema_ or []:
        for prop in obj.properties or []:
            if prop.semanticType != "measure":
                continue
            defined = customs(prop.customProperties).get("meshMetric")
            if isinstance(defined, dict):
                found.append(defined)
            else:
                reading.notes.append(
                    f"measure {obj.name}.{prop.name} ({prop.transformLogic or 'no transformLogic'}): declare it "
                    "under metrics (docs/metrics.md); the platform does not read aggregation SQL"
                )
    return found


def _parsed(document: Mapping[str, Any], reading: _Reading) -> OpenDataContractStandard:
    """The document as the package's model reads it; a field it cannot read stops the import.

    The version is read first, from the document itself: one of another version is refused as
    such, whatever else the v3 model makes of it."""
    version = document.get("apiVersion")
    if not str(version or "").startswith("v3."):
        reading.problem("apiVersion", f"{version!r}: only ODCS v3 contracts can be imported")
    try:
        return OpenDataContractStandard.model_validate(document)
    except ValidationError as error:  # one that skipped validate_contract, as `mesh contract import` does not
        for found in error.errors():
            reading.problem(".".join(str(part) for part in found["loc"]), found["msg"])
        raise PlatformError(reading.problems.problems, _REFUSED) from None


def _refusals(contract: OpenDataContractStandard, name: str, domain: str, reading: _Reading) -> None:
    """Raise what keeps the contract from becoming a product, all of it at once."""
    for field, missing in (
        ("name", not name),
        ("version", contract.version is None),
        ("domain", not domain),
        ("schema", not contract.schema_),
    ):
        if missing:
            reading.problem(
                field,
                "missing: a product needs it"
                + (" (import the contract into a domain: --into domains/<domain>)" if field == "domain" else ""),
            )
    ports = [_snake(o.name) for o in contract.schema_ or []]
    for port in sorted({p for p in ports if not p or ports.count(p) > 1}):
        reading.problem("schema.name", f"two schema objects are port {port!r}" if port else "missing")
    reading.problems.raise_if_any(_REFUSED)


def write_skeleton(skeleton: Skeleton, product_dir: Path) -> list[Path]:
    """Write product.yaml and the SQL files into `product_dir` (`domains/<domain>/products/<name>`).

    Refuses, writing nothing, when any of them exists: an import never overwrites a product."""
    contents = {product_dir / "product.yaml": skeleton.product_yaml()}
    contents |= {product_dir / relative: text for relative, text in skeleton.files.items()}
    existing = sorted(str(path) for path in contents if path.exists() or path.is_symlink())
    if existing:
        raise FileExistsError(f"refused: {', '.join(existing)} already exist; nothing was written")
    for path, text in contents.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(contents)


# --- the product ---------------------------------------------------------------------------------


def _description(described: Description | None, reading: _Reading) -> str:
    purpose = described.purpose if described else None
    if purpose and purpose.strip():
        return purpose
    reading.notes.append("the contract gives no purpose: describe the product")
    return "Imported from an ODCS contract; say what the product is for and who relies on it."


def _owner(contract: OpenDataContractStandard, domain: str, reading: _Reading) -> dict[str, Any]:
    # before v3.1 a team was its list of members
    team = contract.team if isinstance(contract.team, Team) else Team(members=contract.team)
    slug = team.id or ""
    if not re.match(r"^[a-z0-9][a-z0-9-]*$", slug):
        slug = re.sub(r"[^a-z0-9]+", "-", (team.name or "").lower()).strip("-")
    if not slug:
        slug = f"{domain.replace('_', '-')}-data"
        reading.notes.append(f"the contract names no team: owner.team is {slug!r}, check it")
    contact = _contact(contract.support or [], team.members or [])
    if contact is None:
        reading.notes.append("the contract gives no e-mail contact: add owner.contact")
    return compact({"team": slug, "name": team.name, "contact": contact})


def _contact(support: list[Support], members: list[TeamMember]) -> str | None:
    """An e-mail address: a support channel's (mailto: or an address), else a team member's."""
    candidates = [(s.url or "").removeprefix("mailto:") for s in support] + [s.channel or "" for s in support]
    candidates += [m.username or "" for m in members]
    return next((c for c in candidates if re.match(r"^[^@\s:/]+@[^@\s]+\.[^@\s]+$", c)), None)


def _status(value: str | None, reading: _Reading) -> str:
    status = _STATUSES.get((value or "").lower())
    if status is None:
        reading.notes.append(f"status {value!r} is not one of ours: the product is a draft")
    return status or "draft"


def _tags(tags: list[str], reading: _Reading) -> list[str]:
    kept = [t for t in tags if re.match(r"^[A-Za-z0-9_.-]{1,63}$", t)]
    if len(kept) < len(tags):
        reading.notes.append(f"tags left out (letters, digits, _ . - only): {sorted(set(tags) - set(kept))}")
    return kept


def _valid_entries(model: type[BaseModel], value: object, what: str, reading: _Reading) -> list[dict[str, Any]]:
    """Entries our own model accepts (consumers, grants, inputs), as it writes them."""
    kept = []
    for entry in _dicts(value):
        try:
            kept.append(model.model_validate(entry).model_dump(mode="json", exclude_defaults=True))
        except ValidationError:
            reading.notes.append(f"{what} {entry} left out: not one this platform accepts")
    return kept


def _needed_inputs(
    built: list[tuple[dict[str, Any], str]], own: Mapping[str, Any], reading: _Reading
) -> list[dict[str, Any]]:
    """The port inputs relationships rules check against: the only inputs a contract gives back."""
    ports = {port["name"] for port, _ in built}
    needed = {r["to"] for port, _ in built for r in port.get("quality", ()) if r["type"] == "relationships"} - ports
    listed = _dicts(own.get("inputs"))
    others = [str(i.get("name")) for i in listed if i.get("name") not in needed]
    if others:
        reading.notes.append(f"the product read {', '.join(others)}: add the inputs its SQL reads")
    return _valid_entries(PortInput, [i for i in listed if i.get("name") in needed], "input", reading)


# --- SLA -----------------------------------------------------------------------------------------


# What a product takes of an SLA: its freshness (latency), schedule (frequency) and sunset (endOfLife).
_SLA_TAKEN = ("latency", "freshness", "frequency", "endoflife")


def _sla_notes(sla: list[ServiceLevelAgreementProperty], reading: _Reading) -> None:
    left = [
        f"{e.property} {e.value}{' ' + e.unit if e.unit else ''}"
        for e in sla
        if str(e.property).lower() not in _SLA_TAKEN
    ]
    if left:
        reading.notes.append(f"SLA {', '.join(left)}: no place in a product; left out")


def _sunset(sla: list[ServiceLevelAgreementProperty]) -> str | None:
    entry = next((e for e in sla if e.id == "sunset" or e.property == "endOfLife"), None)
    try:
        return date.fromisoformat(str(entry.value)[:10]).isoformat() if entry else None
    except ValueError:
        return None


def _duration(entry: ServiceLevelAgreementProperty) -> str | None:
    """`{value: 26, unit: h}` as 26h; None when the value or unit is not a duration."""
    minutes, value = UNIT_MINUTES.get((entry.unit or "").lower()), entry.value
    if minutes is None or isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return format_duration(timedelta(minutes=value * minutes))


def _freshness(
    sla: list[ServiceLevelAgreementProperty], own: Mapping[str, Any], reading: _Reading
) -> dict[str, Any] | None:
    """Exactly from the entries the export writes; else the first latency (or freshness) as fail_after."""
    if own.get("freshnessIsPlatformDefault"):
        return None
    exported = {e.id: e for e in sla if e.id in SLA_IDS}
    if cron := exported.get("freshness_cron"):
        return {
            "freshness": compact(
                {"cron": cron.schedule, "timezone": own.get("freshnessTimezone"), "lower_bound": _duration(cron)}
            )
        }
    fail = exported.get("freshness_fail_after") or next(
        (e for e in sla if str(e.property).lower() in ("latency", "freshness")), None
    )
    if fail is None:
        return None
    if _duration(fail) is None:
        reading.notes.append(
            f"SLA {fail.property} {fail.value} {fail.unit} is not a duration "
            "(min, h, d, w): the product keeps the platform's default freshness"
        )
        return None
    warn = exported.get("freshness_warn_after")
    return {"freshness": compact({"fail_after": _duration(fail), "warn_after": warn and _duration(warn)})}


def _schedule(sla: list[ServiceLevelAgreementProperty], own: Mapping[str, Any]) -> dict[str, Any] | None:
    entry = next(
        (e for e in sla if e.id == "schedule" or (e.property == "frequency" and e.scheduler == "cron" and e.schedule)),
        None,
    )
    if entry is None:
        return None
    return compact(
        {"cron": entry.schedule, "timezone": own.get("scheduleTimezone"), "enabled": own.get("scheduleEnabled")}
    )


# --- ports -----------------------------------------------------------------------------------------


def _port(
    name: str, obj: SchemaObject, ports: set[str], product_customs: Mapping[str, Any], reading: _Reading
) -> tuple[dict[str, Any], str]:
    """One output port, and its SQL skeleton."""
    own = customs(obj.customProperties)
    kind = (
        own.get("kind") if own.get("kind") in ("table", "view") else ("view" if obj.physicalType == "view" else "table")
    )
    level = _classification(own.get("classification"), f"port {name}", reading)
    if level is None:
        reading.notes.append(f"port {name}: give it a classification (a policy requires one)")
    # measures are metrics, not columns (ODCS 3.2 semanticType); import_contract reads them
    properties = [
        (p, reading.name(p.name, f"{name} column")) for p in obj.properties or [] if p.semanticType != "measure"
    ]
    if not properties:
        reading.problem(f"schema.{name}.properties", "missing: a port needs at least one column")
    key = [
        column
        for p, column in sorted(
            (pc for pc in properties if pc[0].primaryKey), key=lambda pc: pc[0].primaryKeyPosition or 0
        )
    ]
    columns = [_column(p, column, name, level or "internal", key == [column], reading) for p, column in properties]
    inputs = {str(i.get("name")) for i in _dicts(product_customs.get("inputs")) if i.get("kind") == "port"}
    rules = [
        r for r in _rules(name, obj, properties, key, columns, reading) if _reachable(r, name, ports, inputs, reading)
    ]
    access = own.get("access") if own.get("access") in ("public", "restricted") else None
    port = compact(
        {
            "name": name,
            "kind": kind,
            "description": obj.description or _missing(f"port {name}", reading),
            "classification": level,
            "access": access,
            "grants": _valid_entries(Grant, own.get("grants"), f"port {name}: grant", reading),
            "row_filters": _valid_entries(RowFilter, own.get("rowFilters"), f"port {name}: row filter", reading),
            "serve": False if own.get("serve") is False else None,
            "sql": f"sql/{'views' if kind == 'view' else 'gold'}/{name}.sql",
            # a relationships rule reads the port it names, which must therefore be built first
            "depends_on": list(
                dict.fromkeys(r["to"] for r in rules if r["type"] == "relationships" and r["to"] in ports)
            ),
            "columns": columns,
            "quality": rules,
        }
    )
    return port, _skeleton_sql(name, columns)


def _missing(where: str, reading: _Reading) -> str:
    reading.notes.append(f"{where}: the contract gives no description; write one")
    return "Imported without a description; say what it holds."


def _classification(value: object, where: str, reading: _Reading) -> str | None:
    level = _CLASSIFICATIONS.get(str(value).lower()) if value is not None else None
    if value is not None and level is None:
        reading.notes.append(
            f"{where}: classification {value!r} is none of public, internal, confidential, personal; left out"
        )
    return level


def _column(
    prop: SchemaProperty, name: str, port: str, port_level: str, sole_key: bool, reading: _Reading
) -> dict[str, Any]:
    """A column; its classification written only where it differs from the port's, which it inherits."""
    where = f"{port}.{name}"
    level = _classification(prop.classification, where, reading)
    masking = customs(prop.customProperties).get("masking")
    return compact(
        {
            "name": name,
            "type": _column_type(prop, where, reading),
            "nullable": False if prop.required or prop.primaryKey else None,
            "unique": True if prop.unique or sole_key else None,
            "classification": level if level != port_level else None,
            "masking": masking if masking in ("hash", "null") else None,
            "description": prop.description or _missing(where, reading),
        }
    )


def _column_type(prop: SchemaProperty, where: str, reading: _Reading) -> str:
    """Ours from physicalType when it is a DuckDB type we know (DECIMAL(8,2), BIGINT), else from logicalType."""
    physical = (prop.physicalType or "").strip().upper()
    try:
        return column_type(physical)
    except ValueError:
        pass
    found = next((logical for logical, names in DUCKDB_TYPES.items() if physical in names), None)
    found = found or _FROM_LOGICAL.get(str(prop.logicalType))
    if found is None:
        reading.notes.append(
            f"{where}: type {prop.logicalType or physical or 'unknown'} has no column type here; typed string, decide"
        )
    return found or "string"


def _skeleton_sql(port: str, columns: list[dict[str, Any]]) -> str:
    select = ",\n".join(f"    CAST(NULL AS {duckdb_type(c['type'])}) AS {quote(c['name'])}" for c in columns)
    return (
        f"-- {port}: made by `mesh contract import`. Replace this query with the one that builds the\n"
        "-- port: it must return exactly these columns, with these types (see product.yaml). Until\n"
        "-- then the port has no rows: the product loads, and rules such as row_count fail.\n"
        f"SELECT\n{select}\nWHERE false\n"
    )


# --- rules -----------------------------------------------------------------------------------------


def _rules(
    port: str,
    obj: SchemaObject,
    properties: list[tuple[SchemaProperty, str]],
    key: list[str],
    columns: list[dict[str, Any]],
    reading: _Reading,
) -> list[dict[str, Any]]:
    """Each quality entry as a rule (exactly when it carries `meshRule`), then what the schema
    implies (foreign keys, a key of several columns) where no rule says it already."""
    tables = {port, obj.physicalName or port}
    found = [(_rule(e, None, port, tables, reading), False) for e in obj.quality or []]
    found += [(_rule(e, column, port, tables, reading), False) for p, column in properties for e in p.quality or []]
    found += [(_foreign_key(r, column), True) for p, column in properties for r in p.relationships or []]
    found += [({"type": "unique", "columns": key}, True)] if len(key) > 1 else []
    types = {c["name"]: duckdb_type(c["type"]) for c in columns}
    return _distinct(port, [(rule, implied) for rule, implied in found if rule], types, reading)


def _rule(
    entry: DataQuality, column: str | None, port: str, tables: set[str], reading: _Reading
) -> dict[str, Any] | None:
    exact = customs(entry.customProperties).get("meshRule")
    if isinstance(exact, dict) and exact.get("type") in RULES:
        return exact
    kind, metric = entry.type or "library", str(entry.metric or entry.rule)
    if kind == "library" and metric == "rowCount":
        rule = _row_count(entry)
    elif kind == "library" and _zero(entry):
        rule = _zero_metric(metric, entry.arguments or {}, column)
    elif kind == "sql" and _zero(entry):
        rule = _sql_rule(entry, column, tables)
    else:  # text and custom rules, thresholds above zero: nothing a rule here can check
        rule = None
    if rule is None:
        what = entry.name or entry.id or (metric if kind == "library" else kind)
        reading.notes.append(
            f"{port}{'.' + column if column else ''}: quality {what!r} ({kind}) has no rule here; left out"
        )
        return None
    name = _snake(entry.name or entry.id) or ("sql_check" if rule["type"] == "expression" else "")
    return compact(
        {
            **rule,
            "name": None if identifier_problem(name) else name,
            "severity": _SEVERITIES.get(str(entry.severity).lower()),
            "description": entry.description,
        }
    )


def _zero(entry: DataQuality) -> bool:
    """Whether the entry allows no failing row: mustBe 0, mustBeLessThan 1 or mustBeLessOrEqualTo 0."""
    return any(
        value == limit and not isinstance(value, bool)
        for value, limit in ((entry.mustBe, 0), (entry.mustBeLessThan, 1), (entry.mustBeLessOrEqualTo, 0))
    )


def _zero_metric(metric: str, arguments: dict[str, Any], column: str | None) -> dict[str, Any] | None:
    if metric == "nullValues" and column:
        return {"type": "not_null", "column": column}
    if metric == "duplicateValues" and (column or isinstance(arguments.get("properties"), list)):
        return {"type": "unique", "columns": [_snake(c) for c in arguments.get("properties") or [column]]}
    if metric == "invalidValues" and column and isinstance(arguments.get("validValues"), list):
        return {"type": "accepted_values", "column": column, "values": arguments["validValues"]}
    return None


def _row_count(entry: DataQuality) -> dict[str, Any] | None:
    between = entry.mustBeBetween
    if between and all(_whole(v) for v in between):
        return {"type": "row_count", "min": between[0], "max": between[1]}
    bounds = (
        (entry.mustBe, lambda v: (v, v)),
        (entry.mustBeGreaterOrEqualTo, lambda v: (v, None)),
        (entry.mustBeGreaterThan, lambda v: (v + 1, None)),
        (entry.mustBeLessOrEqualTo, lambda v: (None, v)),
        (entry.mustBeLessThan, lambda v: (None, v - 1)),
    )
    found = next(((value, bound) for value, bound in bounds if _whole(value)), None)
    if found is None:
        return None
    low, high = found[1](found[0])
    return compact({"type": "row_count", "min": low, "max": high})


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _sql_rule(entry: DataQuality, column: str | None, tables: set[str]) -> dict[str, Any] | None:
    match = _COUNT_QUERY.fullmatch((entry.query or "").strip())
    if not match or not (_OWN_TABLE.fullmatch(match["table"]) or match["table"].strip("\"'`") in tables):
        return None  # a query of another shape, or over other tables, is no condition on a row of this port
    condition = _OWN_COLUMN.sub(quote(column), match["condition"]) if column else match["condition"]
    return {"type": "expression", "expression": f"NOT ({condition})"}


def _foreign_key(relationship: Relationship, column: str) -> dict[str, Any] | None:
    """`to: dim_employee.employee_id` (a port of this contract) as a relationships rule."""
    target = relationship.to
    if (relationship.type or "foreignKey") != "foreignKey" or not isinstance(target, str) or target.count(".") != 1:
        return None
    table, field = target.split(".")
    return {"type": "relationships", "column": column, "to": _snake(table), "field": _snake(field)}


def _distinct(
    port: str, found: list[tuple[dict[str, Any], bool]], types: dict[str, str], reading: _Reading
) -> list[dict[str, Any]]:
    """Rules as the descriptor writes them: valid over the port's columns, with distinct check
    names; an implied rule only when no other says the same."""
    kept: list[dict[str, Any]] = []
    meanings: set[tuple[Any, ...]] = set()
    names: set[str] = set()
    for entry, implied in found:
        rule = _valid_rule(port, entry, types, reading)
        if rule is None or (implied and _meaning(rule) in meanings):
            continue
        meanings.add(_meaning(rule))
        if rule.check_name in names:  # two checks of one name would not load: number the later one
            number = next(n for n in range(2, len(names) + 3) if f"{rule.check_name}_{n}" not in names)
            rule = rule.model_copy(update={"name": f"{rule.check_name}_{number}"})
        names.add(rule.check_name)
        kept.append(rule_dict(rule))
    return kept


def _valid_rule(port: str, entry: Mapping[str, Any], types: dict[str, str], reading: _Reading) -> Rule | None:
    """The rule, if the loader will take it: its model, its columns, an expression that binds."""
    try:
        # RULES maps each tag to its class, a member of the Rule union; mypy sees only their base class
        rule = cast(Rule, RULES[entry["type"]].model_validate(entry))
    except ValidationError as error:
        reading.notes.append(f"{port}: rule {dict(entry)} left out: {error.errors()[0]['msg']}")
        return None
    problem = next((f"no column {c!r}" for c in rule.columns_used if c not in types), None)
    if problem is None and isinstance(rule, Expression):
        problem = expression_problem(rule.expression) or bind_problem(rule.expression, types)
    if problem:
        reading.notes.append(f"{port}: rule {rule.check_name} left out: {problem}")
    return None if problem else rule


def _meaning(rule: Rule) -> tuple[Any, ...]:
    if isinstance(rule, Unique):
        return ("unique", frozenset(rule.columns))
    if isinstance(rule, Relationships):
        return ("relationships", rule.column, rule.to, rule.field)
    return (rule.type, rule.check_name)


def _reachable(rule: Mapping[str, Any], port: str, ports: set[str], inputs: set[str], reading: _Reading) -> bool:
    """A relationships rule checks against another port of the product, or a port input."""
    if rule["type"] != "relationships" or rule["to"] in inputs or (rule["to"] in ports and rule["to"] != port):
        return True
    reading.notes.append(
        f"{port}: relationships rule on {rule['column']} points at {rule['to']!r}, neither another "
        "port of this contract nor a port input; left out"
    )
    return False
