"""Write, audit, publish, per product: one run of a product's steps, without Dagster.

The steps a run builds are staged and audited in dependency order, each reading what earlier
steps of the run staged. A pandas step works in its own process meanwhile: it is handed its
inputs as soon as they are staged, and its result is taken in when a step reads it. Only when
every one of them passed its blocking checks are the product's ports published, together, in
one commit of the lake, and the staged tables promoted in the compute database. If any step
fails, nothing of the product changes: consumers keep reading the previous version of every port.

Other products' ports are read from the lake at one snapshot for the whole run (the one it
started from), except ports this same run has published since, read as it published them.
"""

from __future__ import annotations

import traceback
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from platform_core.descriptors.contract import contract_document, contract_fingerprint
from platform_core.descriptors.mesh_index import MeshIndex
from platform_core.descriptors.names import qualified, quote
from platform_core.descriptors.reads import input_columns
from platform_core.descriptors.spec import FileInput, Port, PortInput, Product, Step, reading_purpose
from platform_core.errors import PlatformError
from platform_core.execution.masking_key import KeyHandover
from platform_core.execution.sources import explain, explain_conversion
from platform_core.execution.steps import AuditContext, Sandboxes, Transform, bind_dependencies, not_ready, stage
from platform_core.governance.access import KEY_TABLE, MASKED_SUFFIX, masked_select, may_read, reads_masked
from platform_core.quality.audit import audit, masked_columns
from platform_core.quality.expectations import expectation_results
from platform_core.quality.results import RuleResult
from platform_core.storage.compute import drop_staging, leftover_staging, promote, staging_name, table_exists
from platform_core.storage.lake import Lake, NotPublished, Publication, lake_table
from platform_core.storage.sandbox import close_external_access
from platform_core.storage.usage import Read, UsageLog

INPUT_PREFIX = "__input_"  # the temporary copy of a port input
RUN_TABLE_PREFIX = "__run_"  # the temporary table of an ephemeral step or a port: `__run_<product>__<step>`
LIVE_PREFIX = "__live_"  # the view of a port as last published: `__live_<product>__<port>`
# pandas steps at work beside the run's DuckDB at once: one core for pandas, the others for DuckDB,
# and one pandas frame in memory beside what DuckDB holds within the run's budget
PANDAS_STEPS_AT_ONCE = 1
NO_KEY = (
    "no masking key: the port has personal columns, which consumers without a grant read masked, and "
    "the platform publishes them masked or not at all; set MESH_MASKING_KEY or MESH_MASKING_KEY_FILE "
    "(scripts/bootstrap.sh creates a key file)"
)
# Order-free checksum of a table's rows (`FROM <table> AS t`): any reader can recompute it.
CHECKSUM = "bit_xor(hash(t))"


@dataclass(frozen=True)
class StepOutcome:
    layer: str
    step: Step
    results: tuple[RuleResult, ...] = ()
    row_count: int = 0
    error: str | None = None  # why the step could not be computed or audited
    detail: str | None = None  # the error's traceback, for the run log
    audit_only: bool = False  # checks run on the live table; nothing was built
    helper: bool = False  # an ephemeral step built again for a step the run selected, not itself selected
    checksum: str | None = None  # of a port's rows as published: CHECKSUM over the lake table gives the same

    @property
    def blocking_failures(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if r.blocking)

    @property
    def failed(self) -> bool:
        return self.error is not None or bool(self.blocking_failures)


@dataclass(frozen=True)
class ProductOutcome:
    product: Product
    steps: tuple[StepOutcome, ...]
    input_snapshot: int
    built: bool = False  # the steps built passed, and their ports were published
    publication: Publication | None = None  # None when nothing was published (a failure, or no port built)
    promotion_error: str | None = None  # published, but the compute database kept its previous tables
    reads: tuple[Read, ...] = ()  # the other products' ports the run read, and which of their columns

    @property
    def failed(self) -> tuple[StepOutcome, ...]:
        """Steps built that failed: the reason nothing of the product was published."""
        return tuple(s for s in self.steps if s.failed and not s.audit_only)

    @property
    def unchecked(self) -> tuple[StepOutcome, ...]:
        """Steps whose checks alone were asked for and could not run."""
        return tuple(s for s in self.steps if s.audit_only and s.error)

    def summary(self, outcomes: tuple[StepOutcome, ...]) -> str:
        """One line per step of `outcomes`: its error, or the blocking checks it failed."""
        lines = []
        for outcome in outcomes:
            address = self.product.address(outcome.step.name)
            if outcome.error:
                lines.append(f"{address}: {outcome.error}")
            else:
                names = ", ".join(r.named for r in outcome.blocking_failures)
                lines.append(f"{address}: blocking checks failed ({names})")
                lines += [
                    f"{address}: not published, {r.observed['expected_by']} expects otherwise "
                    f"({'; '.join(r.observed.get('problems') or [r.check_name])}); ask {r.observed['ask']}"
                    for r in outcome.blocking_failures
                    if "expected_by" in r.observed
                ]
        return "\n".join(lines)


