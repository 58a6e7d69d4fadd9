"""Debian's Chromium driven by Playwright's Python package, for what drives the
pages in a real browser (``manage.py screenshots``, and the browser tests through
tests/support/browser.py): where Chromium is, how it is launched, how a person
logs in. Playwright itself is imported by the callers: it is a development
dependency."""

from __future__ import annotations

from typing import Any

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-background-networking"]


def launch(playwright: Any) -> Any:
    """A headless Chromium from a running ``sync_playwright()``."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)


def log_in(page: Any, base: str, username: str, password: str) -> None:
    """Log in through the login page, as a person does, and wait for the page after it."""
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    # The page's own form: a logged-in header holds a log-out form too, before it.
    page.click("main form button[type=submit]")
    page.wait_for_load_state("networkidle")
