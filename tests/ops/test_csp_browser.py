"""Every page under the production Content-Security-Policy (no 'unsafe-inline'
for scripts or styles), in Debian's Chromium: each page carries the header
and the browser reports no violation while it loads and runs its scripts.

The pages are the accessibility test's (the authorization matrix's routes,
filled with the XSS test's world), seen by the persona allowed there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import launch, log_in, playwright_sync_api
from tests.support.hostile import NOT_PAGES, PAGES_DATA, who_sees
from tests.support.servers import server_with_data
from tests.support.settings_files import example_entries

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def violations_of(api: Any, page: Any, url: str, policy: str) -> list[str] | None:
    """The CSP violations Chromium reports while ``url`` loads and settles;
    None when it is not a page."""
    reported: list[str] = []
    page.on("console", lambda message: reported.append(message.text) if "Security Policy" in message.text else None)
    try:
        response = page.goto(url)
    except api.Error:  # an empty error answer (405 on a POST-only route)
        return None
    if response is None or response.status not in (200, 400):
        return None
    assert response.headers.get("content-security-policy") == policy, url
    page.wait_for_load_state("networkidle")
    return reported


def test_it_renders_every_page_without_a_csp_violation(tmp_path: Path) -> None:
    api = playwright_sync_api()
    policy = str(example_entries()["BALROG_CSP"])
    assert "unsafe-inline" not in policy and "style-src 'self';" in policy
    server, routes = server_with_data(tmp_path, PAGES_DATA, BALROG_CSP=policy)
    pages = [(who_sees(level), url) for _, level, url in routes if not any(part in url for part in NOT_PAGES)]
    failures: list[str] = []
    checked = 0
    try:
        with api.sync_playwright() as playwright:
            browser = launch(playwright)
            for who in ("annie", "root"):
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                login_page = context.new_page()
                log_in(login_page, server.base, who, "pw-browser-123")
                login_page.close()
                for persona, url in pages:
                    if persona == who:
                        view = context.new_page()  # a fresh tab: an error answer leaves none behind
                        found = violations_of(api, view, f"{server.base}{url}", policy)
                        view.close()
                        checked += found is not None
                        failures += [f"{url}: {text[:160]}" for text in found or []]
                context.close()
            browser.close()
    finally:
        server.stop()
    assert failures == []
    assert checked >= 20
