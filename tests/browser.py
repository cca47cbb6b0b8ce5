"""Headless Chromium for the browser tests: the binary, its flags, when to skip, and waiting for
what a page shows.

Shared by tests/test_ui.py (the Dagster UI) and tests/test_site.py (the docs site).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence

import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

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


# Every text in the page's text, whitespace collapsed as `expect(...).to_contain_text` does.
_SHOWS_ALL = """texts => {
  const shown = document.body.textContent.replace(/\\s+/g, " ");
  return texts.every(text => shown.includes(text));
}"""


def shows_all(page: Page, texts: Sequence[str]) -> None:
    """Wait until the page shows every one of `texts`. Asked at every frame, for all of them at once:
    the UI's parts load one after another, and an `expect` per text waits 0.1 to 1 s more between
    its tries. A text still missing at the page's timeout fails as its `expect` says it."""
    wanted = [" ".join(text.split()) for text in texts]
    try:
        page.wait_for_function(_SHOWS_ALL, arg=wanted)
    except PlaywrightTimeout:
        body = page.locator("body")
        for text in wanted:
            expect(body).to_contain_text(text, timeout=1000)


def follow_link(page: Page, path: str) -> None:
    """Go to `path` within the app the page has loaded, as its own links do: the history's next
    entry, and the event its router follows. The app is not loaded again, as it is not when a
    person clicks through it (1 s less per page for the Dagster UI)."""
    page.evaluate(
        "path => { history.pushState({}, '', path); dispatchEvent(new PopStateEvent('popstate', {state: {}})); }",
        path,
    )
