"""The lake: every published port of the mesh, in DuckLake.

DuckLake keeps tables as Parquet files under a data path and their history in a catalog
database. Every commit is a snapshot, and a reader sees one snapshot for a whole query, so
the ports of one product, replaced in one transaction, change together or not at all.

- A port `<domain>.<product>.<port>` is the table `lake.<domain>.<product>__<port>`.
- A publication is one commit, authored `mesh`, whose extra info names the product, its
  version, the contract it was published under and the run. `_mesh.contracts` keeps each
  contract once, keyed by its fingerprint.
- The catalog is SQLite locally (a file under the warehouse), PostgreSQL beyond one
  machine; the data path a folder or object storage. Both are settings.
- SQLite lets one writer in at a time and, when two writers meet, answers "database is
  locked" without waiting. Local writers therefore take turns on a lock file beside the
  catalog, and the catalog runs in WAL mode so that readers never wait for a writer.
  Whatever the catalog, a commit that meets a conflict is retried from the start.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from platform_core.descriptors.names import LAKE_ALIAS, literal, quote
from platform_core.storage import extensions
from platform_core.storage.lake_config import LakeConfig, LakeError
from platform_core.storage.locks import exclusive_file_lock

ALIAS = LAKE_ALIAS  # domains and products may not take this name
PLATFORM_SCHEMA = "_mesh"  # the platform's own tables; no domain can take this name
AUTHOR = "mesh"
LOCK_WAIT_SECONDS = 600.0  # a local writer waits this long for another's commit
RETRY_SECONDS = 120.0  # and retries a conflicting commit for this long


class NotPublished(LookupError):
    """What a reader asked for does not exist in the lake (yet, or any more)."""


def table_name(address: str) -> tuple[str, str]:
    """A port's schema and table in the lake: `hr.overtime.dim_entity` -> (`hr`, `overtime__dim_entity`)."""
    domain, product, port = address.split(".")
    return domain, f"{product}__{port}"


def lake_table(address: str, alias: str = ALIAS) -> str:
    schema, table = table_name(address)
    return f"{quote(alias)}.{quote(schema)}.{quote(table)}"


@dataclass(frozen=True)
class Publication:
    """One commit of a product's ports: a snapshot of the lake."""

    snapshot_id: int
    published_at: datetime
    product: str  # <domain>.<product>
    version: str
    contract: str  # fingerprint of the contract the ports were published under
    run_id: str | None
    ports: tuple[str, ...]

    def includes(self, address: str) -> bool:
        return address.rsplit(".", 1)[0] == self.product and address.rsplit(".", 1)[1] in self.ports


