"""Debian's Chromium driven by Playwright's Python package: the one way the
browser tests find and launch it (no browser download; scripts/test installs
the apt package)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-background-networking"]


def playwright_sync_api() -> Any:
    """Playwright's sync API, or skip the caller (a module at import, or a
    test) when Playwright or Chromium is missing."""
    api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)
    return api


def launch(playwright: Any) -> Any:
    """A headless Chromium from a running ``sync_playwright()``."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)


def log_in(page: Any, base: str, username: str, password: str) -> None:
    """Log in through the login page, as a person does, and wait for the page after it."""
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]")
    page.wait_for_load_state("networkidle")
