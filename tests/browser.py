"""Headless Chromium for the browser tests: the binary, its flags, and when to skip.

Shared by tests/test_ui.py (the Dagster UI) and tests/test_site.py (the docs site).
"""

from __future__ import annotations

import os
import shutil

import pytest

BROWSER_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_or_skip() -> str:
    """The Chromium binary; skips the test where there is none, except under CI, which must run it."""
    executable = os.environ.get("MESH_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail("CI must run the browser tests: scripts/browser.sh installs Debian's chromium")
        pytest.skip("no Chromium on this machine (scripts/browser.sh installs Debian's chromium)")
    return executable
