"""How a run's database receives the masking key when it publishes.

The key must reach DuckDB without the ways that would leak it or cost the run:
- Not in SQL text: DuckDB's query log, once switched on, records every later statement, and
  `enable_logging` is a table function that the locked configuration does not stop. The loader
  refuses it in a step's SQL (it is no declared input); the key does not rest on that one check.
- Not in a file the database may read while the steps run: their SQL could read it too.
- Not through a bound parameter either, where that can be helped: binding any Python value
  makes DuckDB import pandas, a quarter of a second of every run that masks.

So a run that may publish masked ports makes an empty folder in shared memory (tmpfs, never
written to disk) before its steps run, and lets its database read there. When it publishes,
after its last step, the key is written into that folder, read into a one-row temporary table
(platform_core.governance.access.KEY_TABLE), and removed at once: the file lives for the one
statement that reads it, and that statement names a path, not the key. Where the machine has no
shared memory folder, the key is bound as a parameter.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb

from platform_core.descriptors.names import literal, quote
from platform_core.execution.processes import owned_folder

SHARED_MEMORY = Path("/dev/shm")
FOLDER_PREFIX = "mesh-key-"  # mesh-key-<process stamp>-<random>: a killed run's folder goes with the next


class KeyHandover:
    """The masking key of one run, and the folder its database reads it from (`directories`, to
    be allowed before the run's steps run); `load` makes the key table, `close` removes the folder."""

    def __init__(self, key: str) -> None:
        self.key = key
        usable = SHARED_MEMORY.is_dir() and os.access(SHARED_MEMORY, os.W_OK | os.X_OK)
        self.folder = owned_folder(SHARED_MEMORY, FOLDER_PREFIX) if usable else None

    def __enter__(self) -> KeyHandover:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def directories(self) -> list[str]:
        return [str(self.folder)] if self.folder else []

    def load(self, con: duckdb.DuckDBPyConnection, table: str) -> None:
        """Make `table`, a temporary table of one row holding the key in column `key`."""
        create = f"CREATE OR REPLACE TEMP TABLE {quote(table)} AS"
        if self.folder is None:
            con.execute(f"{create} SELECT $key AS key", {"key": self.key})
            return
        path = self.folder / "key"
        # created here, by this process, or not at all: never a file or link something else left
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                file.write(self.key)
            con.execute(f"{create} SELECT content AS key FROM read_text({literal(str(path))})")
        finally:
            path.unlink(missing_ok=True)

    def close(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
