"""axe-core (the copy axe-playwright-python ships) on every page of the app, the Django admin
aside, at desktop and phone size, in Debian's Chromium: no critical or serious violation.

The pages are the authorization matrix's routes (so a new page is checked without anyone
remembering to), filled with the XSS test's world (a run, a model episode in a queue, an
annotator's assignment, a player's games), seen by the persona allowed there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import launch, log_in, playwright_sync_api
from tests.support.hostile import NOT_PAGES, PAGES_DATA, who_sees
from tests.support.servers import server_with_data

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
BLOCKING = {"critical", "serious"}
def axe_script() -> str:
    import axe_playwright_python

    return str(Path(axe_playwright_python.__file__).with_name("axe.min.js"))


def blocking_violations(page: Any) -> list[str]:
    page.add_script_tag(path=axe_script())
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{rule['id']} ({rule['impact']}): {[node['target'] for node in rule['nodes']][:3]}"
        for rule in result["violations"]
        if rule["impact"] in BLOCKING
    ]


def check_page(page: Any, api: Any, url: str, where: str, skipped: list[str]) -> list[str] | None:
    """The page's blocking violations; None when it is not a page (a POST-only route, a missing object)."""
    try:
        response = page.goto(url)
    except api.Error as exc:  # an empty error answer (405 on a POST-only route)
        skipped.append(f"{where}: {str(exc)[:60]}")
        return None
    if response is None or response.status not in (200, 400):  # 400: a page explaining a refusal
        skipped.append(f"{where}: {response.status if response else None}")
        return None
    page.wait_for_load_state("networkidle")
    return [f"{where}: {violation}" for violation in blocking_violations(page)]


@pytest.mark.slow
@pytest.mark.browser
def test_it_has_no_serious_accessibility_violation_on_any_page(tmp_path: Path) -> None:
    api = playwright_sync_api()
    sync_playwright = api.sync_playwright
    pytest.importorskip("axe_playwright_python")

    server, routes = server_with_data(tmp_path, PAGES_DATA)
    pages = [(name, who_sees(level), url) for name, level, url in routes if not any(n in url for n in NOT_PAGES)]
    failures: list[str] = []
    checked: set[str] = set()
    skipped: list[str] = []
    try:
        with sync_playwright() as p:
            browser = launch(p)
            for size, (width, height) in SIZES.items():
                for who in ("annie", "root"):
                    context = browser.new_context(viewport={"width": width, "height": height})
                    page = context.new_page()
                    log_in(page, server.base, who, "pw-browser-123")
                    for name, persona, url in pages:
                        if persona == who:
                            view = context.new_page()  # a fresh tab: an error answer leaves none behind
                            found = check_page(view, api, f"{server.base}{url}", f"{size} {url} ({name})", skipped)
                            view.close()
                            if found is not None:
                                checked.add(name)
                                failures += found
                    context.close()
            browser.close()
    finally:
        server.stop()
    print(f"\naxe: {len(checked)} pages checked at {len(SIZES)} sizes: {sorted(checked)}; not pages: {skipped}")
    assert failures == []
    assert len(checked) >= 20
