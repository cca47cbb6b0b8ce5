"""Metrics in the serving database: one function per metric, beside the product's views.

`SELECT * FROM hr.overtime_cost('month', 'entity_id')` answers "overtime cost by entity and month"
with the same SQL tree `mesh metrics query` runs on the lake (platform_core.descriptors.metric_sql),
written for PostgreSQL. The function reads the product's views as the person who calls it
(SECURITY INVOKER): a restricted port's metric is refused to whoever may not read the port, masked
columns stay masked and row filters hold. Every dimension is a column, NULL where the call does not
group by it; `grain` NULL (the default) gives no time grouping.

Functions are made in the same transaction that switches the product's views, so a metric always
reads the version it was defined with; a metric no longer declared is dropped then too.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from platform_core.descriptors.column_types import duckdb_type
from platform_core.descriptors.metric_checks import catalogue_of
from platform_core.descriptors.metric_sql import Catalogue, compile_function_body
from platform_core.descriptors.metrics import METRIC_TIME, Metric, SimpleMetric
from platform_core.descriptors.names import quote
from platform_core.descriptors.spec import Product

SIGNATURE = "(text, text[])"


def served_view(address: str) -> exp.Table:
    """The view a port (`hr.overtime.fact_overtime`) is served as: `"hr"."fact_overtime"`."""
    domain, _, port = address.split(".")
    return exp.table_(port, db=domain, quoted=True)


def function_name(domain: str, metric: str) -> str:
    return f"{quote(domain)}.{quote(metric)}"


def metric_functions(cursor: Any, product: Product, reader: str) -> None:
    """Create (or replace) the function of each of the product's metrics, drop those of metrics it
    no longer declares, and record which are served. Runs inside the caller's transaction."""
    address = product.product_address
    cursor.execute("SELECT function_name FROM mesh.served_metrics WHERE product = %s", (address,))
    current = {function_name(product.domain, m.name) for m in product.metrics}
    for (old,) in cursor.fetchall():
        if old not in current:
            cursor.execute(f"DROP FUNCTION IF EXISTS {old}{SIGNATURE}")
    cursor.execute("DELETE FROM mesh.served_metrics WHERE product = %s", (address,))
    catalogue = catalogue_of(product)
    for metric in product.metrics:
        name = function_name(product.domain, metric.name)
        cursor.execute(f"DROP FUNCTION IF EXISTS {name}{SIGNATURE}")  # its columns may have changed
        function, body = _function(name, product, metric, catalogue)
        cursor.execute(function)
        cursor.execute(f"ALTER FUNCTION {name}{SIGNATURE} OWNER TO mesh_owner")
        cursor.execute(f"REVOKE ALL ON FUNCTION {name}{SIGNATURE} FROM PUBLIC")
        cursor.execute(f"GRANT EXECUTE ON FUNCTION {name}{SIGNATURE} TO {reader}")
        cursor.execute(f"COMMENT ON FUNCTION {name}{SIGNATURE} IS %s", (_comment(product, metric),))
        cursor.execute(
            "INSERT INTO mesh.served_metrics (address, product, function_name, body) VALUES (%s, %s, %s, %s)",
            (f"{address}.{metric.name}", address, name, body),
        )


def _function(name: str, product: Product, metric: Metric, catalogue: Catalogue) -> tuple[str, str]:
    """The function's definition, and the body of it that reads the most (every port joined)."""
    reference = f"{product.product_address}.{metric.name}"
    dimensions, grains = catalogue.grouping(reference)
    # A dimension of a joined port needs that port read: the function joins only the ports the call
    # groups by, so a person who may not read one still asks the metric by the others.
    ports = sorted({d.join.to for d in dimensions.values() if d.join is not None})
    bodies = {}
    for subset in _subsets(ports):
        body, _ = compile_function_body(
            reference,
            catalogue,
            served_view,
            exp.Parameter(this=exp.Literal.number(1)),
            exp.Parameter(this=exp.Literal.number(2)),
            frozenset(subset),
        )
        bodies[",".join(subset)] = body
    value_type = "bigint" if isinstance(metric, SimpleMetric) and metric.counts else f"numeric(38, {metric.decimals})"
    returned = ([(METRIC_TIME, "date")] if grains else []) + [
        (d.name, exp.DataType.build(duckdb_type(d.type), dialect="duckdb").sql("postgres")) for d in dimensions.values()
    ]
    casts = "".join(f"CAST(q.{quote(column)} AS {kind}), " for column, kind in returned)
    columns = ", ".join(f"{quote(column)} {kind}" for column, kind in [*returned, (metric.name, value_type)])
    allowed_grains = _array(grains)
    said = f"{reference} may be grouped by {', '.join(dimensions) or 'nothing'}"
    grains_said = f"{reference} has " + (f"the grains {', '.join(grains)}" if grains else "no time dimension")
    needs = "".join(
        f"  IF $2 && {_array([d.name for d in dimensions.values() if d.join and d.join.to == port])} THEN "
        f"joined := joined || '{port}'::text; END IF;\n"
        for port in ports
    )
    branches = "".join(
        f"    WHEN '{key}' THEN RETURN QUERY SELECT {casts}q.{quote(metric.name)} FROM ({body}) AS q;\n"
        for key, body in bodies.items()
    )
    return (
        f"""CREATE FUNCTION {name}(grain text DEFAULT NULL, VARIADIC by text[] DEFAULT ARRAY[]::text[])
RETURNS TABLE ({columns})
LANGUAGE plpgsql STABLE SECURITY INVOKER SET search_path = pg_catalog, pg_temp AS $metric$
#variable_conflict use_column
DECLARE
  joined text[] := ARRAY[]::text[];
BEGIN
  IF $1 IS NOT NULL AND NOT ($1 = ANY ({allowed_grains})) THEN
    RAISE EXCEPTION '{grains_said}, not %', $1 USING ERRCODE = '22023';
  END IF;
  IF NOT ($2 <@ {_array(list(dimensions))}) THEN
    RAISE EXCEPTION '{said}, not %', array_to_string($2, ', ') USING ERRCODE = '22023';
  END IF;
{needs}  CASE array_to_string(joined, ',')
{branches}  END CASE;
END
$metric$""",
        bodies[",".join(ports)],
    )


def _subsets(ports: list[str]) -> list[list[str]]:
    """Every subset of `ports`, each in sorted order (the order the function builds its key in)."""
    found: list[list[str]] = [[]]
    for port in ports:
        found += [[*subset, port] for subset in found]
    return found


def _array(values: list[str] | tuple[str, ...]) -> str:
    return "ARRAY[" + ", ".join(f"'{v}'" for v in values) + "]::text[]"


def _comment(product: Product, metric: Metric) -> str:
    owner = product.owner.name or f"team {product.owner.team}"
    return (
        f"{metric.label}: {metric.description.strip()} — {product.title} {product.version}, owned by {owner}. "
        f"Call it as {product.domain}.{metric.name}(grain, dimension, ...)."
    )
