"""Real Chromium: a viewer's page follows steps another process commits (the
embedded default's in-memory channel layer cannot carry them: play.feed polls),
and its badge says so, then says the episode ended."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from tests.support.browser import SqliteServer, playwright_sync_api, start
from tests.support.games import BABYAI_TASK
from tests.support.settings_files import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

playwright_sync_api()  # skips the module without Playwright or Chromium


def in_another_process(target: SqliteServer, code: str) -> None:
    """Run ``code`` in ``manage.py shell`` on the server's database: a process the server's layer cannot hear."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env |= {"BALROG_VAR_DIR": str(target.database.parent), "DJANGO_SETTINGS_MODULE": "balrogweb.settings"}
    command = [sys.executable, "manage.py", "shell", "-c", code]
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)


def test_it_shows_a_viewer_steps_committed_by_another_process(page: Any, browser: Any, server: SqliteServer) -> None:
    episode_id = start(page, server, "babyai", BABYAI_TASK)
    viewer = browser.new_context().new_page()
    viewer.goto(f"{server.url}/episodes/{episode_id}/")
    badge = viewer.locator("#connection")
    viewer.wait_for_selector('#stage[data-version="0"]')
    assert badge.inner_text() == "live (polling)"
    steps = "; ".join(
        f"do_apply_action({episode_id}, index={i}, action={a!r})"
        for i, a in enumerate(["turn left", "turn right", "turn left"])
    )
    in_another_process(server, f"from games.services import do_apply_action; {steps}")
    viewer.wait_for_selector('#stage[data-version="3"]')
    assert viewer.inner_text('[data-hud="steps"]') == "3"
    in_another_process(server, f"from games.services import do_end_episode; do_end_episode({episode_id})")
    viewer.wait_for_selector("#end-panel:not([hidden])")
    assert badge.inner_text() == "ended"
    assert viewer.inner_text('[data-end="reason"]') == "abandoned"
    viewer.context.close()
