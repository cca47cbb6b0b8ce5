"""The resources a location's runs use, as the UI shows them: the domain's compute database
(dagster-duckdb's `DuckDBResource`) and the lake of published ports."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from platform_core.serving.database import ServingTarget, serving_target
from platform_core.settings import (
    MASKING_KEY_VARIABLE,
    S3_ENDPOINT_VARIABLE,
    SERVING_URL_VARIABLE,
    Settings,
    object_store,
)
from platform_core.storage.lake import Lake, LakeConfig
from platform_core.storage.usage import UsageLog
from platform_core.storage.warehouse import Warehouse

# Run tags that pin the lake snapshot a run reads other products' ports at, and for which run.
INPUT_SNAPSHOT_TAG = "mesh/input_snapshot"
PINNED_FOR_TAG = "mesh/input_snapshot_run"


class LakeResource(dg.ConfigurableResource):
    """The DuckLake of published ports: its catalog database and its data path (see platform_core.storage.lake),
    the address of an S3-compatible store, and where the key masking personal data comes from.
    Secrets never show here: the masking key and the object store's credentials are read from the
    run's environment when it needs them."""

    catalog: str
    data_path: str
    s3_endpoint: str | None = None
    masking_key_variable: str = MASKING_KEY_VARIABLE
    masking_key_file: str | None = None
    # domains whose pandas steps may run unsandboxed where the kernel has no Landlock (the platform
    # team's MESH_UNSANDBOXED_PYTHON; platform_core.execution.isolation): comma-separated, or *
    unsandboxed_python: str = ""
    usage_root: str = ""  # the usage journal (platform_core.storage.usage); empty: reads are not recorded

    def usage(self) -> UsageLog | None:
        return UsageLog(Path(self.usage_root)) if self.usage_root else None

    def allows_unsandboxed_python(self, domain: str) -> bool:
        allowed = {name.strip() for name in self.unsandboxed_python.split(",")}
        return domain in allowed or "*" in allowed

    def masking_key(self) -> str | None:
        """The secret that masks personal data, read when a run needs it; None when there is none."""
        key = os.environ.get(self.masking_key_variable, "").strip()
        if not key and self.masking_key_file and Path(self.masking_key_file).is_file():
            key = Path(self.masking_key_file).read_text(encoding="utf-8").strip()
        return key or None

    def get(self) -> Lake:
        store = None
        if self.data_path.startswith("s3://"):
            store = object_store({**os.environ, S3_ENDPOINT_VARIABLE: self.s3_endpoint or ""})
        return Lake(LakeConfig(catalog=self.catalog, data_path=self.data_path, store=store))

    @contextmanager
    def writer(self, compute: DuckDBResource) -> Iterator[duckdb.DuckDBPyConnection]:
        """The compute database with the lake attached: steps run there and publish from there."""
        if compute.database != ":memory:":  # DuckDB creates the file, not its folder
            Path(compute.database).parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # the platform's own
        with compute.get_connection() as con:
            try:  # DuckDBResource leaves a connection open when the body raises; a held file blocks the next run
                con.execute("SET TimeZone = 'UTC'")  # naive timestamps (ingestion, max_age) are UTC everywhere
                self.get().attach(con)
                yield con
            finally:
                con.close()


@functools.cache  # one object per settings, so that the definitions of several locations merge (build_mesh)
def lake_resource(settings: Settings) -> LakeResource:
    config = settings.lake_config
    key_file = str(settings.masking_key_file) if settings.masking_key_file else None
    return LakeResource(
        catalog=config.catalog,
        data_path=config.data_path,
        masking_key_file=key_file,
        s3_endpoint=config.store.endpoint if config.store else None,
        unsandboxed_python=",".join(sorted(settings.unsandboxed_python)),
        usage_root=str(settings.usage.root),
    )


class ServingResource(dg.ConfigurableResource):
    """The serving database people read through (platform_core.serving): an external PostgreSQL whose
    URL is read from the run's environment (`url_variable`), or the embedded one under `root`.
    No password shows here."""

    root: str
    port: int
    mode: str = "auto"
    url_variable: str = SERVING_URL_VARIABLE

    def target(self) -> ServingTarget | None:
        """Where this run serves, or None when it serves nobody."""
        return serving_target(os.environ.get(self.url_variable), Path(self.root), self.port, self.mode)


@functools.cache  # one object per settings, as the lake's
def serving_resource(settings: Settings) -> ServingResource:
    return ServingResource(root=str(settings.serving_root), port=settings.serving_port, mode=settings.serving)


def compute_resource(settings: Settings, domain: str) -> DuckDBResource:
    limit = {"memory_limit": settings.compute_memory} if settings.compute_memory else {}
    return DuckDBResource(database=str(Warehouse.from_settings(settings).database(domain)), connection_config=limit)


def input_snapshot(context: dg.AssetExecutionContext, lake: Lake, con: duckdb.DuckDBPyConnection) -> int:
    """The lake snapshot this run reads other products' ports at: taken when its first product
    starts, then kept in a run tag (visible in the UI) for the run's other products.

    A re-execution inherits its parent's tags; it pins anew, as a run of its own, so that it
    reads what its parent published before it failed."""
    run = context.instance.get_run_by_id(context.run_id)
    tags = run.tags if run is not None else {}
    if tags.get(PINNED_FOR_TAG) == context.run_id and INPUT_SNAPSHOT_TAG in tags:
        return int(tags[INPUT_SNAPSHOT_TAG])
    pinned = lake.current_snapshot(con)
    context.instance.add_run_tags(context.run_id, {INPUT_SNAPSHOT_TAG: str(pinned), PINNED_FOR_TAG: context.run_id})
    return pinned
