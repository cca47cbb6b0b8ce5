"""pandera, loaded for checking data only.

When hypothesis is installed (the test extras install it), pandera imports it on its first
validation, for generating example data, which the platform never asks of it: a quarter of a
second of every run that audits a pandas step. Its strategies are loaded here while hypothesis
is hidden, so they record once that it is absent; hypothesis itself stays importable as before.
"""

from __future__ import annotations

import sys

_HIDE = "hypothesis" not in sys.modules
if _HIDE:
    sys.modules["hypothesis"] = None  # type: ignore[assignment]  # `import hypothesis` raises ImportError
try:
    import pandera.pandas as pa
    import pandera.strategies.pandas_strategies  # noqa: F401 - decides, once, whether hypothesis is there
finally:
    if _HIDE:
        del sys.modules["hypothesis"]

__all__ = ["pa"]
