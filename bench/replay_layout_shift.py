"""Layout shift of the replay page while its first frame arrives (Lighthouse's CLS; "good" is
under 0.1), per game renderer, at phone and desktop size, in Debian's Chromium.

    .venv/bin/python bench/replay_layout_shift.py

A fresh SQLite under a temporary directory, a BabyAI, a Crafter and a NetHack model episode
(ended after reset), the production server (manage.py serve) on loopback; each replay page is
opened in a new tab and its layout-shift entries summed for 3 s. Figures are printed only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "balrogweb.settings")

from tests.support.browser import launch
from tests.support.servers import Server, base_env, migrate
from tests.support.settings_files import ROOT

SIZES = {"phone": (390, 844), "desktop": (1280, 800)}
EPISODES = """
import json
from games.base import EndReason
from games.services import do_end_episode, do_start_episode
ids = {}
for env, task in (("babyai", "BabyAI-MixedTrainLocal-v0/goto"), ("crafter", "default"), ("nle", "NetHackChallenge-v0")):
    episode = do_start_episode(env=env, task=task, seed=3, player_kind="model", agent="dev-random")
    do_end_episode(episode.pk, reason=EndReason.ABANDONED, detail="bench")
    ids[env] = episode.pk
print(json.dumps(ids))
"""
MEASURE = """() => new Promise((resolve) => {
  let total = 0;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) if (!entry.hadRecentInput) total += entry.value;
  }).observe({ type: "layout-shift", buffered: true });
  setTimeout(() => resolve(total), 3000);
})"""


def main() -> None:
    from playwright.sync_api import sync_playwright

    var = Path(tempfile.mkdtemp(prefix="balrog-cls-"))
    env = base_env(var)
    migrate(env)
    made = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", EPISODES], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=300, check=True,
    )  # fmt: skip
    ids: dict[str, int] = json.loads(made.stdout.strip().splitlines()[-1])
    server = Server(env, var / "server.log")
    try:
        with sync_playwright() as playwright:
            browser = launch(playwright)
            print(f"{'game':10} {'size':8} CLS")
            for game, pk in ids.items():
                for size, (width, height) in SIZES.items():
                    context = browser.new_context(viewport={"width": width, "height": height})
                    page = context.new_page()
                    page.goto(f"{server.base}/episodes/{pk}/replay/")
                    print(f"{game:10} {size:8} {page.evaluate(MEASURE):.3f}")
                    context.close()
            browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
