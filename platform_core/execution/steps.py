"""One step of a product: its inputs bound under their plain names, its transform staged.

A step's SQL (or pandas function, run isolated: platform_core.execution.isolation) sees each
table it declares in `depends_on` under that name: raw files as ingested, steps of its product,
other products' ports. Where each comes from is the run's decision
(`platform_core.execution.products`); this module binds it and computes the step into its
staging table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import duckdb

from platform_core.descriptors.files import FileProblem, display_path, read_text
from platform_core.descriptors.names import quote
from platform_core.descriptors.spec import FileInput, Product, Step
from platform_core.descriptors.sql import parse_problem, undeclared_reads_problem
from platform_core.errors import PlatformError, Problem
from platform_core.execution.isolation import IsolationError, landlock_abi, run_isolated
from platform_core.execution.sources import read_input
from platform_core.quality.schema_check import cast_select

if TYPE_CHECKING:  # imported by the python steps that run, not by a location's load
    import pandas as pd

TableOf = Callable[[str], str]  # a dependency's name -> what to read it from, as SQL (a table, maybe AT a snapshot)


def bind_dependencies(con: duckdb.DuckDBPyConnection, product: Product, step: Step, table_of: TableOf) -> None:
    """Make each declared dependency visible under its plain name (a temporary view), and
    nothing else by that name. Raw files are read where they lie."""
    for name in step.depends_on:
        source = product.input(name)
        if isinstance(source, FileInput):
            con.register(name, read_input(con, product.data_root / source.path, source.format))
        else:
            con.execute(f"CREATE OR REPLACE TEMP VIEW {quote(name)} AS SELECT * FROM {table_of(name)}")


def not_ready(product: Product, step: Step, message: str) -> PlatformError:
    return PlatformError(
        [Problem(display_path(product.descriptor_path), step.name, message)], f"cannot run {product.address(step.name)}"
    )


def stage(
    con: duckdb.DuckDBPyConnection,
    product: Product,
    step: Step,
    table: str,
    unsandboxed: bool = False,
    temporary: bool = False,
) -> None:
    """Compute the step into `table` (quoted), its dependencies already bound; a temporary table
    (only this connection sees it, in memory or DuckDB's spill files) when `temporary`."""
    create = "CREATE OR REPLACE TEMP TABLE" if temporary else "CREATE OR REPLACE TABLE"
    if step.query is not None:
        con.execute(f"{create} {table} AS {query_select(product, step)}")
        return
    if step.engine == "sql":
        con.execute(f"{create} {table} AS {read_sql(product, step)}")
        return
    frame = run_transform(con, product, step, unsandboxed)
    con.register("step_output", frame)
    try:
        con.execute(f"{create} {table} AS {cast_select('step_output', list(frame.columns), step.columns)}")
    finally:
        con.unregister("step_output")


def query_select(product: Product, step: Step) -> str:
    """A `query:` step's SELECT, compiled from the metrics it asks (platform_core.descriptors.metric_sql);
    the metrics' ports are the step's dependencies, bound as views of their names."""
    # the metric compiler (and sqlglot) only for a query step: a code location loads without them
    from platform_core.descriptors.metric_checks import query_sql
    from platform_core.descriptors.metric_sql import ExpressionError, MetricError

    try:
        return query_sql(product, step).sql
    except (MetricError, ExpressionError) as error:
        raise PlatformError([Problem(display_path(product.descriptor_path), step.name, str(error))]) from None


def read_sql(product: Product, step: Step) -> str:
    path = product.directory / str(step.sql)
    try:
        sql = read_text(path)
    except FileProblem as error:
        raise PlatformError([Problem(display_path(path), step.name, str(error))]) from None
    # the file may have changed since the descriptor loaded
    problem = parse_problem(sql) or undeclared_reads_problem(sql, step.depends_on)
    if problem:
        raise PlatformError([Problem(display_path(path), step.name, problem)])
    return sql.strip().rstrip(";")


def run_transform(con: duckdb.DuckDBPyConnection, product: Product, step: Step, unsandboxed: bool) -> pd.DataFrame:
    """The step's pandas function, called in a process of its own with only its declared inputs
    (platform_core.execution.isolation): sandboxed with Landlock, or refused where the kernel has
    none, unless the platform team allowed the domain unsandboxed Python (`unsandboxed`)."""
    file_name, function = str(step.python).split(":")
    sandboxed = landlock_abi() >= 1
    if not sandboxed and not unsandboxed:
        raise not_ready(
            product,
            step,
            "pandas steps run sandboxed with Linux's Landlock, which this machine's kernel does not offer; "
            f"the platform team may allow unsandboxed Python for domain {product.domain} "
            f"(MESH_UNSANDBOXED_PYTHON={product.domain})",
        )
    inputs = {name: con.sql(f"SELECT * FROM {quote(name)}").df() for name in step.depends_on}
    try:
        return run_isolated(
            product.directory / file_name, function, inputs, readable=[product.directory], sandboxed=sandboxed
        )
    except IsolationError as error:
        raise PlatformError([Problem(display_path(product.directory / file_name), step.name, str(error))]) from None
