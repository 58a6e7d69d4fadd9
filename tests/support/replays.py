"""A game played and recorded here, and its log replayed in a fresh process
(games.replaycheck): the replay-determinism checks of the game tests."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from typing import Any

from games.base import GameAdapter
from tests.support.settings_files import ROOT


def play_and_record(adapter: GameAdapter, seed: int, steps: int, choose: Any) -> dict[str, Any]:
    """Up to ``steps`` steps chosen by ``choose(rng, action_space)`` from ``seed``: what each
    executed, the digest after each, the progression and the end."""
    reset = adapter.reset(seed)
    log: dict[str, Any] = {"reset": reset, "digests": [adapter.digest()], "steps": [], "progression": []}
    rng = random.Random(seed)
    while not adapter.done and adapter.steps < steps:
        result = adapter.step(choose(rng, adapter.action_space()))
        log["steps"].append(result.executed)
        log["digests"].append(adapter.digest())
        log["progression"].append(result.progression)
    log["end_reason"] = adapter.end_reason.value if adapter.end_reason else None
    return log


def replay_in_fresh_process(env: str, task: str, seed: int, steps: list[Any], **options: Any) -> dict[str, Any]:
    """What games.replaycheck reports for these executed steps, replayed in a new interpreter."""
    log = {"env": env, "task": task, "seed": seed, "options": options, "steps": steps}
    done = subprocess.run(
        [sys.executable, "-m", "games.replaycheck"],
        input=json.dumps(log),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "balrogweb.settings"},
        check=True,
        timeout=300,
    )
    replayed: dict[str, Any] = json.loads(done.stdout)
    return replayed
