"""Each run of a data product as OpenLineage run events, so that Marquez, DataHub or any other
OpenLineage consumer sees the mesh as its owners declared it.

The product is the job (`<domain>.<product>`); the ports and source files its run reads are the
inputs, the ports it builds the outputs. A port is a dataset named by its address in the mesh's
namespace, a file one named by its absolute path in the `file` namespace, as OpenLineage names
local files. An output carries its contract's columns, where each of its columns comes from (the
column lineage governance follows, traced through the product's own steps down to its inputs),
what its checks found and, once published, its row count.

Where events go is the client's own configuration (openlineage.yml or OPENLINEAGE_* variables,
read by platform_core.settings); with none, nothing is built or sent, and the client is not even
imported (it takes a fifth of a second to). Sending never fails a run: an error becomes a warning
in the run's log, and the run goes on.
"""

from __future__ import annotations

import functools
import traceback
import uuid
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

from platform_core.descriptors.addresses import AddressError
from platform_core.descriptors.lineage import Source
from platform_core.descriptors.mesh_index import MeshIndex
from platform_core.descriptors.sensitivity import Sensitivity
from platform_core.descriptors.spec import Column, FileInput, Port, PortInput, Product, Step
from platform_core.execution.products import ProductOutcome, StepOutcome, port_inputs_read
from platform_core.settings import DEFAULT_OPENLINEAGE_NAMESPACE, OpenLineageSettings, openlineage_settings

if TYPE_CHECKING:  # the client is imported when an event is built, not when the platform loads
    from openlineage.client import OpenLineageClient
    from openlineage.client.event_v2 import InputDataset, OutputDataset, RunEvent
    from openlineage.client.facet_v2 import (
        column_lineage_dataset,
        data_quality_assertions_dataset,
        schema_dataset,
    )

FILE_NAMESPACE = "file"
# A lineage server that is down costs a run seconds, not the minutes of the client's own defaults
# (five retries with backoff): used where the transport's configuration does not choose.
HTTP_TIMEOUT_SECONDS = 3.0
HTTP_RETRY: dict[str, Any] = {"total": 1, "connect": 1, "read": 1, "backoff_factor": 0.5}

Warn = Callable[[str], None]
Facets = dict[str, Any]  # facets by name, as the client's event classes take them
Failure = tuple[str, str | None]  # what stopped a run, and its traceback


@dataclass(frozen=True)
class ProductRun:
    """One run of a product within a Dagster run, as OpenLineage names it."""

    product: Product
    dagster_run_id: str
    dagster_job: str
    build: frozenset[str]
    audit_only: frozenset[str] = frozenset()
    namespace: str = DEFAULT_OPENLINEAGE_NAMESPACE

    @property
    def run_id(self) -> str:
        """The same for every event of the run, and one of its own for each product a Dagster
        run builds: derived from both."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"dagster-run:{self.dagster_run_id}/{self.product.product_address}"))


@dataclass(frozen=True)
class Lineage:
    """The events of one product run, sent where the configuration says, or nowhere."""

    run: ProductRun
    settings: OpenLineageSettings
    warn: Warn

    def started(self) -> None:
        self._send("start", lambda: start_event(self.run))

    def finished(self, outcome: ProductOutcome) -> None:
        self._send("outcome", lambda: end_event(self.run, outcome))

    def stopped(self, error: BaseException) -> None:
        self._send("outcome", lambda: error_event(self.run, error))

    def _send(self, which: str, event: Callable[[], RunEvent]) -> None:
        if not self.settings.configured:
            return
        try:
            client(self.settings).emit(event())
        except Exception as error:  # noqa: BLE001 - lineage reports on the run; it is never a reason for it to fail
            reason = (str(error).strip().splitlines() or [""])[0]
            self.warn(
                f"OpenLineage: the {which} event of {self.run.product.product_address} was not sent "
                f"({type(error).__name__}: {reason}); the run goes on without it"
            )


@contextmanager
def product_lineage(
    product: Product,
    dagster_run_id: str,
    dagster_job: str,
    build: Collection[str],
    audit_only: Collection[str],
    warn: Warn,
) -> Iterator[Lineage]:
    """Sends START now, and FAIL (ABORT when interrupted) if the block raises; the caller sends
    the outcome with `finished` once the product's database is released."""
    try:
        settings = openlineage_settings()
    except OSError as error:  # an openlineage.yml that cannot be looked at: no events, not a failed run
        warn(f"OpenLineage: no events for this run ({type(error).__name__}: {error})")
        settings = OpenLineageSettings()
    run = ProductRun(product, dagster_run_id, dagster_job, frozenset(build), frozenset(audit_only), settings.namespace)
    lineage = Lineage(run, settings, warn)
    lineage.started()
    try:
        yield lineage
    except BaseException as error:
        lineage.stopped(error)
        raise


