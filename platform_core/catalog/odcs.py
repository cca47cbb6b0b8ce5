"""Data products as Open Data Contract Standard (ODCS v3) documents.

A descriptor is this platform's own language; ODCS is the one other tools speak (catalogs,
datacontract-cli, quality engines). Exporting a product lets anyone outside the mesh read what
its ports promise, and test it against the lake, without knowing the platform.

- `export_contract` maps what both languages share natively (columns, types, keys, rules as
  library metrics or SQL, owner, SLA, the lake as a server) and keeps what ODCS lacks (access,
  grants, masking, consumers, inputs) as customProperties. Each rule also carries itself
  (`meshRule`), so a contract exported here imports back to the same rules
  (`platform_core.catalog.odcs_import`). The export reads no clock and keeps the descriptor's
  order: two exports of one product are equal.
- Both directions go through the pydantic models of the `open_data_contract_standard`
  package (`OpenDataContractStandard` and its parts), as datacontract-cli does: the export
  builds one (`contract_model`) and dumps it; the import parses a document into one.
- `validate_contract` checks a document against the official JSON Schema shipped in the same
  package.

docs/contracts.md has the mapping, field by field, and what does not map.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft201909Validator
from jsonschema.exceptions import ValidationError, best_match
from open_data_contract_standard.model import (
    CustomProperty,
    DataQuality,
    Description,
    OpenDataContractStandard,
    Relationship,
    SchemaObject,
    SchemaProperty,
    Server,
    ServiceLevelAgreementProperty,
    Support,
    Team,
)

from platform_core.descriptors.column_types import duckdb_type, is_scalar
from platform_core.descriptors.files import read_yaml
from platform_core.descriptors.freshness import freshness_of
from platform_core.descriptors.metrics import Metric, RatioMetric, SimpleMetric
from platform_core.descriptors.names import qualified, quote
from platform_core.descriptors.rules import (
    AcceptedValues,
    Expression,
    MaxAge,
    NotNull,
    Range,
    Relationships,
    RowCount,
    Rule,
    Unique,
)
from platform_core.descriptors.spec import Column, CronFreshness, Port, PortInput, Product
from platform_core.descriptors.types import format_duration
from platform_core.errors import ProblemCollector
from platform_core.quality.sql_executor import failing_condition
from platform_core.settings import Settings
from platform_core.storage.lake import LakeConfig, table_name, without_password

# v3.1.0 rather than the newest the shipped schema accepts (v3.2.0): it is the version the
# tools that read contracts (datacontract-cli, catalogs) know. A product with metrics needs v3.2.0,
# whose `semanticType` marks measures and dimensions.
API_VERSION = "v3.1.0"
API_VERSION_WITH_METRICS = "v3.2.0"
_LAKE_SERVER = "lake"
# Our column types as ODCS logical types: double and decimal are both numbers to ODCS.
_ODCS_TYPES = {
    "string": "string",
    "integer": "integer",
    "double": "number",
    "decimal": "number",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp",
}


def _odcs_type(logical: str) -> str:
    """ODCS's logical type of a column: nested ones are arrays (lists) and objects (structs)."""
    if not is_scalar(logical):
        return "array" if logical.endswith("[]") else "object"
    return _ODCS_TYPES[logical.split("(")[0]]


_SEVERITIES = {"error": "error", "warn": "warning"}
_DIMENSIONS = {
    "not_null": "completeness",
    "unique": "uniqueness",
    "accepted_values": "conformity",
    "range": "accuracy",
    "relationships": "consistency",
    "row_count": "completeness",
    "max_age": "timeliness",
    "expression": "consistency",
}
# The slaProperties ids the export writes, which an import reads back exactly.
SLA_IDS = ("freshness_fail_after", "freshness_warn_after", "freshness_cron", "schedule", "sunset")
UNIT_MINUTES = {
    "min": 1,
    "minute": 1,
    "minutes": 1,
    "h": 60,
    "hr": 60,
    "hour": 60,
    "hours": 60,
    "d": 1440,
    "day": 1440,
    "days": 1440,
    "w": 10080,
    "week": 10080,
    "weeks": 10080,
}
# The models dump fields in the standard's order; a person reads what a part is first (the
# document's fundamentals, an entry's id and name) and the platform's own extensions last.
_FIRST = ("apiVersion", "kind", "id", "name", "version", "status", "domain", "dataProduct")
_LAST = "customProperties"


def contract_id(product: Product) -> str:
    """Stable across versions: the version is the contract's own field."""
    return f"urn:datacontract:{product.domain}:{product.name}"