def run_product(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    product: Product,
    *,
    build: Collection[str],
    audit_only: Collection[str] = (),
    input_snapshot: int,
    run_id: str | None = None,
    now: datetime | None = None,
    masking_key: str | None = None,
    unsandboxed_python: bool = False,
    usage: UsageLog | None = None,
    sandboxes: Sandboxes | None = None,
) -> ProductOutcome:
    """Build the steps named in `build` and audit the live tables of those in `audit_only`.

    `con` is the domain's compute database with the lake attached (`Lake.attach`). From here on
    SQL on it reaches only the product's declared source files, its inputs from other products
    (read here, at the run's snapshot, masked where it has no grant for personal data) and its
    own domain's part of the lake. Ports with personal columns are also published masked with
    `masking_key`; without one, the product is not published at all. Pandas steps run sandboxed
    (platform_core.execution.isolation), or without where `unsandboxed_python` allows it, in the
    processes of `sandboxes` when the caller started them earlier (`start_sandboxes`). What the
    run read of other products' ports is recorded in `usage`, whether the run succeeds or not.
    """
    now = now or datetime.now(UTC)
    schema = product.name
    personal = [
        (layer, step)
        for layer, step in product.steps
        if step.name in build and isinstance(step, Port) and step.personal_columns
    ]
    if personal and not masking_key:
        return ProductOutcome(
            product, tuple(StepOutcome(layer, step, error=NO_KEY) for layer, step in personal), input_snapshot
        )
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
    drop_staging(con, schema, leftover_staging(con, schema))  # a dead run's, if any: this run is the writer now
    targets = set(build) | set(audit_only)
    rebuilt, order = run_plan(product, build, audit_only)
    sandboxes = sandboxes or Sandboxes(product, built_steps(order, build, rebuilt), unsandboxed_python)
    run = _Run(con, lake, product, input_snapshot, run_id, sandboxes)
    key = KeyHandover(masking_key) if masking_key else None
    try:
        # Other products' ports are copied in first: then the database is closed to every file but the
        # product's declared sources, its own domain's folder in the lake (where it publishes) and
        # the run's pandas steps' scratch folders.
        run.read_port_inputs(port_inputs_read(product, targets))
        if usage is not None and run.reads:
            usage.record(run.reads)
        close_external_access(
            con,
            files=[(product.data_root / i.path).resolve() for i in product.inputs if isinstance(i, FileInput)],
            directories=[
                *lake.folders_of(product.domain),
                *([str(sandboxes.folder)] if sandboxes.folder else []),
                *(key.directories if key else []),
            ],
        )
        run.readers.update(d for _, step in order for d in step.depends_on if d in product.ephemeral_steps)
        outcomes = run.steps(order, now, Selection(frozenset(build), frozenset(rebuilt), frozenset(audit_only)))
        built = [o.step.name for o in outcomes if not o.audit_only and not o.helper]
        kept = [name for name in built if not run.in_run_only(name)]
        reads = tuple(run.reads)
        if any(o.failed for o in outcomes if not o.audit_only):
            drop_staging(con, schema, kept)
            return ProductOutcome(product, tuple(outcomes), input_snapshot, reads=reads)
        publication = publish(con, lake, product, {name: run.staging_of(name) for name in built}, run_id, key)
    finally:
        run.release_all()
        sandboxes.close()
        if key:
            key.close()
    try:  # a port's or an ephemeral step's table of an earlier version goes with the promotion: neither is kept
        promote(con, schema, kept, dropped=[name for name in built if run.in_run_only(name)])
    except duckdb.Error as error:  # the lake has the new version; the next run rebuilds the compute tables
        failure = str(error).splitlines()[0]
        return ProductOutcome(product, tuple(outcomes), input_snapshot, True, publication, failure, reads)
    return ProductOutcome(product, tuple(outcomes), input_snapshot, True, publication, reads=reads)


