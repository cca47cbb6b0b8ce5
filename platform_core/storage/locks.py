"""An exclusive lock that several processes of one machine take on a file.

The kernel releases it when its holder exits, however it exits (SIGKILL included), so a
crashed process never leaves it held.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def exclusive_file_lock(path: Path, timeout: float, purpose: str) -> Iterator[None]:
    """Hold an exclusive `flock` on `path` (created when missing); TimeoutError after `timeout` seconds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a")
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"waited {timeout:.0f} s for {path} ({purpose}); another process still holds it"
                    ) from None
                time.sleep(0.05)
    except BaseException:
        handle.close()
        raise
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
