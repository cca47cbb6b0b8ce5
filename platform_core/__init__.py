"""platform_core: the self-serve data platform's shared toolkit.

Domains call `build_domain` from their `definitions.py`; a `dg` project declares products with
the `DataProduct` component type (`type: platform_core.DataProduct`). Everything else (specs,
loader, quality executors, storage, CLI) is importable from its own module.
"""

from typing import TYPE_CHECKING

from platform_core.errors import PlatformError, Problem

if TYPE_CHECKING:  # what the lazy attributes below are, for type checkers
    from platform_core.dagster.component import DataProduct
    from platform_core.dagster.factory import build_domain

__all__ = ["DataProduct", "PlatformError", "Problem", "build_domain"]


def __getattr__(name: str) -> object:
    # Imported on first use, so that `mesh` commands that never build Dagster definitions start fast.
    if name == "build_domain":
        from platform_core.dagster.factory import build_domain

        return build_domain
    if name == "DataProduct":
        from platform_core.dagster.component import DataProduct

        return DataProduct
    raise AttributeError(f"module 'platform_core' has no attribute {name!r}")


def __dir__() -> list[str]:
    # `dg` finds component types by listing this module (the dagster_dg_cli.registry_modules entry point)
    return sorted({*globals(), *__all__})
