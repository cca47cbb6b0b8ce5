"""A product's metrics as MetricFlow's semantic layer reads them (dbt-semantic-interfaces YAML).

```bash
mesh metrics export hr.overtime --out semantic_models.yml
```

One semantic model per port the metrics read (the lake's table of the port), one metric per
metric, and the time spine MetricFlow needs (docs/metrics.md has the mapping):

- a simple metric becomes a measure and a `simple` metric on it; its filter is folded into the
  measure's `expr` (`CASE WHEN <filter> THEN <expr> END`), which every aggregation reads as the
  filtered rows;
- `ratio` and `derived` stay `ratio` and `derived`;
- the port's dimensions are `categorical`, its time column a `time` dimension at `day`;
- a dimension of a port joined by a relationships rule (`dim_employee.department`) makes an entity
  on both ports: MetricFlow groups by `dim_employee__department`.

MetricFlow has no time zone per metric: a metric over a timestamp with a `timezone` is exported on
its UTC day, and the export says so in the metric's description.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from platform_core.catalog.metrics import catalogue_among
from platform_core.descriptors.metric_sql import Leaf
from platform_core.descriptors.metrics import DerivedMetric, RatioMetric, SimpleMetric
from platform_core.descriptors.spec import Product
from platform_core.storage.lake import table_name

_AGG = {
    "sum": "sum",
    "count": "count",
    "count_distinct": "count_distinct",
    "avg": "average",
    "min": "min",
    "max": "max",
}
TIME_SPINE = "metricflow_time_spine"


def metricflow_documents(product: Product, products: Mapping[str, Product]) -> list[dict[str, Any]]:
    """The YAML documents (one object each) of `product`'s metrics: a project configuration with
    the time spine, a semantic model per port its metrics read, and its metrics with those of other
    products (`products`, by address) they are made of."""
    catalogue = catalogue_among(products, product)
    leaves: dict[str, Leaf] = {}
    metrics: dict[str, dict[str, Any]] = {}
    for metric in product.metrics:
        for leaf in catalogue.leaves(metric.name):
            leaves.setdefault(leaf.key, leaf)
    for leaf in leaves.values():
        metrics[leaf.metric.name] = _metric(leaf.metric, leaf)
    for metric in product.metrics:
        if not isinstance(metric, SimpleMetric):
            metrics[metric.name] = _metric(metric, None)

    models: dict[str, dict[str, Any]] = {}
    for leaf in leaves.values():
        model = models.setdefault(leaf.address, _semantic_model(leaf.address, leaf.port.description))
        measure: dict[str, Any] = {
            "name": f"{leaf.metric.name}_measure",
            "description": leaf.metric.description,
            "agg": _AGG[leaf.metric.aggregation],
            "expr": _expression(leaf.metric),
        }
        if leaf.metric.time:
            measure["agg_time_dimension"] = leaf.metric.time
            _dimension(model, leaf.metric.time, "time")
        model["measures"].append(measure)
        for dimension in leaf.dimensions().values():
            if dimension.join is None:
                _dimension(model, dimension.column, "categorical")
                continue
            other = f"{leaf.offering.product}.{dimension.join.to}"
            port = leaf.offering.ports[dimension.join.to]
            joined = models.setdefault(other, _semantic_model(other, port.description))
            _entity(model, dimension.join.to, "foreign", dimension.join.column)
            _entity(joined, dimension.join.to, "primary", dimension.join.field)
            _dimension(joined, dimension.column, "categorical")
    for address, model in models.items():
        if not any(e["type"] == "primary" for e in model["entities"]):
            model["primary_entity"] = address.rsplit(".", 1)[1]
        if not model["entities"]:
            del model["entities"]
        if not model["measures"]:
            del model["measures"]
    spine = {
        "time_spines": [
            {
                "node_relation": {"schema_name": "mesh", "alias": TIME_SPINE},
                "primary_column": {"name": "date_day", "time_granularity": "day"},
            }
        ]
    }
    return (
        [{"project_configuration": spine}]
        + [{"semantic_model": m} for m in models.values()]
        + [{"metric": m} for m in metrics.values()]
    )


def _semantic_model(address: str, description: str) -> dict[str, Any]:
    schema, table = table_name(address)
    return {
        "name": address.replace(".", "_"),  # MetricFlow names have no "__"
        "description": description.strip(),
        "node_relation": {"schema_name": schema, "alias": table},
        "entities": [],
        "measures": [],
        "dimensions": [],
    }


def _dimension(model: dict[str, Any], column: str, kind: str) -> None:
    if any(d["name"] == column for d in model["dimensions"]):
        return
    entry: dict[str, Any] = {"name": column, "type": kind}
    if kind == "time":
        entry["type_params"] = {"time_granularity": "day"}
    model["dimensions"].append(entry)


def _entity(model: dict[str, Any], name: str, kind: str, column: str) -> None:
    if not any(e["name"] == name for e in model["entities"]):
        model["entities"].append({"name": name, "type": kind, "expr": column})


def _expression(metric: SimpleMetric) -> str:
    value = metric.expression or "1"
    return f"CASE WHEN {metric.filter} THEN {value} END" if metric.filter else value


def _metric(metric: SimpleMetric | RatioMetric | DerivedMetric, leaf: Leaf | None) -> dict[str, Any]:
    description = metric.description.strip()
    entry: dict[str, Any] = {"name": metric.name, "label": metric.label, "description": description}
    if isinstance(metric, SimpleMetric):
        if metric.timezone != "UTC" and leaf is not None and (leaf.time_type() or "").startswith("timestamp"):
            entry["description"] = f"{description} (by UTC day here; the platform counts days in {metric.timezone})"
        entry.update(type="simple", type_params={"measure": f"{metric.name}_measure"})
    elif isinstance(metric, RatioMetric):
        entry.update(
            type="ratio",
            type_params={
                "numerator": {"name": metric.numerator.rsplit(".", 1)[-1]},
                "denominator": {"name": metric.denominator.rsplit(".", 1)[-1]},
            },
        )
    else:
        entry.update(
            type="derived",
            type_params={
                "expr": metric.expression,
                "metrics": [{"name": m.rsplit(".", 1)[-1]} for m in metric.metrics],
            },
        )
    return entry
