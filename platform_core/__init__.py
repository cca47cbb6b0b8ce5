"""platform_core: the self-serve data platform's shared toolkit.

Domains call `build_domain` from their `definitions.py`; everything else (specs, loader,
quality executors, storage, CLI) is importable from its own module.
"""

from platform_core.errors import PlatformError, Problem

__all__ = ["PlatformError", "Problem", "build_domain"]


def __getattr__(name: str):
    # Imported on first use, so `mesh` commands that never build Dagster definitions start fast.
    if name == "build_domain":
        from platform_core.dagster.factory import build_domain

        return build_domain
    raise AttributeError(f"module 'platform_core' has no attribute {name!r}")
