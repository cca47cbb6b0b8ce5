"""Processes of this machine: whether one still runs, told apart from a later one with its pid.

A pid alone is reused once its process has exited; its start time (in clock ticks since boot,
/proc/<pid>/stat) names one process for as long as the machine runs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _state(pid) != "Z"  # a zombie has exited; its parent has not collected it yet


def _stat(pid: int) -> list[str]:
    text = read_proc(f"/proc/{pid}/stat")
    return text.rsplit(")", 1)[1].split() if ")" in text else []


def _state(pid: int) -> str:
    fields = _stat(pid)
    return fields[0] if fields else ""


def start_ticks(pid: int) -> str | None:
    fields = _stat(pid)
    return fields[19] if len(fields) > 19 else None


def read_proc(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def stamp(pid: int | None = None) -> str:
    """This process (or `pid`) as `<pid>.<start ticks>`, a name no later process of the machine shares."""
    pid = os.getpid() if pid is None else pid
    return f"{pid}.{start_ticks(pid) or ''}"


def stamp_alive(name: str) -> bool | None:
    """Whether the process a `stamp` names still runs; None when `name` is not a stamp."""
    pid, dot, ticks = name.partition(".")
    if not (pid.isdigit() and dot and ticks.isdigit()):
        return None
    return running(int(pid)) and start_ticks(int(pid)) == ticks


def owned_folder(parent: Path, prefix: str) -> Path:
    """A new folder under `parent` that only this user may enter, named `<prefix><stamp>-<random>`
    after this process, so that a later run can tell its owner died with it (`reap_folders`).
    Folders of owners that died are removed first."""
    reap_folders(parent, prefix)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{stamp()}-", dir=parent))


def reap_folders(parent: Path, prefix: str) -> None:
    """Remove the folders `owned_folder` made under `parent` whose process died, killed before it
    could remove them, with what they held. A folder whose name holds no stamp is left alone."""
    for folder in parent.glob(f"{prefix}*"):
        owner = folder.name.removeprefix(prefix).rsplit("-", 1)[0]
        if stamp_alive(owner) is False:
            shutil.rmtree(folder, ignore_errors=True)
