"""Concurrency pool slots taken one process at a time, whatever stores the instance.

Dagster claims a slot by reading a free one and then updating it. Neither its SQLite storage
(which ignores `FOR UPDATE`) nor its PostgreSQL storage (whose claim commits before the slot
is taken) keeps two processes from taking a pool's last slot at the same moment. Each of the
platform's event log storages holds a lock of its own around every method that reads and
changes slots or the queue of pending steps: a file lock on SQLite
(`platform_core.dagster.instance_storage`), an advisory lock on PostgreSQL
(`platform_core.dagster.postgres_storage`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

Method = TypeVar("Method", bound=Callable[..., Any])
Storage = TypeVar("Storage", bound=type)

# Dagster's event log methods that read and change slots or pending steps, claims aside (each
# storage wraps its claim itself).
SLOT_METHODS = (
    "free_concurrency_slot_for_step",
    "free_concurrency_slots_for_run",
    "assign_pending_steps",
    "set_concurrency_slots",
    "initialize_concurrency_limit_to_default",
    "delete_concurrency_limit",
)


def serialized(method: Method) -> Method:
    """The method, run while its storage holds `slots_locked()`."""

    @wraps(method)
    def run_alone(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self.slots_locked():
            return method(self, *args, **kwargs)

    # run_alone takes and returns what `method` does (wraps() copies its signature); mypy cannot follow that
    return cast(Method, run_alone)


def slot_methods_serialized(cls: Storage) -> Storage:
    """Class decorator: every method of SLOT_METHODS, the class's own or inherited, serialized."""
    for name in SLOT_METHODS:
        setattr(cls, name, serialized(getattr(cls, name)))
    return cls
