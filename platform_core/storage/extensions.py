"""The DuckDB extensions the lake needs, installed from their Python wheels, never downloaded.

DuckDB fetches extensions from its own server, which a locked-down machine cannot reach.
PyPI carries the same files as wheels (`duckdb-extension-ducklake`, ...), pinned to the
DuckDB release they were built for, so the project declares them like any dependency and
installs each into DuckDB's extension folder the first time it is missing. After that,
any DuckDB client on the machine (a notebook, a BI tool) can `LOAD` them offline too.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import duckdb

# DuckDB's name for each extension, and the wheel's package that carries its file.
WHEELS = {
    "ducklake": ("duckdb_extension_ducklake", "duckdb-extension-ducklake"),
    "sqlite_scanner": ("duckdb_extension_sqlite", "duckdb-extension-sqlite"),
    "postgres_scanner": ("duckdb_extension_postgres", "duckdb-extension-postgres"),
    "httpfs": ("duckdb_extension_httpfs", "duckdb-extension-httpfs"),
}


class ExtensionError(RuntimeError):
    """An extension that is neither installed nor available from its wheel; says what to install."""


def load(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Load extension `name` into `con`, installing it from its wheel first when DuckDB lacks it."""
    if not name.isidentifier():
        raise ExtensionError(f"{name!r} is not an extension name")
    # A literal, not a parameter: binding a Python value makes DuckDB import pandas (0.3-0.8 s),
    # which every command that opens the lake would pay.
    row = con.execute(f"SELECT installed, loaded FROM duckdb_extensions() WHERE extension_name = '{name}'").fetchone()
    if row is not None and row[1]:
        return
    if row is None or not row[0]:
        install(con, name)
    con.execute(f"LOAD {name}")


def install(con: duckdb.DuckDBPyConnection, name: str) -> None:
    file = wheel_file(name)
    # The path comes from the installed wheel; quoting still escapes it.
    con.execute("INSTALL '" + str(file).replace("'", "''") + "'")


def wheel_file(name: str) -> Path:
    """The extension file inside its wheel, for the running DuckDB version."""
    package, distribution = WHEELS[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ExtensionError(
            f"the DuckDB extension {name!r} is not installed and cannot be downloaded here: "
            f"install the {distribution}=={duckdb.__version__} package"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "extensions" / f"v{duckdb.__version__}"
    files = sorted(folder.glob("*.duckdb_extension"))
    if not files:
        raise ExtensionError(
            f"{distribution} holds no extension for DuckDB {duckdb.__version__} (in {folder}): "
            f"install {distribution}=={duckdb.__version__}"
        )
    return files[0]


def main(argv: list[str] | None = None) -> None:
    """`python -m platform_core.storage.extensions [NAME ...]`: install extensions ahead of time."""
    names = (argv if argv is not None else sys.argv[1:]) or ["ducklake", "sqlite_scanner"]
    with duckdb.connect() as con:
        for name in names:
            load(con, name)
            print(f"{name}: installed for DuckDB {duckdb.__version__}")


if __name__ == "__main__":
    main()
