"""Who read which port, when, for what, and which of its columns: the usage journal.

Every surface a port is read through writes here: a consumer product's run (the columns its steps'
SQL reads, from the parse tree), people through the serving database (their statements, collected
from PostgreSQL's statistics), and `Warehouse.read` in Python. One JSON line per read, appended to
a file of the writing process under a folder per day:

    <warehouse>/usage/day=2026-12-05/<host>-<pid>.jsonl

so that writers never share a file and a day's reads are dropped whole when they pass the
retention. DuckDB reads the folder as one table (`read_json('<warehouse>/usage/*/*.jsonl')`);
`platform_core.governance.readers` turns it into who reads what, and the catalog publishes it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal

import duckdb

from platform_core.descriptors.names import literal

Surface = Literal["run", "serving", "python"]
_DAY = "day="
_WRITING = threading.Lock()  # threads of one process append to its one file in turn


@dataclass(frozen=True)
class Read:
    """Reads of one port by one reader: a product's run, a person's statements, a Python read."""

    at: datetime  # UTC; for statements collected together, when they were collected
    surface: Surface
    reader: str  # a product's address (runs), or a person's login
    address: str  # the port read: <domain>.<product>.<port>
    columns: tuple[str, ...]  # every column the reads touched
    purpose: str | None = None  # why, as the input, grant or consumer entry says
    groups: tuple[str, ...] = ()  # the person's groups the read is on behalf of
    reads: int = 1  # statements, runs or calls counted in this line
    rows: int | None = None  # rows read, when known
    run_id: str | None = None

    def line(self) -> str:
        return json.dumps({**asdict(self), "at": self.at.astimezone(UTC).isoformat()}, sort_keys=True) + "\n"


@dataclass(frozen=True)
class UsageLog:
    root: Path  # <warehouse>/usage

    def record(self, reads: Iterable[Read]) -> None:
        """Append the reads, each to the folder of its day, in one write per day."""
        by_day: dict[date, list[str]] = {}
        for read in reads:
            by_day.setdefault(read.at.astimezone(UTC).date(), []).append(read.line())
        name = f"{socket.gethostname()}-{os.getpid()}.jsonl"
        with _WRITING:
            for day, lines in by_day.items():
                folder = self.root / f"{_DAY}{day.isoformat()}"
                folder.mkdir(parents=True, exist_ok=True)
                with open(folder / name, "a", encoding="utf-8") as journal:
                    journal.write("".join(lines))

    def reads(self, since: datetime | None = None, within: str | None = None) -> list[Read]:
        """Every read kept (from `since` on), of ports under `within` (a domain, product or port)."""
        with _reading() as con:
            rows = con.execute(f'SELECT {_COLUMNS} FROM ({self.select(since, within)}) ORDER BY "at"').fetchall()
        found = [dict(zip(_TYPES, row, strict=True)) for row in rows]
        return [Read(**{**r, "columns": tuple(r["columns"] or ()), "groups": tuple(r["groups"] or ())}) for r in found]

    def summary(self, since: datetime | None = None, within: str | None = None) -> list[ReadSummary]:
        """The reads kept, added up per port, surface, reader, groups and purpose, with the days
        they were made on: what `platform_core.governance.readers` asks, read by DuckDB."""
        query = f"""
            WITH daily AS (
                SELECT address, surface, reader, groups, purpose, CAST("at" AS DATE) AS day, sum(reads) AS reads,
                       max("at") AS last, flatten(list(columns)) AS columns
                FROM ({self.select(since, within)}) GROUP BY ALL
            )
            SELECT address, surface, reader, groups, purpose, sum(reads)::BIGINT, max(last),
                   list_sort(list_distinct(flatten(list(columns)))), list_sort(list((day, reads::BIGINT)))
            FROM daily GROUP BY ALL ORDER BY ALL"""
        with _reading() as con:
            rows = con.execute(query).fetchall()
        return [
            ReadSummary(
                address,
                surface,
                reader,
                tuple(groups),
                purpose,
                reads,
                last,
                tuple(columns),
                tuple((day, n) for day, n in days),
            )
            for address, surface, reader, groups, purpose, reads, last, columns, days in rows
        ]

    def select(self, since: datetime | None = None, within: str | None = None) -> str:
        """The journal as a SELECT DuckDB runs (only the days from `since` on are opened): one row
        per complete line, under ports `within`."""
        files = [str(file) for folder in self._days(since) for file in sorted(folder.glob("*.jsonl"))]
        if not files:
            return f"SELECT {_NOTHING} LIMIT 0"
        types = "{" + ", ".join(f"{literal(name)}: {literal(kind)}" for name, kind in _TYPES.items()) + "}"
        where = ['"at" IS NOT NULL', "address IS NOT NULL"]  # a line a writer is still appending reads as NULLs
        if since is not None:
            where.append(f'"at" >= {literal(since.astimezone(UTC).isoformat())}::TIMESTAMPTZ')
        if within is not None:
            where.append(f"(address = {literal(within)} OR starts_with(address, {literal(within + '.')}))")
        listed = "[" + ", ".join(literal(f) for f in files) + "]"
        return (
            f"SELECT * FROM read_json({listed}, format = 'newline_delimited', columns = {types}, ignore_errors = true)"
            f" WHERE {' AND '.join(where)}"
        )

    def oldest(self) -> date | None:
        """The first day the journal still keeps, or None when it keeps none."""
        first = next(self._days(None), None)
        return date.fromisoformat(first.name.removeprefix(_DAY)) if first is not None else None

    def prune(self, retention: timedelta, now: datetime | None = None) -> int:
        """Drop the days older than `retention`; how many were dropped."""
        oldest = ((now or datetime.now(UTC)) - retention).date()
        dropped = 0
        for folder in self._days(None):
            if date.fromisoformat(folder.name.removeprefix(_DAY)) < oldest:
                shutil.rmtree(folder, ignore_errors=True)
                dropped += 1
        return dropped

    def _days(self, since: datetime | None) -> Iterator[Path]:
        if not self.root.is_dir():
            return
        first = since.astimezone(UTC).date() if since else date.min
        for folder in sorted(self.root.glob(f"{_DAY}*")):
            try:
                day = date.fromisoformat(folder.name.removeprefix(_DAY))
            except ValueError:
                continue  # not a day's folder
            if day >= first:
                yield folder


@dataclass(frozen=True)
class ReadSummary:
    """The reads of one port by one reader, for one purpose and set of groups, added up."""

    address: str
    surface: Surface
    reader: str
    groups: tuple[str, ...]
    purpose: str | None
    reads: int
    last: datetime
    columns: tuple[str, ...]
    per_day: tuple[tuple[date, int], ...]


_TYPES = {
    "at": "TIMESTAMPTZ",
    "surface": "VARCHAR",
    "reader": "VARCHAR",
    "address": "VARCHAR",
    "columns": "VARCHAR[]",
    "purpose": "VARCHAR",
    "groups": "VARCHAR[]",
    "reads": "BIGINT",
    "rows": "BIGINT",
    "run_id": "VARCHAR",
}
_COLUMNS = ", ".join(f'"{name}"' for name in _TYPES)  # `at` is a keyword of DuckDB's: quoted
_NOTHING = ", ".join(f'NULL::{kind} AS "{name}"' for name, kind in _TYPES.items())


@contextmanager
def _reading() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB that reads the journal's files (and no other database), in UTC."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        yield con
    finally:
        con.close()