def run_plan(
    product: Product, build: Collection[str], audit_only: Collection[str]
) -> tuple[set[str], list[tuple[str, Step]]]:
    """The steps a run builds again for itself (`rebuilt`), and every step it builds or audits, in order."""
    # built again, for the run only: what the built steps read, and ephemeral steps whose checks alone
    # were asked (a kept step's checks read its live table, and need nothing built)
    rebuilt = ephemeral_needs(product, set(build) | (set(audit_only) & product.ephemeral_steps)) - set(build)
    return rebuilt, dependency_order(product, set(build) | set(audit_only) | rebuilt)


def start_sandboxes(
    product: Product, build: Collection[str], audit_only: Collection[str], unsandboxed_python: bool
) -> Sandboxes:
    """The processes of the pandas steps a run builds, the first one started now: started before
    the run opens its database, it has loaded Python, pandas and DuckDB when its step comes."""
    rebuilt, order = run_plan(product, build, audit_only)
    return Sandboxes(product, built_steps(order, build, rebuilt), unsandboxed_python)


def built_steps(order: list[tuple[str, Step]], build: Collection[str], rebuilt: Collection[str]) -> list[Step]:
    """The steps of a run's plan that it builds, selected or built again for it, in order."""
    return [step for _, step in order if step.name in build or step.name in rebuilt]


def ephemeral_needs(product: Product, names: set[str]) -> set[str]:
    """The ephemeral steps a run of the named steps builds: the named ones (they have no table to
    audit), and every ephemeral step they read, through other ephemeral steps."""
    ephemeral = product.ephemeral_steps
    needed = names & ephemeral
    todo = list(names)
    while todo:
        for dependency in product.step(todo.pop()).depends_on:
            if dependency in ephemeral and dependency not in needed:
                needed.add(dependency)
                todo.append(dependency)
    return needed


def port_inputs_read(product: Product, steps: set[str]) -> set[str]:
    """The port inputs the named steps read: as tables, and as `relationships` rules' parents."""
    return {d for name in steps for d in product.reads(product.step(name)) if isinstance(product.input(d), PortInput)}


def publish(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    product: Product,
    built: dict[str, str],
    run_id: str | None,
    key: KeyHandover | None = None,
) -> Publication | None:
    """Commit the ports among the steps `built` (each step's name -> the table the run staged it
    in) to the lake, all in one snapshot: each as it is, and those with personal columns masked too.

    The key lives in a temporary table only while the commit runs: no domain SQL runs then, so
    none can read it (and reverse the hashes by hashing guesses)."""
    schema = product.name
    ports: dict[str, str] = {}
    for name in built:
        step = product.step(name)
        if isinstance(step, Port):
            ports[name] = f"SELECT * FROM {built[name]}"
            if step.personal_columns:
                ports[name + MASKED_SUFFIX] = masked_select(step, built[name])
    if not ports:
        return None
    document = contract_document(product)
    if key:
        key.load(con, KEY_TABLE)
    try:
        return lake.publish(
            con,
            f"{product.domain}.{product.name}",
            ports,
            version=product.version,
            contract=contract_fingerprint(document),
            contract_document=document,
            run_id=run_id,
        )
    except BaseException:
        drop_staging(con, schema, built)
        raise
    finally:
        con.execute(f"DROP TABLE IF EXISTS temp.{quote(KEY_TABLE)}")


def dependency_order(product: Product, names: set[str]) -> list[tuple[str, Step]]:
    """The named steps, each after the steps it depends on, otherwise in declaration order."""
    steps = {step.name: (layer, step) for layer, step in product.steps if step.name in names}
    ordered: list[tuple[str, Step]] = []
    done: set[str] = set()
    while steps:
        ready = [name for name, (_, step) in steps.items() if not (set(step.depends_on) & set(steps)) - done]
        name = ready[0]  # the loader refuses dependency cycles, so some step is always ready
        ordered.append(steps.pop(name))
        done.add(name)
    return ordered


@dataclass(frozen=True)
class Selection:
    """What a run does with each step: builds it (`build`), builds it again for itself (`rebuilt`:
    an ephemeral step a built one reads), or audits it (`audit_only`: its live table, or, for an
    ephemeral step, the one it builds again)."""

    build: frozenset[str]
    rebuilt: frozenset[str]
    audit_only: frozenset[str]

    def builds(self, name: str) -> bool:
        return name in self.build or name in self.rebuilt