@functools.lru_cache(maxsize=4)
def client(settings: OpenLineageSettings) -> OpenLineageClient:
    """One client per configuration and process, configured by the client itself; a plain HTTP
    transport gets a short timeout and one retry unless its configuration chooses them."""
    from openlineage.client import OpenLineageClient
    from openlineage.client.transport.http import HttpTransport

    found = OpenLineageClient()
    chosen = found.config.transport or {}
    if not isinstance(found.transport, HttpTransport) or {"timeout", "retry"} <= set(chosen):
        return found
    config = found.transport.config
    if "timeout" not in chosen:
        config.timeout = HTTP_TIMEOUT_SECONDS
    if "retry" not in chosen:
        config.retry = dict(HTTP_RETRY)
    return OpenLineageClient(transport=HttpTransport(config))


# --- events ----------------------------------------------------------------------------------------


def start_event(run: ProductRun, now: datetime | None = None) -> RunEvent:
    """What the run will read and build, with the contracts' columns."""
    outputs = [
        _output(run, step, _schema_of(step.columns))
        for _, step in run.product.steps
        if isinstance(step, Port) and step.name in run.build
    ]
    return _event(run, "START", now, _inputs(run, []), outputs)


def end_event(run: ProductRun, outcome: ProductOutcome, now: datetime | None = None) -> RunEvent:
    """COMPLETE once the steps built passed and their ports were published, else FAIL with what
    stopped it. Each port built is an output with its lineage and checks; a live port whose checks
    alone ran is an input, with theirs."""
    origins = Origins(run.product)
    outputs = [
        _output(run, step.step, *_built_facets(run, step, outcome.built, origins))
        for step in outcome.steps
        if isinstance(step.step, Port) and not step.audit_only
    ]
    audited = [s for s in outcome.steps if isinstance(s.step, Port) and s.audit_only and s.results]
    stopped = outcome.failed + outcome.unchecked
    if not stopped:
        return _event(run, "COMPLETE", now, _inputs(run, audited), outputs)
    failure = (outcome.summary(stopped), "\n".join(s.detail for s in stopped if s.detail) or None)
    return _event(run, "FAIL", now, _inputs(run, audited), outputs, failure)


def error_event(run: ProductRun, error: BaseException, now: datetime | None = None) -> RunEvent:
    """The run raised before it had an outcome: FAIL, or ABORT when it was interrupted."""
    first = (str(error).strip().splitlines() or [""])[0]
    message = f"{type(error).__name__}: {first}" if first else type(error).__name__
    failure = (message, "".join(traceback.format_exception(error)))
    return _event(run, "FAIL" if isinstance(error, Exception) else "ABORT", now, _inputs(run, []), [], failure)


