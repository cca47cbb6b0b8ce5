"""The warehouse as its readers see it: the published ports, at any version the lake keeps.

```python
warehouse = Warehouse(Path("warehouse"))            # or Warehouse.from_settings(Settings.from_env())
warehouse.read("hr.overtime.payroll_compensation")  # the current version, as a DuckDB relation
warehouse.read("hr.overtime.payroll_compensation", at="1.0.0")  # the last publication of version 1.0.0
at = warehouse.snapshot()                           # pin one snapshot to read several ports consistently
warehouse.read("hr.overtime.fact_overtime", at=at), warehouse.read("hr.overtime.dim_entity", at=at)
```

`at` takes a snapshot id, a datetime (naive means UTC) or a product version. Compute
databases are private to their domain's runs; readers never open them.

Each read is recorded in the usage journal (platform_core.storage.usage) under the reader's login,
with the columns it asked for (`columns=[...]` reads only those; without, every column counts as
read) and its purpose, when given: `warehouse.read(address, columns=["hours"], purpose="...")`.
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import duckdb

from platform_core.descriptors.files import FileState, file_state, read_own, settled, write_own
from platform_core.storage.lake import ALIAS, PLATFORM_SCHEMA, Lake, LakeConfig, NotPublished, Publication
from platform_core.storage.usage import Read, UsageLog


class WarehouseSettings(Protocol):
    """Where the warehouse is: what `platform_core.settings.Settings` holds (settings build on
    storage, not the reverse)."""

    @property
    def warehouse_root(self) -> Path: ...

    @property
    def lake_config(self) -> LakeConfig: ...


@dataclass(frozen=True)
class Warehouse:
    root: Path
    lake_config: LakeConfig | None = None  # None: the local lake under root
    login: str | None = None  # who reads, for the usage journal; None: the login of the process

    def __post_init__(self) -> None:
        # the lake's catalog records its data folder as an absolute path: `Warehouse(Path("warehouse"))`
        # is the same warehouse whatever the working directory was when it was made
        object.__setattr__(self, "root", Path(self.root).expanduser().resolve())

    @classmethod
    def from_settings(cls, settings: WarehouseSettings) -> Warehouse:
        return cls(settings.warehouse_root, settings.lake_config)

    @property
    def lake(self) -> Lake:
        return Lake(self.lake_config or LakeConfig.local(self.root))

    def database(self, domain: str) -> Path:
        """The domain's compute database."""
        return self.root / "compute" / f"{domain}.duckdb"

    def reader(self) -> duckdb.DuckDBPyConnection:
        """A connection of its own to an in-memory DuckDB with the lake attached read-only, as `lake`."""
        return _reading_database(self.lake.config).cursor()

    def record(self, address: str, columns: Sequence[str], purpose: str | None = None) -> None:
        """Record a read of a port by this reader (its login), with the columns it read."""
        login = self.login or getpass.getuser()
        self.usage.record([Read(datetime.now(UTC), "python", login, address, tuple(columns), purpose=purpose)])

    @property
    def usage(self) -> UsageLog:
        """The usage journal: who read which port, through any surface."""
        return UsageLog(self.root / "usage")

    def read(
        self,
        address: str,
        at: int | datetime | str | None = None,
        *,
        columns: Sequence[str] | None = None,
        purpose: str | None = None,
    ) -> duckdb.DuckDBPyRelation:
        """A port (`<domain>.<product>.<port>`) as a DuckDB relation: current, or as of `at`; only
        `columns` when given. The read is recorded in the usage journal."""
        relation = self.lake.read(self.reader(), address, at)
        if columns is not None:
            relation = relation.select(*(duckdb.ColumnExpression(c) for c in columns))
        self.record(address, tuple(relation.columns), purpose)
        return relation

    def snapshot(self) -> int:
        """The lake's current snapshot id."""
        with self.reader() as con:
            return self.lake.current_snapshot(con)

    def publications(self, address: str) -> list[Publication]:
        """Every publication kept of a product (`hr.overtime`) or of a port's product, oldest first;
        for a port, only those that included it."""
        product = address if address.count(".") == 1 else address.rsplit(".", 1)[0]
        try:
            with self.reader() as con:
                found = self.lake.publications(con, product)
        except NotPublished:
            return []
        return found if address == product else [p for p in found if p.includes(address)]

    def current(self, address: str) -> Publication | None:
        """The publication a port's current version comes from, or None before its first."""
        found = self.publications(address)
        return found[-1] if found else None

    def published_contract(self, product: str) -> str | None:
        """The contract document (JSON) the product (`hr.overtime`) was last published under."""
        return self.published_contracts().get(product)

    def published_contracts(self) -> dict[str, str]:
        """Each published product's (`hr.overtime`) last contract document (JSON), in one read of
        the lake: governance asks for every product of a domain when its location loads. Kept
        beside a local catalog while the catalog is unchanged (`KeptContracts`)."""
        kept = KeptContracts.of(self.lake.config)
        documents = kept.read() if kept else None
        if documents is None:
            documents = self._read_published_contracts()
            if kept:
                kept.write(documents)
        return documents

    def _read_published_contracts(self) -> dict[str, str]:
        try:
            with self.reader() as con:
                last = {p.product: p for p in self.lake.publications(con)}  # oldest first: the last one stays
                rows = (
                    con.execute(
                        f"SELECT product, version, contract, document FROM {ALIAS}.{PLATFORM_SCHEMA}.contracts"
                    ).fetchall()
                    if last
                    else []
                )
        except NotPublished:
            return {}
        documents = {(product, version, contract): document for product, version, contract, document in rows}
        return {
            product: documents[key]
            for product, p in last.items()
            if (key := (product, p.version, p.contract)) in documents
        }


