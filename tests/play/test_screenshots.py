"""``manage.py screenshots``: every page of the app, at phone (390 px) and laptop (1366 px)
width, in Debian's Chromium, on a showcase database of its own. The files are written,
and no page scrolls sideways (issue 18.2): wide tables scroll in their own box, game views
scale to the width."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.urls import resolve

from tests.support.authz import routes
from tests.support.browser import playwright_sync_api

# Routes that are not pages: data, downloads, probes, static files, and POST-only actions.
NOT_PAGES = (".json", ".jsonl", ".csv", "/api/", "healthz", "readyz", "metrics", "/static/")
POST_ONLY = {
    "logout", "agents:cancel", "agents:resume", "agents:publish", "annotations:queue_assign",
    "annotations:assignment_save", "annotations:assignment_submit", "annotations:assignment_reopen",
    "annotations:review_save", "play:abandon",
}  # fmt: skip
ENV_KINDS = {"babyai", "crafter", "textworld", "babaisai", "minihack", "nle"}


def every_page() -> set[str]:
    return {
        route.name
        for route in routes()
        if route.name not in POST_ONLY and not any(part in route.template for part in NOT_PAGES)
    }


@pytest.mark.slow
@pytest.mark.browser
def test_it_shoots_every_page_at_both_widths_and_none_scrolls_sideways(tmp_path: Path) -> None:
    playwright_sync_api()
    out = tmp_path / "shots"
    call_command("screenshots", str(out), stdout=StringIO())
    report = json.loads((out / "pages.json").read_text())
    assert {row["width"] for row in report} == {390, 1366}
    for row in report:
        assert (out / row["file"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", row
    shown = {resolve(urlsplit(row["path"]).path).view_name for row in report}
    assert every_page() - shown == set()
    played = {row["path"].split("/")[2] for row in report if row["path"].startswith("/play/")}
    assert played == ENV_KINDS  # and the showcase opens a live game of each
    too_wide = [f"{row['width']} {row['path']}: {row['overflow']} px ({row['widest']})" for row in report]
    assert [line for line, row in zip(too_wide, report, strict=True) if row["overflow"] > 0] == []
