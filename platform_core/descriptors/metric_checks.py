"""A product's metrics, judged when its descriptor loads: each one compiles, binds to its ports'
declared columns, and is governed like the ports it reads.

- Its expressions are ones every engine reads alike (platform_core.descriptors.metric_sql).
- It compiles at every grain and with every dimension it declares, and the SQL binds to the
  ports' declared column types (an empty table per port: no data is read).
- A metric over personal data aggregates it: no dimension is a personal column, and `min`/`max`
  (which return one person's value) read none.
- A metric of another product is read through that product's ports: each port it reads is an
  input of this product, so the producer's grants and purposes decide, as for any input.
"""

from __future__ import annotations

from sqlglot import exp

from platform_core.descriptors.addresses import AddressError
from platform_core.descriptors.column_types import duckdb_type
from platform_core.descriptors.mesh_index import MeshIndex
from platform_core.descriptors.metric_sql import (
    Catalogue,
    Compiled,
    Dialect,
    ExpressionError,
    Leaf,
    MetricError,
    Offering,
    Question,
    compile_question,
    expression_columns,
    offering_of,
    parse_expression,
)
from platform_core.descriptors.metrics import SimpleMetric
from platform_core.descriptors.names import quote
from platform_core.descriptors.spec import Product, Step
from platform_core.descriptors.sql import scratch_cursor
from platform_core.errors import ProblemCollector


def metric_problems(found: ProblemCollector, where: str, product: Product) -> None:
    """Add a problem, with its field, for each metric of `product` that cannot be answered."""
    catalogue = catalogue_of(product)
    home = catalogue.home
    ports = {p.name for p in product.output_ports}
    seen: set[str] = set()
    for i, metric in enumerate(product.metrics):
        field = f"metrics[{i}]"
        if metric.name in seen:
            found.add(where, f"{field}.name", f"duplicate metric name {metric.name!r}")
            continue
        seen.add(metric.name)
        if metric.name in ports:
            found.add(
                where,
                f"{field}.name",
                f"{metric.name!r} names a port too: the serving database serves both in the domain's schema; "
                "rename the metric",
            )
            continue
        try:
            if isinstance(metric, SimpleMetric) and not _simple_problems(found, where, field, Leaf(home, metric)):
                continue  # said with its field; compiling would say it again
            leaves = catalogue.leaves(metric.name)
            for leaf in leaves:
                if leaf.offering.product != product.product_address:
                    _input_problem(found, where, field, product, leaf)
            _compiles(catalogue, metric.name)
        except (MetricError, ExpressionError) as error:
            found.add(where, field, str(error))


def catalogue_of(product: Product) -> Catalogue:
    """The product's metrics, and those of the products it names, as their contracts show them."""
    home = offering_of(product.product_address, product.output_ports, product.metrics)
    return Catalogue(home, lambda address: _producer(product, address))


def query_sql(product: Product, step: Step, dialect: Dialect = "duckdb") -> Compiled:
    """The SELECT of a `query:` step, reading each port through the dependency of the step that
    holds it: a port of the product itself, or a port input."""
    assert step.query is not None
    inputs = {i.port_address: i.name for i in product.port_inputs if i.name in step.depends_on}

    def table(address: str) -> exp.Expr:
        owner, port = address.rsplit(".", 1)
        name = port if owner == product.product_address and port in step.depends_on else inputs.get(address)
        if name is None:
            raise MetricError(
                f"the metrics read {address}: "
                + (
                    f"list {port} in depends_on"
                    if owner == product.product_address
                    else f"declare it as an input (kind: port, address: {address}) and list it in depends_on"
                )
            )
        return exp.to_table(name, quoted=True)

    query = step.query
    return compile_question(
        Question(query.metrics, query.by, query.grain, query.where), catalogue_of(product), table, dialect
    )


def query_problem(product: Product, step: Step) -> str | None:
    """Why a `query:` step cannot be answered, or does not declare the columns it answers with, or None."""
    try:
        compiled = query_sql(product, step)
    except (MetricError, ExpressionError) as error:
        return str(error)
    declared = tuple(c.name for c in step.columns)
    if declared != compiled.columns:
        return (
            f"its columns must be the answer's, in order: {', '.join(compiled.columns)} "
            f"(declared: {', '.join(declared)})"
        )
    return None