def _event(
    run: ProductRun,
    state: str,
    now: datetime | None,
    inputs: list[InputDataset],
    outputs: list[OutputDataset],
    failure: Failure | None = None,
) -> RunEvent:
    from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import documentation_job, error_message_run, job_type_job, parent_run

    run_facets: Facets = {
        "parent": parent_run.ParentRunFacet(
            run=parent_run.Run(runId=run.dagster_run_id),
            job=parent_run.Job(namespace=run.namespace, name=run.dagster_job),
            producer=producer(),
        )
    }
    if failure is not None:
        run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=failure[0], programmingLanguage="python", stackTrace=failure[1], producer=producer()
        )
    job_facets: Facets = {
        "jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration="DAGSTER", jobType="DATA_PRODUCT", producer=producer()
        ),
        "documentation": documentation_job.DocumentationJobFacet(
            description=run.product.description, producer=producer()
        ),
    }
    return RunEvent(
        eventType=RunState[state],
        eventTime=(now or datetime.now(UTC)).isoformat(),
        run=Run(runId=run.run_id, facets=run_facets),
        job=Job(namespace=run.namespace, name=run.product.product_address, facets=job_facets),
        inputs=inputs,
        outputs=outputs,
        producer=producer(),
    )


# --- datasets --------------------------------------------------------------------------------------


def _inputs(run: ProductRun, audited: list[StepOutcome]) -> list[InputDataset]:
    """The port inputs and source files the run reads, then the live ports it audited."""
    from openlineage.client.event_v2 import InputDataset

    product = run.product
    ports = port_inputs_read(product, set(run.build) | set(run.audit_only))
    files = {name for _, step in product.steps if step.name in run.build for name in product.reads(step)}
    found = []
    for source in product.inputs:
        if isinstance(source, PortInput) and source.name in ports:
            namespace, name = dataset_of(run, source)
            found.append(InputDataset(namespace=namespace, name=name, facets=_schema_of(_port_columns(source, run))))
        elif isinstance(source, FileInput) and source.name in files:
            namespace, name = dataset_of(run, source)
            found.append(InputDataset(namespace=namespace, name=name))
    found += [
        InputDataset(
            namespace=run.namespace,
            name=product.address(step.step.name),
            facets=_schema_of(step.step.columns),
            inputFacets={"dataQualityAssertions": _assertions(step)},
        )
        for step in audited
    ]
    return found


def dataset_of(run: ProductRun, source: PortInput | FileInput) -> tuple[str, str]:
    """The namespace and name of an input: a port's published address (`<port>__v1` for a pinned
    previous major), a file's absolute path. A port input that no longer resolves (the loader says
    why) is named as written."""
    if isinstance(source, FileInput):
        return FILE_NAMESPACE, str((run.product.data_root / source.path).resolve())
    try:
        return run.namespace, MeshIndex.of(run.product).resolve(source.address).address
    except AddressError:
        return run.namespace, source.port_address


def _port_columns(source: PortInput, run: ProductRun) -> tuple[Column, ...]:
    try:
        return MeshIndex.of(run.product).resolve(source.address).port.columns
    except AddressError:
        return ()


def _output(run: ProductRun, port: Step, facets: Facets, output_facets: Facets | None = None) -> OutputDataset:
    from openlineage.client.event_v2 import OutputDataset

    return OutputDataset(
        namespace=run.namespace, name=run.product.address(port.name), facets=facets, outputFacets=output_facets or {}
    )


def _built_facets(run: ProductRun, step: StepOutcome, published: bool, origins: Origins) -> tuple[Facets, Facets]:
    """A built port's schema, column lineage and checks; and its row count once published."""
    from openlineage.client.facet_v2 import output_statistics_output_dataset

    facets = _schema_of(step.step.columns)
    lineage = column_lineage(run, step.step, origins)
    if lineage is not None:
        facets["columnLineage"] = lineage
    if step.results:
        facets["dataQualityAssertions"] = _assertions(step)
    if not published:
        return facets, {}
    statistics = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
        rowCount=step.row_count, producer=producer()
    )
    return facets, {"outputStatistics": statistics}


def _schema_of(columns: tuple[Column, ...]) -> Facets:
    return {"schema": _schema(columns)} if columns else {}


