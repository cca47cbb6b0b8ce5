"""The mesh catalog as a data product of the platform (`platform.mesh`), run by the product runner.

Its four tables come from the mesh's descriptors (and the usage journal, for `port_reads`)
rather than from files a team delivers: each
run writes them as typed Parquet extracts in a scratch folder, and from there the catalog is a
product like any other, declared as a spec, run by `run_product`: bronze reads the extracts as
ingested, each port selects its table from bronze, every step is audited against its contract
(the schema check and the rules below), and the ports are published together in one commit of
the lake, or not at all. Its compute database lives as long as the run, so the live tables a
checks-only run audits are the published ones.

Two warnings concern the mesh as a whole, not a table's rows: a domain whose descriptors do not
load, and a loop of steps across products. They are added to each port's results as the
governance warnings are to a domain's ports.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory

import duckdb

from platform_core.catalog.mesh import CATALOG_TABLES, CatalogTable, Mesh, loop_problems
from platform_core.descriptors.column_types import duckdb_type
from platform_core.descriptors.loader import place, product_problems
from platform_core.descriptors.mesh_index import MeshIndex
from platform_core.descriptors.names import qualified, quote
from platform_core.descriptors.spec import Product
from platform_core.errors import PlatformError
from platform_core.execution.products import ProductOutcome, run_product
from platform_core.quality.results import RuleResult
from platform_core.storage.lake import Lake

DOMAIN, NAME = "platform", "mesh"
CATALOG_PRODUCT = f"{DOMAIN}.{NAME}"
CATALOG_VERSION = "1.0.0"  # the catalog tables' own contract version
# What every raw input's rows carry (platform_core.execution.sources.read_input).
LINEAGE = (
    ("source_file", "string", "File the row was read from."),
    ("source_row", "integer", "Row of that file."),
    ("ingested_at", "timestamp", "When it was read (UTC)."),
)
RULES: dict[str, tuple[dict, ...]] = {
    "catalog_products": ({"type": "unique", "columns": ["address"]}, {"type": "not_null", "column": "owner_team"}),
    "catalog_ports": ({"type": "unique", "columns": ["address"]}, {"type": "not_null", "column": "classification"}),
    "dependencies": ({"type": "unique", "columns": ["consumer", "input_name"]},),
    "port_reads": (
        {"type": "not_null", "column": "address"},
        {"type": "accepted_values", "column": "surface", "values": ["run", "serving", "python"]},
        {"type": "range", "column": "reads", "min": 1},
    ),
}


@dataclass(frozen=True)
class MeshCheck:
    """A warning about the mesh as a whole, reported on a catalog table: its problems, if any."""

    name: str
    description: str
    problems: Callable[[Mesh], list[str]]


EVERY_DOMAIN_LOADS = MeshCheck(
    "every_domain_loads", "Every domain of the workspace has valid descriptors.", lambda mesh: list(mesh.problems)
)
NO_STEP_LOOPS = MeshCheck(
    "no_step_loops", "No step depends on its own output through other products' ports.", loop_problems
)
MESH_CHECKS: dict[str, tuple[MeshCheck, ...]] = {
    "catalog_products": (EVERY_DOMAIN_LOADS,),
    "catalog_ports": (EVERY_DOMAIN_LOADS,),
    "dependencies": (EVERY_DOMAIN_LOADS, NO_STEP_LOOPS),  # the dependency graph is where a loop shows
    "port_reads": (),
}


def catalog_spec() -> Product:
    """The catalog's spec: each table read as an extract in bronze and published as a port."""
    bronze, ports = [], []
    for table in CATALOG_TABLES:
        columns: list[dict[str, object]] = [
            {"name": name, "type": kind, "description": text} for name, kind, text in table.columns
        ]
        lineage = [{"name": name, "type": kind, "description": text, "nullable": False} for name, kind, text in LINEAGE]
        bronze.append(
            {
                "name": f"raw_{table.name}",
                "description": f"{table.description} As extracted.",
                "sql": f"sql/raw_{table.name}.sql",
                "depends_on": [f"{table.name}_extract"],
                "columns": columns + lineage,
            }
        )
        ports.append(
            {
                "name": table.name,
                "kind": "table",
                "description": table.description,
                "classification": "internal",
                "sql": f"sql/{table.name}.sql",
                "depends_on": [f"raw_{table.name}"],
                "columns": columns,
                "quality": list(RULES[table.name]),
            }
        )
    return Product.model_validate(
        {
            "name": NAME,
            "domain": DOMAIN,
            "title": "Mesh catalog",
            "version": CATALOG_VERSION,
            "status": "active",
            "description": "Every product, port and dependency of the mesh, from the domains' descriptors.",
            "owner": {"team": "data-platform", "name": "Data Platform"},
            "inputs": [
                {"name": f"{t.name}_extract", "kind": "file", "path": f"{t.name}.parquet", "format": "parquet"}
                for t in CATALOG_TABLES
            ],
            "layers": {"bronze": bronze},
            "output_ports": ports,
        }
    )


