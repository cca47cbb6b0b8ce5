"""What a product reads of the ports it takes as inputs, column by column, from its steps.

A consumer relies on every column of a port its steps touch: those it selects, and those it only
filters, joins, groups or orders on (platform_core.descriptors.lineage: `columns_read`), those a
`query:` step's metrics read (their compiled SQL is parsed the same way), the parent column of a
`relationships` rule into the port, and every column it `expects` of the port. A pandas step
receives the whole table, so it reads every column; so does SQL that sqlglot cannot follow. This
is what judges a producer's change by use (platform_core.governance.changes) and what a consumer
run records as read (platform_core.storage.usage).
"""

from __future__ import annotations

from platform_core.descriptors.addresses import AddressError
from platform_core.descriptors.files import FileProblem, read_text
from platform_core.descriptors.lineage import columns_read
from platform_core.descriptors.mesh_index import MeshIndex
from platform_core.descriptors.rules import Relationships
from platform_core.descriptors.spec import FileInput, Port, PortInput, Product, Step


def step_sql(product: Product, step: Step) -> str:
    """A step's SELECT: its file, or what its metric question compiles to ("" for a pandas step, or
    SQL that cannot be read or compiled: the loader reports those)."""
    if step.query is not None:
        # the metric compiler (and sqlglot) only for a product that has a query step
        from platform_core.descriptors.metric_checks import query_sql
        from platform_core.descriptors.metric_sql import ExpressionError, MetricError

        try:
            return query_sql(product, step).sql
        except (MetricError, ExpressionError):
            return ""
    if step.sql is None:
        return ""
    try:
        return read_text(product.directory / step.sql)
    except FileProblem:
        return ""


def input_port(product: Product, source: PortInput) -> Port | None:
    """The producer's port a port input names, or None where it does not resolve (the loader says why)."""
    try:
        return MeshIndex.of(product).resolve(source.address).port
    except AddressError:
        return None


def dependency_columns(product: Product, dependency: str) -> list[str]:
    """The columns a step sees of one of its dependencies (none known for a raw file)."""
    source = product.input(dependency)
    if isinstance(source, PortInput):
        port = input_port(product, source)
        return [c.name for c in port.columns] if port is not None else []
    if isinstance(source, FileInput):
        return []
    return [c.name for c in product.step(dependency).columns]


def input_columns(product: Product, steps: set[str] | None = None) -> dict[str, frozenset[str]]:
    """For each port input the named steps (default: all) read, the columns of it they read."""
    found: dict[str, set[str]] = {}
    for _, step in product.steps:
        if steps is not None and step.name not in steps:
            continue
        inputs = [d for d in step.depends_on if isinstance(product.input(d), PortInput)]
        if inputs:
            schema = {d: dependency_columns(product, d) for d in step.depends_on}
            sql = step_sql(product, step) if step.engine == "sql" else ""
            read = columns_read(sql, schema) if sql else None
            for name in inputs:
                whole = frozenset(schema[name])
                found.setdefault(name, set()).update(whole if read is None else read.get(name, frozenset()))
        for rule in step.quality:
            if isinstance(rule, Relationships) and isinstance(product.input(rule.to), PortInput):
                found.setdefault(rule.to, set()).add(rule.field)
    for source in product.port_inputs:
        if source.expects is not None and (steps is None or source.name in found):
            found.setdefault(source.name, set()).update(source.expects.columns_used)
    return {name: frozenset(columns) for name, columns in found.items()}