def _schema(columns: tuple[Column, ...]) -> schema_dataset.SchemaDatasetFacet:
    from openlineage.client.facet_v2 import schema_dataset

    fields = [
        schema_dataset.SchemaDatasetFacetFields(
            name=column.name, type=column.type, description=column.description, ordinal_position=position
        )
        for position, column in enumerate(columns, start=1)
    ]
    return schema_dataset.SchemaDatasetFacet(fields=fields, producer=producer())


def _assertions(step: StepOutcome) -> data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet:
    """Each check's result, with the kind of its rule and the column it checks, if one."""
    from openlineage.client.facet_v2 import data_quality_assertions_dataset

    rules = {rule.check_name: rule for rule in step.step.rules}
    assertions = []
    for result in (r for whole in step.results for r in whole.every_rule):  # nullability within `schema` too
        rule = rules.get(result.check_name)  # none for the platform's own `schema` check
        columns = rule.columns_used if rule is not None else ()
        assertions.append(
            data_quality_assertions_dataset.Assertion(
                assertion=str(rule.type) if rule is not None else result.check_name,
                success=result.passed,
                column=columns[0] if len(columns) == 1 else None,
                severity=result.severity,
                name=result.check_name,
                description=result.description or None,
            )
        )
    return data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(assertions=assertions, producer=producer())


# --- column lineage --------------------------------------------------------------------------------


def column_lineage(
    run: ProductRun, port: Step, origins: Origins | None = None
) -> column_lineage_dataset.ColumnLineageDatasetFacet | None:
    """For each column of the port, the columns of the product's inputs its values come from."""
    from openlineage.client.facet_v2 import column_lineage_dataset

    origins = origins or Origins(run.product)
    fields = {}
    for column in port.columns:
        found = []
        for name, field_name in sorted(origins.of(port.name, column.name)):
            source = run.product.input(name)
            assert source is not None, name  # Origins stops at the product's inputs
            namespace, dataset = dataset_of(run, source)
            found.append(column_lineage_dataset.InputField(namespace=namespace, name=dataset, field=field_name))
        if found:
            fields[column.name] = column_lineage_dataset.Fields(inputFields=found)
    if not fields:
        return None
    return column_lineage_dataset.ColumnLineageDatasetFacet(fields=fields, producer=producer())


class Origins:
    """Which columns of a product's inputs each column of its steps carries, through its other steps.

    Each step's own sources are those governance makes classification follow
    (platform_core.descriptors.sensitivity): its SQL parsed, `source` as declared, a pandas step's
    columns of the same name. A raw file declares no columns: a column comes from one only where
    the descriptor says so with `source`."""

    def __init__(self, product: Product) -> None:
        self.product = product
        self._sensitivity = Sensitivity(product)
        self._names = {step.name for _, step in product.steps}
        self._steps: dict[str, dict[str, frozenset[Source]]] = {}
        self._found: dict[tuple[str, str], frozenset[Source]] = {}

    def of(self, step: str, column: str) -> frozenset[Source]:
        """The (input, column) pairs a column of a step takes its values from."""
        if (step, column) not in self._found:
            found: set[Source] = set()
            for dependency, name in self._sources(step).get(column, frozenset()):
                if self.product.input(dependency) is not None:
                    found.add((dependency, name))
                elif dependency in self._names:
                    found |= self.of(dependency, name)
            self._found[(step, column)] = frozenset(found)
        return self._found[(step, column)]

    def _sources(self, name: str) -> dict[str, frozenset[Source]]:
        if name not in self._steps:
            step = self.product.step(name)
            parsed = self._sensitivity.sources(step)
            # What a column declares holds even where the SQL says nothing: a raw file's `SELECT *`.
            self._steps[name] = {
                column.name: parsed.get(column.name, frozenset())
                | {(ref.partition(".")[0], ref.partition(".")[2]) for ref in column.source}
                for column in step.columns
            }
        return self._steps[name]


@functools.cache
def producer() -> str:
    """Who wrote the events: this platform, at its installed version."""
    return f"urn:dagster-data-mesh:platform_core:{version('dagster-data-mesh')}"
