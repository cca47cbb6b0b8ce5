"""The Dagster webserver as scripts/platform.sh runs it: `dagster-webserver`, with what it has
loaded kept out of the way of Python's garbage collector.

    python -m platform_core.dagster.webserver -w workspace.yaml -h 127.0.0.1 -p 3000

A webserver holds its code locations' snapshots: about 270,000 Python objects for the demo mesh.
Python's full collection walks through every one of them whenever enough new objects have
outlived the younger collections, and answering GraphQL makes many: one question in three or
four to the UI waited about 160 ms more than the others (docs/benchmarks.md). So, 1, 2, 4, ...
seconds after the start (the workspace loads in the first few), then every `FREEZE_SECONDS`,
what the webserver still holds after a collection is frozen (`gc.freeze`): Python's full
collections no longer walk it. Every `THAW_SECONDS` it is thawed first, so that one full
collection walks everything, and what a workspace reload or a finished request left behind in
cycles is still freed.

The arguments are `dagster-webserver`'s own.
"""

from __future__ import annotations

import gc
import sys
import threading
import time

FREEZE_SECONDS = 30.0
THAW_SECONDS = 600.0


def keep_loaded_objects_frozen(freeze_seconds: float = FREEZE_SECONDS, thaw_seconds: float = THAW_SECONDS) -> None:
    """In a daemon thread, from now on: after 1, 2, 4, ... seconds, then every `freeze_seconds`,
    collect what is not frozen and freeze what is left; every `thaw_seconds`, thaw everything
    first, for one full collection."""

    def keep() -> None:
        thawed, wait = time.monotonic(), min(1.0, freeze_seconds)
        while True:
            time.sleep(wait)
            wait = min(wait * 2, freeze_seconds)
            if time.monotonic() - thawed >= thaw_seconds:
                gc.unfreeze()
                thawed = time.monotonic()
            gc.collect()  # frozen objects are not walked: this collects what came since the last time
            gc.freeze()

    threading.Thread(target=keep, name="gc-freeze", daemon=True).start()


def main() -> None:
    from dagster_webserver.cli import main as webserver

    keep_loaded_objects_frozen()
    sys.argv[0] = "dagster-webserver"
    webserver()


if __name__ == "__main__":
    main()
