"""Debian's Chromium driven by Playwright's Python package, against the
production server (``manage.py serve``) in a subprocess: the one way the browser
tests find and launch it (no browser download; scripts/test installs the apt
package), and what they do on the play page. The fixtures (``server``,
``browser``, ``page``) are in tests/support/fixtures_browser.py."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ops.browser import CHROMIUM, launch, log_in

__all__ = [
    "TIMEOUT_MS",
    "SqliteServer",
    "launch",
    "log_in",
    "playwright_sync_api",
    "start",
    "wait_online",
    "wait_replay_at",
    "wait_version",
]

TIMEOUT_MS = 30_000


def playwright_sync_api() -> Any:
    """Playwright's sync API, or skip the caller (a module at import, or a
    test) when Playwright or Chromium is missing."""
    api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)
    return api


@dataclass
class SqliteServer:
    """A served app on the embedded default, and its SQLite file, which tests read directly."""

    url: str
    database: Path

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=10) as connection:
            return connection.execute(sql, params).fetchall()

    def episode(self, episode_id: int) -> dict[str, Any]:
        row = self.query("SELECT seed, task, status, steps, end_reason FROM games_episode WHERE id = ?", episode_id)[0]
        return dict(zip(("seed", "task", "status", "steps", "end_reason"), row, strict=True))

    def steps(self, episode_id: int) -> list[tuple[str, str]]:
        rows = self.query('SELECT action, raw_input FROM games_step WHERE episode_id = ? ORDER BY "index"', episode_id)
        return [(action, raw) for action, raw in rows]


def start(page: Any, server: SqliteServer, env: str, task: str) -> int:
    page.goto(f"{server.url}/play/{env}/?task={task}")
    page.fill("input[name=nickname]", "Browser Tester")
    page.click("form.start-form button[type=submit]")
    page.wait_for_url("**/episodes/*/")
    wait_online(page)
    return int(page.url.rstrip("/").rsplit("/", 1)[1])


def wait_online(page: Any) -> None:
    page.wait_for_selector('#connection[data-status="online"]')


def wait_version(page: Any, version: int) -> None:
    """Until the page shows this version and the server has confirmed it written
    (the frame comes before the step is durable)."""
    page.wait_for_selector(f'#stage[data-version="{version}"][data-confirmed="{version}"]')


def wait_replay_at(page: Any, version: int) -> None:
    page.wait_for_selector(f'#stage[data-version="{version}"]')