def _producer(product: Product, address: str) -> Offering:
    """Another product's ports and metrics, as its contract shows them to consumers."""
    mesh = product.mesh
    if not isinstance(mesh, MeshIndex):
        raise MetricError(f"{address}: the product was loaded without its mesh")
    try:
        contract = mesh.contract(address)
    except AddressError as error:
        raise MetricError(str(error)) from None
    ports = [p for p in contract.ports.values() if not isinstance(p, str)]
    return offering_of(address, ports, contract.metrics.values())


def _simple_problems(found: ProblemCollector, where: str, field: str, leaf: Leaf) -> bool:
    """Add the problems of one simple metric's own fields; whether it is sound enough to compile."""
    before = len(found.problems)
    metric = leaf.metric
    if metric.port not in leaf.offering.ports:
        found.add(
            where,
            f"{field}.port",
            f"no output port {metric.port!r}; ports: {', '.join(sorted(leaf.offering.ports))}",
        )
        return False
    port = leaf.port
    for part in ("expression", "filter"):
        text = getattr(metric, part)
        if text is None:
            continue
        try:
            tree = parse_expression(text, part)
        except ExpressionError as error:
            found.add(where, f"{field}.{part}", str(error))
            return False
        unknown = [c for c in expression_columns(tree) if c not in {col.name for col in port.columns}]
        if unknown:
            found.add(where, f"{field}.{part}", f"names {', '.join(unknown)}, not a column of port {port.name}")
            return False
        personal = [c.name for c in port.personal_columns if c.name in expression_columns(tree)]
        if part == "expression" and personal and metric.aggregation in ("min", "max"):
            found.add(
                where,
                f"{field}.aggregation",
                f"{metric.aggregation} of personal column {', '.join(personal)} shows one person's value; a metric "
                "over personal data aggregates it (count, count_distinct, sum, avg)",
            )
    if metric.time is not None:
        time_type = leaf.time_type() or ""
        if not (time_type == "date" or time_type.startswith("timestamp")):
            found.add(
                where, f"{field}.time", f"{metric.time!r} is {time_type}: the time dimension is a date or timestamp"
            )
    for j, written in enumerate(metric.dimensions):
        port_name, _, column = written.rpartition(".")
        owner = leaf.offering.ports.get(port_name or port.name)
        declared = next((c for c in owner.columns if c.name == column), None) if owner else None
        if owner is not None and declared is not None and owner.column_classification(declared) == "personal":
            found.add(
                where,
                f"{field}.dimensions[{j}]",
                f"{written} is personal: grouped by it, the metric would show each person's figure",
            )
    names = [w.rpartition(".")[2] for w in metric.dimensions]
    if len(set(names)) != len(names) or "metric_time" in names:
        found.add(where, f"{field}.dimensions", "two dimensions share a name (or one is named metric_time)")
    return len(found.problems) == before


def _input_problem(found: ProblemCollector, where: str, field: str, product: Product, leaf: Leaf) -> None:
    if leaf.address not in {i.port_address for i in product.port_inputs}:
        found.add(
            where,
            field,
            f"uses {leaf.key}, which reads {leaf.address}: declare that port as an input (kind: port, "
            f"address: {leaf.address}, with its purpose) so its producer's grants and purposes apply",
        )


def _compiles(catalogue: Catalogue, name: str) -> None:
    """Compile the metric with every dimension and its finest grain, and bind the SQL against
    empty tables of the ports' declared columns."""
    dimensions, grains = catalogue.grouping(name)
    question = Question((name,), tuple(dimensions), grains[0] if grains else None)
    tables: dict[str, str] = {}

    def table(address: str) -> exp.Expr:
        tables.setdefault(address, f"metric_check_{len(tables)}")
        return exp.to_table(tables[address])

    compiled = compile_question(question, catalogue, table, "duckdb")
    compile_question(question, catalogue, lambda a: exp.to_table(a.replace(".", "_")), "postgres")
    with scratch_cursor() as con:
        for address, name_ in tables.items():
            product, port_name = address.rsplit(".", 1)
            offering = catalogue.offering(product)
            port = offering.ports[port_name]
            columns = ", ".join(f"{quote(c.name)} {duckdb_type(c.type)}" for c in port.columns)
            con.execute(f"CREATE OR REPLACE TEMP TABLE {quote(name_)} ({columns})")
        try:
            con.execute(f"SELECT * FROM ({compiled.sql}) LIMIT 0").fetchall()
        except Exception as error:  # noqa: BLE001 - any engine error is the metric's
            raise MetricError(f"does not fit its ports' columns: {str(error).splitlines()[0]}") from None
