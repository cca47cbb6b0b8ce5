"""One step of a product: its inputs bound under their plain names, its transform staged.

A step's SQL (or pandas function, run isolated: platform_core.execution.isolation) sees each
table it declares in `depends_on` under that name: raw files as ingested, steps of its product,
other products' ports. Where each comes from is the run's decision
(`platform_core.execution.products`); this module binds it and computes the step into its
staging table.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from platform_core.descriptors.files import FileProblem, display_path, read_text
from platform_core.descriptors.names import literal, quote
from platform_core.descriptors.rules import Relationships
from platform_core.descriptors.spec import FileInput, Product, Step
from platform_core.descriptors.sql import parse_problem, undeclared_reads_problem
from platform_core.errors import PlatformError, Problem
from platform_core.execution.isolation import IsolationError, Sandbox, landlock_abi, write_parquet
from platform_core.execution.processes import owned_folder
from platform_core.execution.sources import read_input
from platform_core.quality.results import RuleResult, error_text
from platform_core.quality.schema_check import cast_select, cast_types
from platform_core.quality.sql_executor import RefResolver

SCRATCH_PREFIX = "mesh-steps-"  # a run's scratch folder for its pandas steps: mesh-steps-<process stamp>-<random>
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
    sandboxes: Sandboxes,
    audit: AuditContext,
    temporary: bool = False,
) -> Transform | None:
    """Compute the step into `table` (quoted), its dependencies already bound; a temporary table
    (only this connection sees it, in memory or DuckDB's spill files) when `temporary`. A SQL step
    is computed now (None). A pandas step is handed to its process, which also runs its rules, as
    `audit` says: the `Transform` returned stages its result when the run needs it."""
    create = "CREATE OR REPLACE TEMP TABLE" if temporary else "CREATE OR REPLACE TABLE"
    if step.query is not None:
        con.execute(f"{create} {table} AS {query_select(product, step)}")
        return None
    if step.engine == "sql":
        con.execute(f"{create} {table} AS {read_sql(product, step)}")
        return None
    return start_transform(con, product, step, sandboxes, audit, create, table)


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


class Sandboxes:
    """The processes a run's pandas steps run in (platform_core.execution.isolation), each started
    one pandas step ahead, so that its Python, pandas and DuckDB load while the run builds other
    steps. Each step gets a scratch folder of its own under the run's (`folder`), which the run's
    database may read and write: the inputs are written there, and the result read back, by
    DuckDB alone, without going through pandas in the run's process.

    Sandboxed with Landlock, or refused where the kernel has none, unless the platform team
    allowed the domain unsandboxed Python (`unsandboxed`)."""

    def __init__(self, product: Product, steps: Iterable[Step], unsandboxed: bool) -> None:
        self.product = product
        self.waiting = [step for step in steps if step.engine == "pandas"]
        self.sandboxed = landlock_abi() >= 1
        self.allowed = self.sandboxed or unsandboxed
        self.folder: Path | None = None
        if self.waiting:  # a killed run's folder held its steps' inputs: the next run removes it
            self.folder = owned_folder(Path(tempfile.gettempdir()), SCRATCH_PREFIX)
        self.started: dict[str, Sandbox] = {}
        self.taken: list[Sandbox] = []  # at work or done: stopped, if still at work, when the run ends
        self._start_next()

    def __enter__(self) -> Sandboxes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def take(self, step: Step) -> Sandbox:
        """The step's process, started if it was not; the next pandas step's starts meanwhile."""
        if not self.allowed:
            raise not_ready(
                self.product,
                step,
                "pandas steps run sandboxed with Linux's Landlock, which this machine's kernel does not offer; "
                f"the platform team may allow unsandboxed Python for domain {self.product.domain} "
                f"(MESH_UNSANDBOXED_PYTHON={self.product.domain})",
            )
        sandbox = self.started.pop(step.name, None) or self._start(step)
        self.taken.append(sandbox)
        self.waiting = [s for s in self.waiting if s.name != step.name]
        self._start_next()
        return sandbox

    def close(self) -> None:
        for sandbox in [*self.started.values(), *self.taken]:
            sandbox.close()
        self.started.clear()
        self.taken.clear()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)

    def _start_next(self) -> None:
        if self.allowed and self.waiting and not self.started:
            self.started[self.waiting[0].name] = self._start(self.waiting[0])

    def _start(self, step: Step) -> Sandbox:
        assert self.folder is not None, step.name  # made when the run has pandas steps
        folder = self.folder / step.name
        folder.mkdir(mode=0o700)
        return Sandbox(folder, readable=[self.product.directory], sandboxed=self.sandboxed)


@dataclass(frozen=True)
class AuditContext:
    """What a step's rules are run with: where a `relationships` rule's parent port is (`ref`),
    and the moment `max_age` rules measure from."""

    ref: RefResolver
    now: datetime


def start_transform(
    con: duckdb.DuckDBPyConnection,
    product: Product,
    step: Step,
    sandboxes: Sandboxes,
    audit: AuditContext,
    create: str,
    table: str,
) -> Transform:
    """Hand the step's pandas function to its process with only its declared inputs (and the
    parents of its `relationships` rules, which its code never sees), written now: the process
    computes the result and audits it while the run goes on."""
    file_name, function = str(step.python).split(":")
    sandbox = sandboxes.take(step)
    transform = Transform(con, product.directory / file_name, step, sandbox, create, table)
    try:
        for name in step.depends_on:
            write_parquet(con, f"SELECT * FROM {quote(name)}", sandbox.input_path(name))
        contract = {
            "types": cast_types(step.columns),
            "rules": [rule.model_dump(mode="json") for rule in step.rules],
            "references": references(con, step, sandbox, audit.ref),
            "now": audit.now.isoformat(),
        }
        sandbox.send(transform.module, function, step.depends_on, contract)
    except BaseException:
        transform.close()
        raise
    return transform


@dataclass
class Transform:
    """A pandas step at work in its process (`start_transform`)."""

    con: duckdb.DuckDBPyConnection
    module: Path  # the step's Python file
    step: Step
    sandbox: Sandbox
    create: str  # a CREATE TABLE statement's beginning, for `table`
    table: str

    def finish(self) -> list[RuleResult]:
        """Wait for the step's result and stage it, cast to the step's column types, into the
        table: the results of the step's rules, as its process audited what it handed back."""
        try:
            audited, checked = self.sandbox.answer()
            result = f"read_parquet({literal(str(audited))})"
            produced = [name for name, *_ in self.con.execute(f"DESCRIBE SELECT * FROM {result}").fetchall()]
            types = cast_types(self.step.columns)
            self.con.execute(f"{self.create} {self.table} AS {cast_select(result, produced, types)}")
            return checked
        except IsolationError as error:
            raise PlatformError([Problem(display_path(self.module), self.step.name, str(error))]) from None
        finally:
            self.close()

    def close(self) -> None:
        """Stop the step's process if it still works, and remove its files."""
        self.sandbox.close()
        shutil.rmtree(self.sandbox.folder, ignore_errors=True)


def references(
    con: duckdb.DuckDBPyConnection, step: Step, sandbox: Sandbox, ref: RefResolver
) -> dict[str, dict[str, str]]:
    """The values each `relationships` rule of the step looks up, written where the step's process
    reads them and its code cannot (`<port>.<column>` -> its file), or the error that stopped it."""
    found: dict[str, dict[str, str]] = {}
    for rule in step.rules:
        if isinstance(rule, Relationships) and f"{rule.to}.{rule.field}" not in found:
            path = sandbox.reference_path(len(found))
            try:
                write_parquet(con, f"SELECT DISTINCT {quote(rule.field)} FROM {ref(rule.to)}", path)
                found[f"{rule.to}.{rule.field}"] = {"file": str(path)}
            except Exception as error:  # noqa: BLE001 - the rule fails with it, as it would in this process
                found[f"{rule.to}.{rule.field}"] = {"error": error_text(error)}
    return found