@dataclass(frozen=True)
class KeptContracts:
    """The published contracts of a lake with a local (SQLite) catalog, kept in a file beside
    it with the catalog's state when they were read. Every commit writes the catalog, so an
    unchanged catalog (and write-ahead log) means unchanged contracts; reading them again costs
    a process that loads a domain 0.2 s, most of it loading DuckDB's lake extensions. Kept only
    while the catalog is not racily new; read only when this user alone could have written it."""

    catalog: Path
    state: tuple[FileState | None, FileState | None]

    @classmethod
    def of(cls, config: LakeConfig) -> KeptContracts | None:
        catalog = config.sqlite_file
        if catalog is None:
            return None
        log = file_state(f"{catalog}-wal")
        # an empty log is no log: SQLite makes one for a reader, and removes it when the last closes
        state = (file_state(catalog), log if log and log[0] else None)
        return cls(catalog, state) if state[0] is not None and all(settled(s) for s in state) else None

    @property
    def path(self) -> Path:
        return self.catalog.with_name(f".{self.catalog.name}.contracts.json")

    def read(self) -> dict[str, str] | None:
        data = read_own(self.path)
        try:
            kept = json.loads(data) if data is not None else None
        except ValueError:
            return None
        if not isinstance(kept, dict) or kept.get("state") != json.loads(json.dumps(self.state)):
            return None
        documents = kept.get("documents")
        return documents if isinstance(documents, dict) else None

    def write(self, documents: dict[str, str]) -> None:
        """A failure to write only costs the next load its read of the lake."""
        with contextlib.suppress(OSError):
            write_own(self.path, json.dumps({"state": self.state, "documents": documents}).encode())


@functools.lru_cache(maxsize=8)
def _reading_database(config: LakeConfig) -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB per process and lake, for readers: loading the lake's extensions costs
    about 0.3 s per database, a cursor on this one 1 ms. Each query still reads the lake's latest
    commit (or the snapshot it names); cursors keep their own transactions and temporary objects."""
    Lake(config).check_readable()  # a fresh warehouse answers at once, with no database opened
    con = duckdb.connect()
    try:
        con.execute("SET GLOBAL TimeZone = 'UTC'")
        Lake(config).attach(con, read_only=True)
    except BaseException:
        con.close()
        raise
    return con
