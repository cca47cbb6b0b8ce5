"""Close a DuckDB database to the outside world before domain SQL runs on it.

After `close_external_access`, SQL on the connection reaches only the files and folders
named here (a product's declared source files, the lake's data, DuckDB's own spill folder):
no other file, no URL, no ATTACH, no INSTALL, no setting change. DuckDB enforces it, for the
whole database and for good, so a step's SQL, a rule's expression or a pandas step's query
cannot read `/etc/passwd`, the process environment or another domain's files, however it
is written. (A pandas step's Python is code, not data: it runs as the process does.)
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import duckdb

from platform_core.descriptors.names import literal


def _list(items: Iterable[str]) -> str:
    return "[" + ", ".join(literal(item) for item in items) + "]"


def close_external_access(
    con: duckdb.DuckDBPyConnection, *, files: Iterable[Path] = (), directories: Iterable[str] = ()
) -> None:
    """Let SQL on `con`'s database reach only `files` and what lies under `directories`, from now on."""
    (spill,) = con.execute("SELECT current_setting('temp_directory')").fetchall()[0]  # one row: the setting
    folders = [*directories, *([spill] if spill else [])]
    con.execute(f"SET allowed_directories = {_list(f.rstrip('/') + '/' for f in folders)}")
    con.execute(f"SET allowed_paths = {_list(str(f) for f in files)}")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