def _custom_properties(**values: object) -> list[CustomProperty] | None:
    """customProperties of the values that say something (None and [] say nothing), in order."""
    kept = [CustomProperty(property=name, value=value) for name, value in values.items() if value not in (None, [])]
    return kept or None


def customs(entries: Sequence[CustomProperty] | None) -> dict[str, Any]:
    """customProperties as a mapping, the first of a name winning (read last to first); unnamed ones ignored."""
    return {entry.property: entry.value for entry in reversed(entries or []) if entry.property is not None}


def compact(document: dict[str, Any]) -> dict[str, Any]:
    """Leave out what has no value: a descriptor reads an absent field as its default."""
    return {key: value for key, value in document.items() if value not in (None, [], {}, "")}


def rule_dict(rule: Rule) -> dict[str, Any]:
    """A rule as a descriptor writes it: type first, defaults left out."""
    data = rule.model_dump(mode="json", exclude_defaults=True)
    return {"type": data.pop("type"), **data}


# --- export ----------------------------------------------------------------------------------


def export_contract(product: Product, settings: Settings | None = None, *, port: str | None = None) -> dict[str, Any]:
    """The product's contract as an ODCS document (JSON values); with `port`, only that output
    port's schema. `settings` locate the lake for `servers` (default: the local lake under
    `warehouse/`, as docs/storage.md attaches it)."""
    model = contract_model(product, settings, port=port)
    return _readable(model.model_dump(by_alias=True, exclude_none=True, mode="json"))


def contract_model(
    product: Product, settings: Settings | None = None, *, port: str | None = None
) -> OpenDataContractStandard:
    """The product's contract as the package's model: what `export_contract` dumps."""
    ports = [p for p in product.output_ports if port in (None, p.name)]
    if not ports:
        raise LookupError(
            f"{product.product_address} has no output port {port!r}; it publishes: "
            f"{', '.join(p.name for p in product.output_ports)}"
        )
    lake, owner = (settings or Settings(warehouse_root=Path("warehouse"))).lake_config, product.owner
    return OpenDataContractStandard(
        apiVersion=API_VERSION_WITH_METRICS if product.metrics else API_VERSION,
        kind="DataContract",
        id=contract_id(product),
        name=product.name,
        version=product.version,
        status=product.status,
        domain=product.domain,
        dataProduct=product.name,
        description=Description(purpose=product.description, usage=_usage(product), limitations=_limitations(ports)),
        tags=list(product.tags) or None,
        team=Team(id=owner.team, name=owner.name),
        support=[
            Support(
                channel=owner.contact,
                tool="email",
                url=f"mailto:{owner.contact}",
                description=f"{owner.name or owner.team}, owner of {product.product_address}",
            )
        ]
        if owner.contact
        else None,
        servers=[_server(product, lake)],
        schema=[_schema_object(product, p) for p in ports],
        slaProperties=_sla_properties(product),
        customProperties=_product_customs(product),
    )


def _readable(value: Any) -> Any:
    """A dumped document in reading order (`_FIRST` first, `_LAST` last); custom property values
    are the platform's own data, kept as written."""
    if isinstance(value, list):
        return [_readable(item) for item in value]
    if not isinstance(value, dict):
        return value
    keys = [k for k in _FIRST if k in value] + [k for k in value if k not in _FIRST and k != _LAST]
    return {k: _readable(value[k]) for k in keys} | ({_LAST: value[_LAST]} if _LAST in value else {})


def _usage(product: Product) -> str | None:
    return "\n".join(f"{c.name}: {c.purpose}" for c in product.consumers) or None


def _limitations(ports: list[Port]) -> str | None:
    lines = []
    for port in ports:
        if port.access == "restricted":
            granted = ", ".join(g.grantee for g in port.grants) or "none yet"
            lines.append(f"{port.name} is restricted: only the consumers it grants read it ({granted}).")
        if port.personal_columns:
            masked = ", ".join(f"{c.name} ({c.masking or 'hash'})" for c in port.personal_columns)
            lines.append(f"{port.name}: personal columns reach consumers without a grant for them masked: {masked}.")
    return "\n".join(lines) or None


def _server(product: Product, lake: LakeConfig) -> Server:
    """The lake as DuckDB opens it: `duckdb.connect(database)` (or ATTACH) reads every port."""
    database = f"ducklake:{without_password(lake.catalog)}"
    return Server(
        server=_LAKE_SERVER,
        type="duckdb",
        database=database,
        schema=product.domain,
        description=f"The DuckLake of published ports, read-only for consumers: ATTACH '{database}' AS lake "
        f"(READ_ONLY), then FROM lake.{product.domain}.<physicalName>.",
        customProperties=_custom_properties(dataPath=lake.data_path),
    )


