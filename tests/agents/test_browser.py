"""The live page of a model episode in a real browser: a staff user starts
a run from the UI on the embedded default (Daphne in a subprocess, the
episode played by that process's local runner against the development model
server), then watches the game drawn by the play app's renderers and the
model's turns arriving."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.browser import SqliteServer, playwright_sync_api
from tests.support.settings_files import ROOT
from tests.support.wsclient import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PASSWORD = "staff-password-123"
ENDPOINT_DEADLINE_SECONDS = 180

# The real server (manage.py serve) on the embedded default, Chromium, and a page that fails on
# JavaScript errors are tests/support/fixtures_browser.py's.
playwright_sync_api()  # skips the module without Playwright or Chromium


def environment(server: SqliteServer, **extra: str) -> dict[str, str]:
    """The environment of the Daphne server's own processes (its SQLite file, the embedded default)."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    return env | {"BALROG_VAR_DIR": str(server.database.parent), **extra}


def manage(server: SqliteServer, *args: str, **env: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=environment(server, **env),
                          check=True, capture_output=True, text=True)
    return done.stdout


@pytest.fixture(scope="module")
def model_server(server: SqliteServer) -> Iterator[str]:
    """dev_model_server in a subprocess, its endpoints registered in the server's database."""
    port = free_port()
    log = server.database.parent / "dev-model-server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "dev_model_server", "--port", str(port), "--latency", "0.15", "--register"],
            cwd=ROOT, env=environment(server), stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def staff(server: SqliteServer) -> str:
    manage(server, "createsuperuser", "--noinput", "--username", "staff", "--email", "staff@example.org",
           DJANGO_SUPERUSER_PASSWORD=PASSWORD)
    return "staff"


def test_it_watches_a_model_play_live(page: Any, server: SqliteServer, model_server: str, staff: str) -> None:
    page.goto(f"{server.url}/accounts/login/?next=/agents/runs/new/")
    page.fill("input[name=username]", staff)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url("**/agents/runs/new/")
    _wait_for_endpoint(page, server)
    page.select_option("select[name=endpoint]", label="dev-solver (solver)")
    page.select_option("select[name=strategy]", "cot")
    page.check("input[name=envs][value=babyai]")
    page.fill("textarea[name=tasks]", "BabyAI-MixedTrainLocal-v0/goto")
    page.fill("input[name=episodes_per_task]", "1")
    page.fill("input[name=seed_base]", "7")
    page.click("form.agents-form button[type=submit]")
    page.wait_for_url("**/agents/runs/*/")
    page.click("td a[href^='/agents/episodes/']")
    page.wait_for_url("**/agents/episodes/*/")
    # the play app's renderer draws the grid; the model's turns arrive as steps are committed
    page.wait_for_selector("#stage canvas, #stage .grid, #stage svg, #stage table")
    page.wait_for_selector("#turns li.turn")
    page.locator("[data-total=end]", has_text="won").wait_for()
    turns = page.locator("#turns li.turn")
    episode_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    recorded = server.episode(episode_id)
    assert recorded["status"] == "finished" and recorded["end_reason"] == "won"
    assert turns.count() == recorded["steps"]
    assert "ACTION:" in turns.first.locator("pre.answer").inner_text()
    assert page.locator("[data-total=tokens]").inner_text() != "0 / 0"


def _wait_for_endpoint(page: Any, server: SqliteServer) -> None:
    """The dev server registers its endpoints once it starts; reload until they are listed.
    The deadline only stops a dev server that never starts: a process starting on a
    busy machine may take many seconds (it was 20 s, issue 24)."""
    deadline = time.monotonic() + ENDPOINT_DEADLINE_SECONDS
    while not server.query("SELECT count(*) FROM agents_modelendpoint WHERE name = 'dev-solver'")[0][0]:
        assert time.monotonic() < deadline, "the dev model server did not register its endpoints"
        page.wait_for_timeout(200)
    page.reload()
