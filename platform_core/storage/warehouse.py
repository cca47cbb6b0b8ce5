"""Where data lives, and how it changes without anyone seeing it half-written.

- Compute: one DuckDB file per domain (`<root>/compute/<domain>.duckdb`). Only that
  domain's runs open it, one step at a time (the `duckdb_<domain>` concurrency pool),
  because DuckDB lets a single process write a file and locks everyone else out meanwhile.
  Every step writes a staging table; only an audited staging table replaces the live one,
  in one transaction.
- Published ports: immutable Parquet snapshots under `<root>/published/<domain>/<product>/<port>/`
  and a `_current.json` pointer swapped atomically (`os.replace`). Readers (other domains,
  the catalog, BI tools) never open a compute file, so they never wait on a writer and never
  see a partial version; a failed run never moves the pointer.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from platform_core.descriptors.names import qualified, quote

POINTER_FILE = "_current.json"
SNAPSHOTS_KEPT = 5
LOCK_WAIT_SECONDS = 60.0


@dataclass(frozen=True)
class Snapshot:
    """One published version of a port."""

    address: str
    file: str
    version_id: str
    published_at: str
    row_count: int
    product_version: str
    run_id: str | None = None


def staging_name(table: str) -> str:
    return f"_staging_{table}"


@dataclass(frozen=True)
class Warehouse:
    root: Path

    # --- compute ---------------------------------------------------------------------------

    def database(self, domain: str) -> Path:
        return self.root / "compute" / f"{domain}.duckdb"

    @contextlib.contextmanager
    def connect(self, domain: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open the domain's compute database for writing.

        Runs of one domain are serialized by its concurrency pool; the bounded wait covers
        someone else holding the file open (a notebook, a BI tool pointed at it by mistake).
        """
        path = self.database(domain)
        path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                con = duckdb.connect(str(path))
                break
            except duckdb.IOException as error:
                if "lock" not in str(error).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(0.25)
        try:
            # Naive timestamps (ingestion times, max_age checks) are UTC wherever the platform runs.
            con.execute("SET TimeZone = 'UTC'")
            yield con
        finally:
            con.close()

    @staticmethod
    def promote(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> None:
        """Replace the live table with its audited staging table in one transaction."""
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(f"DROP TABLE IF EXISTS {qualified(schema, table)}")
            con.execute(f"ALTER TABLE {qualified(schema, staging_name(table))} RENAME TO {quote(table)}")
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise

    # --- published ports --------------------------------------------------------------------

    def port_directory(self, address: str) -> Path:
        domain, product, port = address.split(".")
        return self.root / "published" / domain / product / port

    def publish(
        self, con: duckdb.DuckDBPyConnection, relation_sql: str, address: str, product_version: str,
        run_id: str | None = None,
    ) -> Snapshot:
        """Write a new immutable snapshot of a port, then point readers at it atomically."""
        directory = self.port_directory(address)
        directory.mkdir(parents=True, exist_ok=True)
        now = datetime.now(timezone.utc)
        version_id = f"{now:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}"
        file = directory / f"{version_id}.parquet"
        relation = con.sql(relation_sql)
        relation.write_parquet(str(file), compression="zstd")
        row_count = con.execute("SELECT count(*) FROM read_parquet($file)", {"file": str(file)}).fetchall()[0][0]
        snapshot = Snapshot(address, file.name, version_id, now.isoformat(), row_count, product_version, run_id)
        _write_atomically(directory / POINTER_FILE, json.dumps(asdict(snapshot), indent=2))
        self._prune(directory, keep=file.name)
        return snapshot

    def current(self, address: str) -> Snapshot | None:
        pointer = self.port_directory(address) / POINTER_FILE
        try:
            return Snapshot(**json.loads(pointer.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None

    def current_file(self, address: str) -> Path:
        snapshot = self.current(address)
        if snapshot is None:
            raise LookupError(f"port {address} has not been published yet")
        return self.port_directory(address) / snapshot.file

    def read(self, address: str, con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyRelation:
        """The current published version of a port, as a DuckDB relation."""
        return (con or duckdb).read_parquet(str(self.current_file(address)))

    def _prune(self, directory: Path, keep: str) -> None:
        # Old snapshots stay for a while: a reader that resolved the pointer just before the
        # swap is still reading one of them.
        snapshots = sorted(directory.glob("*.parquet"))
        for old in snapshots[:-SNAPSHOTS_KEPT]:
            if old.name != keep:
                old.unlink(missing_ok=True)


def _write_atomically(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