def _product_customs(product: Product) -> list[CustomProperty] | None:
    freshness, schedule, previous = freshness_of(product), product.schedule, product.previous
    return _custom_properties(
        title=product.title,
        consumers=[c.model_dump(mode="json", exclude_none=True) for c in product.consumers],
        inputs=[i.model_dump(mode="json", exclude_none=True) for i in product.inputs],
        previousVersion=previous
        and {
            "version": previous.version,
            "sunset": previous.sunset.isoformat(),
            "ports": [p.name for p in previous.ports],
        },
        freshnessIsPlatformDefault=product.sla is None or None,
        freshnessTimezone=freshness.timezone if isinstance(freshness, CronFreshness) else None,
        scheduleTimezone=schedule and schedule.timezone,
        scheduleEnabled=False if schedule and not schedule.enabled else None,
    )


def _sla_properties(product: Product) -> list[ServiceLevelAgreementProperty]:
    freshness, schedule = freshness_of(product), product.schedule
    if isinstance(freshness, CronFreshness):
        entries = [
            _latency(
                "freshness_cron",
                freshness.lower_bound,
                f"Fresh by {freshness.cron} ({freshness.timezone}): data not older than "
                f"{format_duration(freshness.lower_bound)}.",
                cron=freshness.cron,
            )
        ]
    else:
        entries = [
            _latency(
                "freshness_fail_after",
                freshness.fail_after,
                "A new version is published within this time; later, freshness fails.",
            )
        ]
        if freshness.warn_after:
            entries.append(_latency("freshness_warn_after", freshness.warn_after, "Later than this, freshness warns."))
    if schedule:
        entries.append(
            ServiceLevelAgreementProperty(
                id="schedule",
                property="frequency",
                value=schedule.cron,
                scheduler="cron",
                schedule=schedule.cron,
                description=f"Built on cron {schedule.cron} ({schedule.timezone}).",
            )
        )
    if product.sunset:
        entries.append(
            ServiceLevelAgreementProperty(id="sunset", property="endOfLife", value=product.sunset.isoformat())
        )
    return entries