@dataclass(frozen=True)
class Lake:
    config: LakeConfig

    def folders_of(self, domain: str) -> tuple[str, ...]:
        """Where a domain's ports (and the platform's own tables) are written: all a database
        that publishes for the domain needs of the lake's data once its access is closed. Local
        folders are created now: DuckDB could not create them once its access is closed."""
        folders = tuple(f"{self.config.data_path.rstrip('/')}/{schema}/" for schema in (domain, PLATFORM_SCHEMA))
        if not self.config.is_remote:
            for folder in folders:
                Path(folder).mkdir(parents=True, exist_ok=True)
        return folders

    # --- opening ------------------------------------------------------------------------------

    def check_readable(self) -> None:
        """NotPublished while a local lake has no catalog yet (missing, or its first writer is
        creating it): said before anything costly, such as loading the extensions (0.2 s each)."""
        sqlite_file = self.config.sqlite_file
        if sqlite_file is not None and not _is_catalog(sqlite_file):
            raise NotPublished(f"nothing has been published yet: the lake's catalog {sqlite_file} does not exist")

    def attach(self, con: duckdb.DuckDBPyConnection, *, read_only: bool = False) -> None:
        """Attach the lake to `con` as `lake`; a writer creates it the first time."""
        if read_only:
            self.check_readable()
        for name in self.config.extensions:
            extensions.load(con, name)
        if self.config.is_remote and self.config.store is not None:
            con.execute(self.config.store.secret_sql(self.config.data_path))
        sqlite_file = self.config.sqlite_file
        if sqlite_file is not None and not read_only:
            self._create_sqlite_catalog(con, sqlite_file)
        self._attach(con, read_only)

    def _attach(self, con: duckdb.DuckDBPyConnection, read_only: bool) -> None:
        # Writers keep even the smallest port in Parquet rather than inline in the catalog, so every
        # version is a file that any Parquet reader can open (`ducklake_list_files` names them).
        options = [f"DATA_PATH {literal(self.config.data_path)}"] + (
            ["READ_ONLY"] if read_only else ["DATA_INLINING_ROW_LIMIT 0"]
        )
        deadline = time.monotonic() + RETRY_SECONDS
        while True:
            try:
                con.execute(f"ATTACH {literal('ducklake:' + self.config.catalog)} AS {ALIAS} ({', '.join(options)})")
                return
            except duckdb.Error as error:
                text = str(error)
                if read_only and "creating a new DuckLake is explicitly disabled" in text:
                    raise NotPublished(
                        f"nothing has been published yet: the lake's catalog "
                        f"{without_password(self.config.catalog)} holds no lake"
                    ) from None
                # Writers opening a new PostgreSQL catalog at once: one creates DuckLake's tables, the
                # others collide on them; once they exist, attaching again succeeds.
                if (
                    "Failed to initialize DuckLake" in text
                    and time.monotonic() < deadline
                    and any(words in text for words in ("duplicate key", "already exists"))
                ):
                    time.sleep(0.2)
                    continue
                raise LakeError(
                    f"cannot open the lake ({without_password(self.config.catalog)}): {without_password(text)}"
                ) from error

    @contextmanager
    def connect(self, *, read_only: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection of its own to an in-memory DuckDB with the lake attached."""
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            self.attach(con, read_only=read_only)
            yield con
        finally:
            con.close()

    def _create_sqlite_catalog(self, con: duckdb.DuckDBPyConnection, file: Path) -> None:
        """Create the SQLite catalog once, in WAL mode, while no other local writer can race us."""
        if _is_catalog(file):
            return
        file.parent.mkdir(parents=True, exist_ok=True)
        # The lake's files are the platform's: on this machine only its own user reads them. People read
        # through the serving database, under the grants (docs/serving.md).
        file.parent.chmod(0o700)
        if not self.config.is_remote:
            Path(self.config.data_path).mkdir(parents=True, exist_ok=True)
        with self._writers_take_turns():
            if _is_catalog(file):
                return
            with closing(sqlite3.connect(file)) as catalog:  # WAL persists in the file: readers never wait
                catalog.execute("PRAGMA journal_mode=WAL")
            self._attach(con, read_only=False)  # DuckLake creates its tables
            con.execute(f"DETACH {ALIAS}")

    @contextmanager
    def _writers_take_turns(self, clean: bool = False) -> Iterator[None]:
        """Hold the local writers' lock. Its holder writes its pid in the lock file and clears it when
        its commit is done: a pid found there means the last holder's commit never finished (it
        died, or failed), and the files it wrote for it are deleted now (when `clean`), while no
        other writer can be writing any."""
        file = self.config.sqlite_file
        if file is None:  # PostgreSQL keeps writers apart itself; conflicts are retried
            yield
            return
        lock = file.with_name(file.name + ".lock")
        with exclusive_file_lock(lock, LOCK_WAIT_SECONDS, "the lake's commit lock"):
            died = lock.read_text(encoding="utf-8").strip()
            lock.write_text(str(os.getpid()), encoding="utf-8")
            if died and clean:  # on a connection of its own: a writer's may see only its domain's files
                with self.connect(read_only=False) as admin:
                    admin.execute(
                        f"SELECT * FROM ducklake_delete_orphaned_files({literal(ALIAS)}, older_than => now())"
                    ).fetchall()
            yield
            lock.write_text("", encoding="utf-8")

    # --- writing ------------------------------------------------------------------------------

    def commit(
        self,
        con: duckdb.DuckDBPyConnection,
        work: Callable[[duckdb.DuckDBPyConnection], None],
        *,
        message: str,
        info: Mapping[str, object],
    ) -> int:
        """Run `work` in one transaction of the lake and commit it as one snapshot; its id.

        A conflict with another writer (another process committed first) starts the whole
        transaction again, for up to RETRY_SECONDS; then a LakeError says what did not land.
        """
        deadline, attempt = time.monotonic() + RETRY_SECONDS, 0
        while True:
            attempt += 1
            try:
                with self._writers_take_turns(clean=True):
                    return self._commit_once(con, work, message, info)
            except duckdb.Error as error:
                if not _is_conflict(error) or time.monotonic() > deadline:
                    raise LakeError(f"{message}: not committed after {attempt} attempt(s): {error}") from error
            except TimeoutError as error:
                raise LakeError(f"{message}: not committed: {error}") from error
            time.sleep(min(0.05 * 2**attempt, 2.0))

    @staticmethod
    def _commit_once(
        con: duckdb.DuckDBPyConnection,
        work: Callable[[duckdb.DuckDBPyConnection], None],
        message: str,
        info: Mapping[str, object],
    ) -> int:
        con.execute("BEGIN TRANSACTION")
        try:
            work(con)
            author, text, extra = literal(AUTHOR), literal(message), literal(json.dumps(info, sort_keys=True))
            con.execute(f"CALL {ALIAS}.set_commit_message({author}, {text}, extra_info => {extra})")
            con.execute("COMMIT")
        except BaseException:
            with suppress(duckdb.Error):  # the failed commit may have ended the transaction already
                con.execute("ROLLBACK")
            raise
        return int(con.execute(f"SELECT id FROM {ALIAS}.last_committed_snapshot()").fetchall()[0][0])

    def publish(
        self,
        con: duckdb.DuckDBPyConnection,
        product: str,
        ports: Mapping[str, str],
        *,
        version: str,
        contract: str,
        contract_document: str,
        run_id: str | None,
    ) -> Publication:
        """Replace the ports of `product` (port name -> SELECT producing it) in one snapshot."""
        domain = product.split(".")[0]

        def replace_ports(con: duckdb.DuckDBPyConnection) -> None:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {ALIAS}.{quote(domain)}")
            for port, select in ports.items():
                con.execute(f"CREATE OR REPLACE TABLE {lake_table(f'{product}.{port}')} AS {select}")
            _keep_contract(con, contract, product, version, contract_document)

        info = {"product": product, "version": version, "contract": contract, "run_id": run_id, "ports": sorted(ports)}
        snapshot = self.commit(con, replace_ports, message=f"publish {product} {version}", info=info)
        published_at = con.execute(  # the snapshot just committed: one row
            f"SELECT snapshot_time FROM {ALIAS}.snapshots() WHERE snapshot_id = {int(snapshot)}"
        ).fetchall()[0][0]
        return Publication(snapshot, published_at, product, version, contract, run_id, tuple(sorted(ports)))

    # --- reading ------------------------------------------------------------------------------

    @staticmethod
    def current_snapshot(con: duckdb.DuckDBPyConnection) -> int:
        return int(con.execute(f"SELECT id FROM {ALIAS}.current_snapshot()").fetchall()[0][0])

    @staticmethod
    def publications(con: duckdb.DuckDBPyConnection, product: str | None = None) -> list[Publication]:
        """Publications still in the lake's history, oldest first; of one product (`hr.overtime`) if given."""
        # the author is a constant, written in: a bound parameter makes DuckDB import pandas (0.2 s),
        # and every code location reads this as it loads
        rows = con.execute(
            f"SELECT snapshot_id, snapshot_time, commit_extra_info FROM {ALIAS}.snapshots() "
            f"WHERE author = '{AUTHOR}' ORDER BY snapshot_id"
        ).fetchall()
        found = []
        for snapshot, at, text in rows:
            info = json.loads(text or "{}")
            if "product" in info and (product is None or info["product"] == product):
                found.append(
                    Publication(
                        snapshot,
                        at,
                        info["product"],
                        info["version"],
                        info["contract"],
                        info.get("run_id"),
                        tuple(info["ports"]),
                    )
                )
        return found

    def resolve(self, con: duckdb.DuckDBPyConnection, address: str, at: int | datetime | str | None) -> int | None:
        """The snapshot id `at` names for a port: an id, the last snapshot at a time, or the last
        publication of a product version (`"1.2.0"`); None for the current version."""
        if at is None:
            return None
        if isinstance(at, bool) or not isinstance(at, int | datetime | str):
            raise TypeError(f"at= takes a snapshot id, a datetime or a product version, not {at!r}")
        if isinstance(at, int):
            return at
        if isinstance(at, datetime):
            moment = at if at.tzinfo else at.replace(tzinfo=UTC)  # naive times are UTC, as stored
            (snapshot,) = con.execute(
                f"SELECT max(snapshot_id) FROM {ALIAS}.snapshots() WHERE snapshot_time <= $t", {"t": moment}
            ).fetchall()[0]  # an aggregate: one row, its value NULL when no snapshot is that old
            if snapshot is None:
                raise NotPublished(f"{address}: the lake's history starts after {moment.isoformat()}")
            return int(snapshot)
        product = address.rsplit(".", 1)[0]
        matching = [p for p in self.publications(con, product) if p.version == at and p.includes(address)]
        if not matching:
            kept = sorted({p.version for p in self.publications(con, product) if p.includes(address)})
            raise NotPublished(
                f"{address} was never published at version {at} in the lake's history "
                f"(versions kept: {', '.join(kept) or 'none'})"
            )
        return matching[-1].snapshot_id

    def read(
        self,
        con: duckdb.DuckDBPyConnection,
        address: str,
        at: int | datetime | str | None = None,
    ) -> duckdb.DuckDBPyRelation:
        """A port as a relation on `con`: its current version, or as of `at` (see `resolve`)."""
        snapshot = self.resolve(con, address, at)
        clause = "" if snapshot is None else f" AT (VERSION => {int(snapshot)})"
        try:
            relation = con.sql(f"SELECT * FROM {lake_table(address)}{clause}")
            relation.limit(0).fetchall()  # bind now, so a missing port is this call's error
        except (duckdb.CatalogException, duckdb.InvalidInputException) as error:
            where = "yet" if snapshot is None else f"at snapshot {snapshot}"
            raise NotPublished(f"port {address} has not been published {where}: {str(error).splitlines()[0]}") from None
        return relation

    # --- maintenance --------------------------------------------------------------------------

    def expire(
        self,
        con: duckdb.DuckDBPyConnection,
        keep: timedelta,
        grace: timedelta = timedelta(hours=1),
        orphans_after: timedelta = timedelta(days=1),
        now: datetime | None = None,
    ) -> dict[str, int]:
        """Forget snapshots older than `keep`, then delete the files no snapshot needs any more.

        The last publication of every product is kept whatever its age: it is the product's
        current version, and its record (version, contract, run) must outlive the retention.
        Files are deleted once they have been unneeded for `grace`, so a reader still on an
        expired snapshot can finish. Files that no commit ever recorded (a writer killed
        mid-publication) go once `orphans_after` old: longer than any publication takes, so
        a publication under way keeps its files.
        """
        now = now or datetime.now(UTC)
        latest = {p.product: p.snapshot_id for p in self.publications(con)}
        kept = {*latest.values(), self.current_snapshot(con)}
        old = [
            snapshot
            for (snapshot,) in con.execute(
                f"SELECT snapshot_id FROM {ALIAS}.snapshots() WHERE snapshot_time < $t ORDER BY 1", {"t": now - keep}
            ).fetchall()
            if snapshot not in kept
        ]
        counts = {"snapshots_expired": 0}
        with self._writers_take_turns(clean=True):
            if old:
                counts["snapshots_expired"] = len(
                    con.execute(
                        f"SELECT * FROM ducklake_expire_snapshots({literal(ALIAS)}, versions => $v)", {"v": old}
                    ).fetchall()
                )
            counts["files_deleted"] = len(
                con.execute(
                    f"SELECT * FROM ducklake_cleanup_old_files({literal(ALIAS)}, older_than => $t)", {"t": now - grace}
                ).fetchall()
            )
            counts["orphans_deleted"] = len(
                con.execute(
                    f"SELECT * FROM ducklake_delete_orphaned_files({literal(ALIAS)}, older_than => $t)",
                    {"t": now - orphans_after},
                ).fetchall()
            )
        return counts


