"""Write, audit, publish: how one step of a product is materialized, without Dagster.

The asset factory wraps `run_step` in a thin Dagster adapter; tests call it directly.
A step is computed into a staging table, audited against its contract, and only then
promoted (and, for an output port, published as a new snapshot). A blocking failure
leaves the live table and the published snapshot exactly as they were.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd

from platform_core.errors import PlatformError, Problem
from platform_core.descriptors.loader import display_path
from platform_core.descriptors.names import qualified, quote
from platform_core.quality.results import RuleResult
from platform_core.quality.schema_check import cast_select, schema_result
from platform_core.quality.sql_executor import run_sql_rules
from platform_core.quality.pandera_executor import run_pandera_rules
from platform_core.descriptors.spec import FileInput, Port, PortInput, Product, Step
from platform_core.descriptors.sql import parse_problem
from platform_core.storage.warehouse import Snapshot, Warehouse, staging_name


def read_input(con: duckdb.DuckDBPyConnection, path: Path, file_format: str) -> duckdb.DuckDBPyRelation:
    """A raw file as ingested, plus the lineage columns every bronze row carries.

    CSV columns stay text, so bronze never loses a malformed value; `source_file`,
    `source_row` (1-based data row, in file order) and `ingested_at` (UTC) let any later
    row be traced back to its line of the file.
    """
    if file_format == "csv":
        relation = con.read_csv(str(path), header=True, all_varchar=True, filename=True)
    else:
        relation = con.read_parquet(str(path), filename=True)
    return relation.project(
        "* EXCLUDE (filename), parse_filename(filename) AS source_file, "
        "row_number() OVER () AS source_row, current_timestamp::TIMESTAMP AS ingested_at"
    )


@dataclass(frozen=True)
class StepOutcome:
    table: str
    results: tuple[RuleResult, ...]
    row_count: int
    snapshot: Snapshot | None = None  # the new published version, for a port that passed its audit

    @property
    def blocking_failures(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if r.blocking)


def run_step(
    warehouse: Warehouse, product: Product, step: Step, *, now: datetime | None = None, run_id: str | None = None,
) -> StepOutcome:
    now = now or datetime.now(timezone.utc)
    schema = product.name
    staging = qualified(schema, staging_name(step.name))
    with warehouse.connect(product.domain) as con:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
        bind_dependencies(con, warehouse, product, step)
        if step.engine == "sql":
            con.execute(f"CREATE OR REPLACE TABLE {staging} AS {read_sql(product, step)}")
        else:
            stage_dataframe(con, staging, step, run_transform(con, product, step))
        results = audit(con, staging, product, step, now)
        row_count = con.execute(f"SELECT count(*) FROM {staging}").fetchall()[0][0]
        table = f"{schema}.{step.name}"
        if any(r.blocking for r in results):  # the live table and the published port stay as they were
            con.execute(f"DROP TABLE {staging}")
            return StepOutcome(table, results, row_count)
        snapshot = None
        if isinstance(step, Port):
            snapshot = warehouse.publish(con, f"SELECT * FROM {staging}", product.address(step.name),
                                         product.version, run_id)
        warehouse.promote(con, schema, step.name)
    return StepOutcome(table, results, row_count, snapshot)


def bind_dependencies(con: duckdb.DuckDBPyConnection, warehouse: Warehouse, product: Product, step: Step) -> None:
    """Make each declared dependency visible under its plain name, and nothing else by that name.

    Raw files are read where they lie; other products' ports from their current published
    snapshot (never from the producer's compute database, which its own runs may hold);
    steps of this product from the live tables of its schema.
    """
    domain_dir = product.directory.parent.parent
    for name in step.depends_on:
        source = product.input(name)
        if isinstance(source, FileInput):
            con.register(name, read_input(con, domain_dir / source.path, source.format))  # a temp view
        elif isinstance(source, PortInput):
            try:
                con.register(name, con.read_parquet(str(warehouse.current_file(source.address))))
            except LookupError as error:
                raise _not_ready(product, step, str(error)) from None
        elif not _table_exists(con, product.name, name):
            raise _not_ready(product, step, f"upstream {product.address(name)} has not been materialized yet")
        else:
            con.execute(f"CREATE OR REPLACE TEMP VIEW {quote(name)} AS SELECT * FROM {qualified(product.name, name)}")


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    query = "SELECT count(*) FROM duckdb_tables() WHERE schema_name = $s AND table_name = $t"
    return con.execute(query, {"s": schema, "t": table}).fetchall()[0][0] > 0


def _not_ready(product: Product, step: Step, message: str) -> PlatformError:
    return PlatformError([Problem(display_path(product.directory / "product.yaml"), step.name, message)],
                         f"cannot run {product.address(step.name)}")


def read_sql(product: Product, step: Step) -> str:
    sql = (product.directory / str(step.sql)).read_text(encoding="utf-8")
    problem = parse_problem(sql)  # the file may have changed since the descriptor loaded
    if problem:
        raise PlatformError([Problem(display_path(product.directory / str(step.sql)), step.name, problem)])
    return sql.strip().rstrip(";")


def load_transform(product: Product, reference: str) -> Callable[[dict[str, pd.DataFrame]], pd.DataFrame]:
    file_name, function = reference.split(":")
    path = product.directory / file_name
    module_name = f"mesh_transform__{product.domain}__{product.name}__{Path(file_name).stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, function)


def run_transform(con: duckdb.DuckDBPyConnection, product: Product, step: Step) -> pd.DataFrame:
    transform = load_transform(product, str(step.python))
    inputs = {name: con.sql(f"SELECT * FROM {quote(name)}").df() for name in step.depends_on}
    result = transform(inputs)
    if not isinstance(result, pd.DataFrame):
        raise TypeError(f"{step.python} returned {type(result).__name__}, expected a pandas DataFrame")
    return result


def stage_dataframe(con: duckdb.DuckDBPyConnection, staging: str, step: Step, df: pd.DataFrame) -> None:
    con.register("step_output", df)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {staging} AS {cast_select('step_output', list(df.columns), step.columns)}")
    finally:
        con.unregister("step_output")


def audit(con: duckdb.DuckDBPyConnection, staging: str, product: Product, step: Step, now: datetime) -> tuple[RuleResult, ...]:
    """The schema check, then every rule on the staged data, with the step's own executor."""
    schema = schema_result(con, staging, step.columns)
    produced = {name for (name,) in con.execute(f"SELECT column_name FROM (DESCRIBE {staging})").fetchall()}
    runnable = tuple(r for r in step.rules if set(r.columns_used) <= produced)
    missing = tuple(
        RuleResult(r.check_name, r.severity, False, 0, {"error": "column not produced: " +
                                                         ", ".join(sorted(set(r.columns_used) - produced))})
        for r in step.rules if r not in runnable
    )
    if step.engine == "sql":
        results = run_sql_rules(con, staging, runnable, lambda port: qualified(product.name, port), now)
    else:
        def ref_values(port: str, column: str) -> list:
            rows = con.execute(f"SELECT DISTINCT {quote(column)} FROM {qualified(product.name, port)}").fetchall()
            return [value for (value,) in rows]

        staged = con.sql(f"SELECT * FROM {staging}").df()
        types = {name: kind for name, kind, *_ in con.execute(f"DESCRIBE {staging}").fetchall()}
        results = run_pandera_rules(staged, runnable, ref_values, now, types)
    return (schema, *results, *missing)