def _latency(
    sla_id: str, duration: timedelta, description: str, cron: str | None = None
) -> ServiceLevelAgreementProperty:
    """A latency in the largest unit that holds it whole (26 h, 2 d, 90 min), by `cron` when given."""
    minutes = int(duration.total_seconds() // 60)
    unit = next(u for u, size in (("d", 1440), ("h", 60), ("min", 1)) if minutes % size == 0)
    return ServiceLevelAgreementProperty(
        id=sla_id,
        property="latency",
        value=minutes // UNIT_MINUTES[unit],
        unit=unit,
        scheduler=cron and "cron",
        schedule=cron,
        description=description,
    )


def _schema_object(product: Product, port: Port) -> SchemaObject:
    key = _primary_key(port)
    column_rules = {c.name: [r for r in port.quality if _column_of(r) == c.name] for c in port.columns}
    physical = table_name(product.address(port.name))[1]
    dimensions = _dimensions(product).get(port.name, set())
    return SchemaObject(
        name=port.name,
        physicalName=physical,
        physicalType="table",
        description=port.description,
        properties=[_property(product, port, c, column_rules[c.name], key, c.name in dimensions) for c in port.columns]
        + [_measure(metric) for metric in product.metrics if _anchor(product, metric) == port.name],
        quality=[_quality(product, r) for r in port.quality if _column_of(r) is None] or None,
        customProperties=_custom_properties(
            kind=port.kind,
            classification=port.classification,
            access=port.access if port.access != "public" else None,
            grants=[g.model_dump(mode="json", exclude_defaults=True) for g in port.grants],
            rowFilters=[f.model_dump(mode="json") for f in port.row_filters],
            serve=False if not port.serve else None,
            maskedPhysicalName=f"{physical}__masked" if port.personal_columns else None,
        ),
    )


def _column_of(rule: Rule) -> str | None:
    """The column a rule is about, when it is about one: ODCS puts such rules on the property."""
    if isinstance(rule, Unique):
        return rule.columns[0] if len(rule.columns) == 1 else None
    return getattr(rule, "column", None)


def _primary_key(port: Port) -> tuple[str, ...]:
    """The port's key for ODCS readers: the shortest error-level unique rule (a unique column's
    included) over columns that are never null; the first such in column order."""
    required = {c.name for c in port.columns if not c.nullable}
    position = {c.name: i for i, c in enumerate(port.columns)}
    keys = [
        r.columns for r in port.rules if isinstance(r, Unique) and r.severity == "error" and set(r.columns) <= required
    ]
    return min(keys, key=lambda cols: (len(cols), [position[c] for c in cols]), default=())


def _dimensions(product: Product) -> dict[str, set[str]]:
    """The columns, per port, that the product's metrics group by (their time dimension too)."""
    found: dict[str, set[str]] = {}
    for metric in product.metrics:
        if isinstance(metric, SimpleMetric):
            for written in (*metric.dimensions, *((metric.time,) if metric.time else ())):
                port, _, column = written.rpartition(".")
                found.setdefault(port or metric.port, set()).add(column)
    return found


def _anchor(product: Product, metric: Metric) -> str | None:
    """The port whose schema object carries a metric as a measure: the port a simple metric
    aggregates; for a ratio or derived metric, that of its first component of this product."""
    if isinstance(metric, SimpleMetric):
        return metric.port
    own = {m.name: m for m in product.metrics}
    for component in metric.components:
        if component in own and own[component] is not metric:
            return _anchor(product, own[component])
    return None  # made only of other products' metrics: ODCS holds it nowhere


_AGGREGATE_SQL = {"count_distinct": "COUNT(DISTINCT {})", "count": "COUNT({})"}


def _measure(metric: Metric) -> SchemaProperty:
    """A metric as ODCS 3.2 says a measure: an aggregated value, its aggregation in transformLogic;
    the platform's definition rides along (customProperties.meshMetric) for a faithful import."""
    if isinstance(metric, SimpleMetric):
        template = _AGGREGATE_SQL.get(metric.aggregation, metric.aggregation.upper() + "({})")
        logic = template.format(metric.expression or "*")
        logic += f" FILTER (WHERE {metric.filter})" if metric.filter else ""
    elif isinstance(metric, RatioMetric):
        logic = f"{metric.numerator} / NULLIF({metric.denominator}, 0)"
    else:
        logic = metric.expression
    counts = isinstance(metric, SimpleMetric) and metric.counts
    return SchemaProperty(
        name=metric.name,
        businessName=metric.label,
        description=metric.description,
        logicalType="integer" if counts else "number",
        semanticType="measure",
        transformLogic=logic,
        customProperties=_custom_properties(meshMetric=metric.model_dump(mode="json", exclude_defaults=True)),
    )


def _property(
    product: Product, port: Port, column: Column, rules: list[Rule], key: tuple[str, ...], dimension: bool = False
) -> SchemaProperty:
    siblings = {p.name for p in product.output_ports}
    in_key, personal = column.name in key, column in port.personal_columns
    return SchemaProperty(
        name=column.name,
        semanticType="dimension" if dimension else None,
        logicalType=_odcs_type(column.type),
        physicalType="DECIMAL" if column.type == "decimal" else duckdb_type(column.type),
        description=column.description,
        required=not column.nullable,
        unique=column.unique,
        primaryKey=in_key or None,
        primaryKeyPosition=key.index(column.name) + 1 if in_key else None,
        classification=port.column_classification(column),
        # A foreign key for tools that draw the model; the check itself is the quality rule.
        relationships=[
            Relationship(type="foreignKey", to=f"{r.to}.{r.field}")
            for r in rules
            if isinstance(r, Relationships) and r.to in siblings
        ]
        or None,
        quality=[_quality(product, r) for r in rules] or None,
        customProperties=_custom_properties(masking=(column.masking or "hash") if personal else None),
    )


def _quality(product: Product, rule: Rule) -> DataQuality:
    return DataQuality(
        name=rule.check_name,
        description=rule.description,
        **_check(product, rule),
        dimension=_DIMENSIONS[rule.type],
        severity=_SEVERITIES[rule.severity],
        customProperties=_custom_properties(meshRule=rule_dict(rule)),
    )


def _check(product: Product, rule: Rule) -> dict[str, Any]:
    """The check's DataQuality fields: a library metric where ODCS has one, else a SQL query
    counting what fails, which must be 0."""
    if isinstance(rule, NotNull):
        return {"type": "library", "metric": "nullValues", "mustBe": 0}
    if isinstance(rule, Unique):
        arguments = {"properties": list(rule.columns)} if len(rule.columns) > 1 else None
        return {"type": "library", "metric": "duplicateValues", "arguments": arguments, "mustBe": 0}
    if isinstance(rule, AcceptedValues):
        return {
            "type": "library",
            "metric": "invalidValues",
            "arguments": {"validValues": list(rule.values)},
            "mustBe": 0,
        }
    if isinstance(rule, RowCount):
        return {"type": "library", "metric": "rowCount", **_count_bounds(rule.min, rule.max)}
    return {"type": "sql", "query": _query(product, rule), "mustBe": 0}


def _count_bounds(low: int | None, high: int | None) -> dict[str, Any]:
    # one operator only: the schema's operators are a oneOf, and mustBeBetween needs two distinct numbers
    if low is not None and high is not None:
        return {"mustBe": low} if low == high else {"mustBeBetween": [low, high]}
    return {"mustBeGreaterOrEqualTo": low} if low is not None else {"mustBeLessOrEqualTo": high}


def _query(product: Product, rule: Expression | Range | MaxAge | Relationships) -> str:
    """DuckDB SQL over the lake. `{object}` is ODCS's placeholder for the port's table; the
    values written in are validated numbers (finite bounds, whole minutes), and identifiers quoted."""
    if isinstance(rule, Expression):
        return f"SELECT count(*) FROM {{object}} WHERE NOT ({rule.expression})"
    column = quote(rule.column)
    if isinstance(rule, Range):
        tests = [f"{column} {op} {_number(v)}" for op, v in (("<", rule.min), (">", rule.max)) if v is not None]
        return f"SELECT count(*) FROM {{object}} WHERE {' OR '.join(tests)}"
    if isinstance(rule, MaxAge):
        minutes = int(rule.max_age.total_seconds() // 60)
        return (
            f"SELECT CASE WHEN max({column}) >= now() - INTERVAL '{minutes} minutes' THEN 0 ELSE 1 END FROM {{object}}"
        )
    assert isinstance(rule, Relationships)
    source = product.input(rule.to)
    parent = qualified(*table_name(source.port_address if isinstance(source, PortInput) else product.address(rule.to)))
    return f"SELECT count(*) FROM {{object}} AS child WHERE {failing_condition(rule, lambda _name: parent, {})}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


class _Dumper(yaml.SafeDumper):
    """YAML for people: no anchors nor aliases (each value where it applies), text of several
    lines as a block."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


_Dumper.add_representer(
    str,
    lambda dumper, text: dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None),
)


def contract_yaml(document: Mapping[str, Any]) -> str:
    """A document (or a descriptor) as YAML, in its own order: what `mesh contract` writes."""
    return yaml.dump(dict(document), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)


# --- validation ------------------------------------------------------------------------------


@functools.cache
def _validator() -> Draft201909Validator:
    text = resources.files("open_data_contract_standard").joinpath("schema.json").read_text(encoding="utf-8")
    return Draft201909Validator(json.loads(text), format_checker=Draft201909Validator.FORMAT_CHECKER)


def validate_contract(document: Mapping[str, Any]) -> list[str]:
    """Every way `document` breaks the official ODCS JSON Schema, as `path: message`; [] when valid."""
    errors = sorted(_validator().iter_errors(document), key=lambda e: ([str(p) for p in e.absolute_path], e.message))
    return list(dict.fromkeys(_error_text(error) for error in errors))  # one message once, in path order


def _error_text(error: ValidationError) -> str:
    if error.context:  # no branch of a oneOf/anyOf fits: the closest one of the right type says why
        error = best_match([e for e in error.context if e.validator != "type"] or error.context)
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
    return f"{path or '(document)'}: {_message(error)}"


def _message(error: ValidationError) -> str:
    # fits several branches of a oneOf (whose value is the list of branches)
    if error.validator == "oneOf" and isinstance(error.instance, dict) and isinstance(error.validator_value, list):
        given = [key for branch in error.validator_value for key in branch.get("required", ()) if key in error.instance]
        if given:
            return f"give only one of {', '.join(dict.fromkeys(given))}"
    return error.message


def read_contract(path: Path) -> dict[str, Any]:
    """A contract file (YAML or JSON) as JSON values; PlatformError when it cannot be read."""
    problems = ProblemCollector()
    data = read_yaml(path, problems)
    problems.raise_if_any(f"{path} cannot be read")
    return _json_values(data)


def _json_values(value: Any) -> Any:
    """YAML reads an unquoted 2026-01-31 as a date; a contract's schema wants the text."""
    if isinstance(value, dict):
        return {key: _json_values(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_values(item) for item in value]
    return value.isoformat() if isinstance(value, date | datetime) else value