@dataclass(frozen=True)
class _Building:
    """A step staged, or at work in its pandas process (`transform`), not yet audited."""

    layer: str
    step: Step
    now: datetime
    transform: Transform | None


class _Run:
    """What one run of a product has staged, and where it reads each dependency from."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        lake: Lake,
        product: Product,
        input_snapshot: int,
        run_id: str | None,
        sandboxes: Sandboxes,
    ) -> None:
        self.con, self.lake, self.product = con, lake, product
        self.input_snapshot, self.run_id = input_snapshot, run_id
        self.sandboxes = sandboxes
        self.staged: set[str] = set()
        self.failed: set[str] = set()
        self.unpublished: dict[str, str] = {}  # port inputs the lake did not have: why
        self.reads: list[Read] = []  # what was read of each port input, for the usage journal
        self.masked = masked_columns(product)
        self.readers: Counter[str] = Counter()  # ephemeral step -> steps of the run still to read it
        self.live_ports: dict[str, str | None] = {}  # port -> its view as last published (None: never was)
        self.live_snapshot: int | None = None  # the lake snapshot the product's own ports are read at

    def steps(self, order: list[tuple[str, Step]], now: datetime, selection: Selection) -> list[StepOutcome]:
        """Build or audit every step of `order`, each once what it reads is built; their outcomes in
        that order. A pandas step is handed to its process as soon as what it reads is built, and
        the run builds the steps that do not need it meanwhile: its result is taken in when a step
        reads it, when another pandas step is to start (`PANDAS_STEPS_AT_ONCE`), or at the end."""
        outcomes: dict[str, StepOutcome] = {}
        working: dict[str, _Building] = {}  # pandas steps at work in their processes, oldest first
        todo = list(order)

        def apart(step: Step) -> bool:
            return step.engine == "pandas" and selection.builds(step.name)

        # a step's own inputs are its `depends_on`: the loader keeps the ports its `relationships`
        # rules check against there too, so that they are built first
        while todo:
            later = {step.name for _, step in todo} | working.keys()
            ready = [(layer, step) for layer, step in todo if apart(step) and not set(step.depends_on) & later]
            layer, step = ready[0] if ready and len(working) < PANDAS_STEPS_AT_ONCE else todo[0]
            todo.remove((layer, step))
            waits_for = set(step.depends_on) & working.keys()
            if apart(step) and len(working) >= PANDAS_STEPS_AT_ONCE:
                waits_for.add(next(iter(working)))
            for name in [name for name in working if name in waits_for]:
                outcomes[name] = self.settle(working.pop(name), selection)
            begun = self.begin(layer, step, now, selection)
            if isinstance(begun, _Building) and begun.transform is not None:
                working[step.name] = begun
            else:
                outcomes[step.name] = self.settle(begun, selection)
        for name, building in working.items():
            outcomes[name] = self.settle(building, selection)
        return [outcomes[step.name] for _, step in order]

    def begin(self, layer: str, step: Step, now: datetime, selection: Selection) -> _Building | StepOutcome:
        """Start building the step (again, for an ephemeral one the run needs), or audit its live table."""
        if not selection.builds(step.name):
            return self.audit_live(layer, step, now)
        blocked = sorted(set(step.depends_on) & self.failed)
        if blocked:
            return StepOutcome(layer, step, error=f"not built: {', '.join(blocked)} failed")
        return self.stage(layer, step, now)

    def settle(self, begun: _Building | StepOutcome, selection: Selection) -> StepOutcome:
        """The step's outcome, once built and audited; the ephemeral tables nobody reads any more go."""
        outcome = self.finish(begun) if isinstance(begun, _Building) else begun
        step = outcome.step
        if step.name in selection.rebuilt:  # its checks reported if asked for; otherwise it only serves the run
            audited = step.name in selection.audit_only
            outcome = replace(outcome, audit_only=True) if audited else replace(outcome, helper=True)
        if selection.builds(step.name) and outcome.failed:
            self.failed.add(step.name)
        self.release(step)
        return outcome

    def in_run_only(self, name: str) -> bool:
        """Whether the step lives only in the run: an ephemeral step, and a port, whose one kept copy
        is the one the run publishes to the lake."""
        return name in self.product.ephemeral_steps or isinstance(self.product.step(name), Port)

    def staging_of(self, name: str) -> str:
        """Where this run stages a step: a temporary table for an ephemeral step or a port, which
        only this run's connection sees and which is never written to the compute database."""
        if self.in_run_only(name):
            return f"temp.main.{quote(f'{RUN_TABLE_PREFIX}{self.product.name}__{name}')}"
        return qualified(self.product.name, staging_name(name))

    def release(self, step: Step) -> None:
        """Drop the ephemeral tables no step of the run reads any more: a large layer held in memory
        only while the steps that read it run."""
        for name in (*step.depends_on, step.name):
            if name in self.product.ephemeral_steps and name in self.staged:
                if name != step.name:
                    self.readers[name] -= 1
                if self.readers[name] <= 0:
                    self.con.execute(f"DROP TABLE IF EXISTS {self.staging_of(name)}")
                    self.staged.discard(name)

    def release_all(self) -> None:
        for name in [name for name in self.staged if self.in_run_only(name)]:
            self.con.execute(f"DROP TABLE IF EXISTS {self.staging_of(name)}")
            self.staged.discard(name)
        for view in self.live_ports.values():
            if view is not None:
                self.con.execute(f"DROP VIEW IF EXISTS {view}")
        self.live_ports.clear()

    def live_port(self, name: str) -> str | None:
        """A view of the product's port `name` as last published; None when it never was. Read at
        the lake's snapshot when the run first reads one of its own ports, not the one it reads
        other products' ports at: a product's runs take turns, so that is its live version."""
        if name not in self.live_ports:
            if self.live_snapshot is None:
                self.live_snapshot = self.lake.current_snapshot(self.con)
            address = self.product.address(name)
            view = f"temp.main.{quote(f'{LIVE_PREFIX}{self.product.name}__{name}')}"
            try:
                self.lake.read(self.con, address, self.live_snapshot)
                self.con.execute(
                    f"CREATE OR REPLACE TEMP VIEW {view} AS "
                    f"SELECT * FROM {lake_table(address)} AT (VERSION => {self.live_snapshot})"
                )
                self.live_ports[name] = view
            except NotPublished:
                self.live_ports[name] = None
        return self.live_ports[name]

    def live(self, name: str) -> str | None:
        """Where the last kept version of step `name` is: a port's last publication in the lake,
        another step's table in the compute database; None when there is none yet."""
        if isinstance(self.product.step(name), Port):
            return self.live_port(name)
        return qualified(self.product.name, name) if table_exists(self.con, self.product.name, name) else None

    def stage(self, layer: str, step: Step, now: datetime) -> _Building | StepOutcome:
        """Bind what the step reads and stage it: a SQL step now, a pandas step handed to its process."""
        try:
            bind_dependencies(self.con, self.product, step, lambda name: self.table_of(step, name))
            context = AuditContext(self.port_table, now)
            staging, temporary = self.staging_of(step.name), self.in_run_only(step.name)
            transform = stage(self.con, self.product, step, staging, self.sandboxes, context, temporary=temporary)
        except Exception as error:  # noqa: BLE001 - the step fails alone, with its error; the product is not published
            return self.failure(layer, step, error)
        return _Building(layer, step, now, transform)

    def finish(self, building: _Building) -> StepOutcome:
        """The step staged (a pandas step's result taken in), audited and measured."""
        layer, step, now = building.layer, building.step, building.now
        staging = self.staging_of(step.name)
        try:
            checked = building.transform.finish() if building.transform is not None else None
            self.staged.add(step.name)
            results = audit(self.con, staging, step, self.port_table, now, self.masked, checked)
            if isinstance(step, Port):
                results = expectation_results(self.con, staging, self.product, step, results)
            rows, checksum = measure(self.con, staging, with_checksum=isinstance(step, Port))
        except Exception as error:  # noqa: BLE001 - the step fails alone, with its error; the product is not published
            return self.failure(layer, step, error)
        return StepOutcome(layer, step, results, rows, checksum=checksum)

    def failure(self, layer: str, step: Step, error: Exception) -> StepOutcome:
        """The step failed with `error`: a source file or a value that does not read is said in words, with its line."""
        if isinstance(error, duckdb.Error):
            inputs = [i for i in self.product.inputs if isinstance(i, FileInput)]
            files = {Path(i.path).name: self.product.data_root / i.path for i in inputs}
            found = explain(error) or explain_conversion(self.con, list(step.depends_on), files, error)
            return _failure(layer, step, found or error)
        return _failure(layer, step, error)

    def audit_live(self, layer: str, step: Step, now: datetime) -> StepOutcome:
        try:
            live = self.live(step.name)
            if live is None:
                raise not_ready(
                    self.product,
                    step,
                    f"{self.product.address(step.name)} has not been materialized "
                    "yet, so its checks have nothing to check",
                )
            results = audit(self.con, live, step, self.port_table, now, self.masked)
            if isinstance(step, Port):
                results = expectation_results(self.con, live, self.product, step, results)
        except Exception as error:  # noqa: BLE001 - reported as this step's error
            return _failure(layer, step, error, audit_only=True)
        return StepOutcome(layer, step, results, audit_only=True)

    def table_of(self, step: Step, name: str) -> str:
        """Where `step` reads dependency `name`: what this run staged, the live table, or the lake."""
        if name in self.unpublished:
            raise not_ready(self.product, step, self.unpublished[name])
        if isinstance(self.product.input(name), PortInput):
            return quote(INPUT_PREFIX + name)
        if name in self.staged:
            return self.staging_of(name)
        live = self.live(name)
        if live is None:
            done = "published" if isinstance(self.product.step(name), Port) else "materialized"
            raise not_ready(self.product, step, f"upstream {self.product.address(name)} has not been {done} yet")
        return live

    def port_table(self, port: str) -> str:
        """The table a `relationships` rule points at: a port of this product, or a port input."""
        if isinstance(self.product.input(port), PortInput):
            if port in self.unpublished:
                raise LookupError(self.unpublished[port])
            return quote(INPUT_PREFIX + port)
        if port in self.staged:
            return self.staging_of(port)
        view = self.live_port(port)
        if view is None:
            raise LookupError(f"{self.product.address(port)} has not been published yet")
        return view

    def read_port_inputs(self, names: set[str]) -> None:
        """Copy the named port inputs in, each at the snapshot this run reads its producer at: the
        one the run started from, or, for a producer this run published, the one it published.
        Personal columns come masked unless the producer grants this product personal data."""
        consumer = self.product.product_address
        columns = input_columns(self.product) if names else {}
        for name in sorted(names):
            source = self.product.input(name)
            assert isinstance(source, PortInput), name  # the names are port inputs (port_inputs_read)
            resolved = MeshIndex.of(self.product).resolve(source.address)
            if not may_read(resolved.port, consumer):  # refused when the location loads; checked again here
                self.unpublished[name] = f"{source.port_address} is restricted, and grants {consumer} no access"
                continue
            own = [
                p.snapshot_id
                for p in self.lake.publications(self.con, resolved.producer.product)
                if self.run_id is not None and p.run_id == self.run_id
            ]
            snapshot = own[-1] if own else self.input_snapshot
            address = resolved.address + (MASKED_SUFFIX if reads_masked(resolved.port, consumer) else "")
            try:
                self.lake.read(self.con, address, snapshot)
            except NotPublished:
                self.unpublished[name] = f"port {source.address} has not been published yet (lake snapshot {snapshot})"
                continue
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE {quote(INPUT_PREFIX + name)} AS "
                f"SELECT * FROM {lake_table(address)} AT (VERSION => {int(snapshot)})"
            )
            rows = self.con.execute(f"SELECT count(*) FROM {quote(INPUT_PREFIX + name)}").fetchall()[0][0]
            purpose = source.purpose or reading_purpose(resolved.port, resolved.producer.consumers, consumer)
            self.reads.append(
                Read(
                    at=datetime.now(UTC),
                    surface="run",
                    reader=consumer,
                    address=resolved.address,
                    columns=tuple(sorted(columns.get(name, ()))),
                    purpose=purpose,
                    rows=int(rows),
                    run_id=self.run_id,
                )
            )


def measure(con: duckdb.DuckDBPyConnection, table: str, with_checksum: bool) -> tuple[int, str | None]:
    """A table's row count, and the checksum of its rows when asked (it reads every value)."""
    if not with_checksum:
        return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0], None
    rows, checksum = con.execute(f"SELECT count(*), {CHECKSUM} FROM {table} AS t").fetchall()[0]  # aggregates: one row
    return rows, f"{checksum or 0:016x}"


def _failure(layer: str, step: Step, error: Exception, audit_only: bool = False) -> StepOutcome:
    if isinstance(error, PlatformError):
        message = "; ".join(str(p) for p in error.problems) or str(error)
    else:
        message = f"{type(error).__name__}: {(str(error).splitlines() or [''])[0]}"
    detail = "".join(traceback.format_exception(error))
    return StepOutcome(layer, step, error=message, detail=detail, audit_only=audit_only)