def catalog_product(con: duckdb.DuckDBPyConnection, mesh: Mesh, folder: Path) -> Product:
    """The catalog's spec placed in `folder`, with its SQL and the mesh's extracts written there,
    and checked as every product is (a problem is the platform's mistake, not a team's)."""
    exclude = ", ".join(name for name, _, _ in LINEAGE)
    for table in CATALOG_TABLES:
        _write(folder / "sql" / f"raw_{table.name}.sql", f"SELECT * FROM {table.name}_extract")
        _write(folder / "sql" / f"{table.name}.sql", f"SELECT * EXCLUDE ({exclude}) FROM raw_{table.name}")
        write_extract(con, table, table.rows(mesh), folder)
    product = place(catalog_spec(), folder / "product.yaml", folder, MeshIndex.at(folder))
    if problems := product_problems(product, CATALOG_PRODUCT):
        raise PlatformError(problems, "the catalog's own spec is invalid")
    return product


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def run_catalog(lake: Lake, mesh: Mesh, build: list[str], audit: list[str], run_id: str | None) -> ProductOutcome:
    """Build the tables named in `build` from the mesh and publish them together if none fails a
    blocking rule; audit the published version of those in `audit`. The mesh's warnings are among
    the results of each table's step."""
    with lake.connect(read_only=False) as con, TemporaryDirectory() as scratch:
        product = catalog_product(con, mesh, Path(scratch))
        tables = {table.name for table in CATALOG_TABLES}
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(NAME)}")
        for name in audit:  # the live tables of an ephemeral compute database: the published ones
            published = lake.read(con, f"{CATALOG_PRODUCT}.{name}")  # noqa: F841 - DuckDB's replacement scan reads it
            con.execute(f"CREATE TABLE {qualified(NAME, name)} AS SELECT * FROM published")
        outcome = run_product(
            con,
            lake,
            product,
            build={*build, *(f"raw_{name}" for name in build)},
            audit_only=set(audit),
            input_snapshot=lake.current_snapshot(con),
            run_id=run_id,
            now=datetime.now(UTC),
        )
    return replace(
        outcome,
        steps=tuple(
            replace(step, results=(*step.results, *mesh_results(mesh, step.step.name)))
            if step.step.name in tables
            else step
            for step in outcome.steps
        ),
    )


def write_extract(
    con: duckdb.DuckDBPyConnection, table: CatalogTable, rows: list[dict[str, object]] | str, folder: Path
) -> None:
    """The rows (or what a SELECT gives) as `<table>.parquet`, typed by the table's columns
    (through newline-delimited JSON)."""
    if isinstance(rows, str):
        casts = ", ".join(
            f"CAST({quote(name)} AS {duckdb_type(kind)}) AS {quote(name)}" for name, kind, _ in table.columns
        )
        con.execute(f"COPY (SELECT {casts} FROM ({rows})) TO '{folder / table.name}.parquet' (FORMAT parquet)")
        return
    source = folder / f"{table.name}.ndjson"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    columns = {name: duckdb_type(kind) for name, kind, _ in table.columns}
    con.read_json(str(source), format="newline_delimited", columns=columns).write_parquet(
        str(folder / f"{table.name}.parquet")
    )


def mesh_results(mesh: Mesh, table: str) -> list[RuleResult]:
    """The mesh checks of a catalog table, as warnings."""
    found = [(check, check.problems(mesh)) for check in MESH_CHECKS[table]]
    return [
        RuleResult(
            check.name,
            "warn",
            not problems,
            len(problems),
            {"problems": problems} if problems else {},
            check.description,
        )
        for check, problems in found
    ]