def _keep_contract(con: duckdb.DuckDBPyConnection, contract: str, product: str, version: str, document: str) -> None:
    table = f"{ALIAS}.{PLATFORM_SCHEMA}.contracts"
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {ALIAS}.{PLATFORM_SCHEMA}")
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {table} (contract VARCHAR, product VARCHAR, version VARCHAR, document VARCHAR)"
    )
    c, p, v = literal(contract), literal(product), literal(version)
    con.execute(
        f"INSERT INTO {table} SELECT {c}, {p}, {v}, {literal(document)} WHERE NOT EXISTS "
        f"(SELECT 1 FROM {table} WHERE contract = {c} AND product = {p} AND version = {v})"
    )


def _is_catalog(file: Path) -> bool:
    if not file.is_file():
        return False
    try:
        with closing(sqlite3.connect(f"file:{file}?mode=ro", uri=True)) as catalog:
            return (
                catalog.execute("SELECT count(*) FROM sqlite_master WHERE name = 'ducklake_metadata'").fetchone()[0] > 0
            )
    except sqlite3.Error:
        return False


def without_password(text: str) -> str:
    """A catalog string (or a message quoting one) as it may be shown or shared: a libpq password
    left out, as `password=...` or in a URL's user part. The password reaches each process
    through its environment (PGPASSWORD), never through what the platform prints or exports."""
    text = re.sub(r"\s*\bpassword\s*=\s*('[^']*'|\S+)", "", text, flags=re.IGNORECASE)
    return re.sub(r"(://[^/:@\s]*):[^@/\s]*@", r"\1@", text)


def _is_conflict(error: duckdb.Error) -> bool:
    """Another writer got there first: worth starting the transaction again."""
    text = str(error).lower()
    return any(words in text for words in ("database is locked", "conflict", "concurrent", "could not serialize"))
