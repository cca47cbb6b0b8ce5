"""platform_core: the self-serve data platform's shared toolkit.

Domains call `build_domain` from their `definitions.py`; everything else (specs, loader,
quality executors, storage, CLI) is importable from its own module.
"""

from platform_core.errors import PlatformError, Problem
from platform_core.factory import build_domain

__all__ = ["PlatformError", "Problem", "build_domain"]
