"""Game-core benchmark: per game, the raw env step against the service's full
cost per step, and replay speed.

    .venv/bin/python bench/game_core.py [--steps 500] [--env nle ...]

Per task it plays a random agent through the service (``do_apply_action`` +
frame + model observation, on the configured database; the embedded SQLite
default unless DATABASE_URL is set) and prints:

- raw step p50/p99 (ms): ``adapter.step`` alone, timed inside the service;
- service p50/p99 (ms): the whole service call + frame + observation;
- overhead p50 (ms) = service - raw, and the ratio service/raw;
- rebuild steps/s: the log replayed from the seed (how a live game comes back);
- verify steps/s: ``do_verify_episode``, which also compares every step's digest.

Then a 2,000-step Crafter episode verified end to end (target <= 5 s).
Targets: overhead p50 <= 1 ms (embedded), NetHack replay >= 10,000 steps/s.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
if not os.environ.get("DATABASE_URL"):
    os.environ.setdefault("BALROG_VAR_DIR", tempfile.mkdtemp(prefix="balrog-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "balrogweb.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402

from agents.scripted import RandomAgent  # noqa: E402
from games.models import Episode, Step  # noqa: E402
from games.registry import ENVS, adapter_class  # noqa: E402
from games.services import (  # noqa: E402
    do_apply_action,
    do_start_episode,
    do_verify_episode,
    live_adapter,
    rebuild_adapter,
)

# One representative task per env unless --all-tasks.
REPRESENTATIVE = {
    "babyai": "BabyAI-MixedTrainLocal-v0/goto",
    "crafter": "default",
    "textworld": "coin_collector",
    "babaisai": "env/goto_win",
    "minihack": "MiniHack-Quest-Easy-v0",
    "nle": "NetHackChallenge-v0",
}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def play(env: str, task: str, steps: int, seed: int) -> tuple[list[float], list[float], int]:
    """Play up to ``steps`` steps (new episodes as they end); return raw and service ms and an episode id."""
    raw_ms: list[float] = []
    service_ms: list[float] = []
    longest = 0
    longest_id = 0
    while len(raw_ms) < steps:
        episode = do_start_episode(env=env, task=task, seed=seed, player_kind=Episode.PlayerKind.SCRIPTED,
                                   agent="random")
        adapter = live_adapter(episode)
        agent = RandomAgent(adapter, seed)
        index = 0
        while len(raw_ms) < steps:
            action = agent.next_action()
            started = time.perf_counter()
            outcome = do_apply_action(episode.pk, index=index, action=action)
            adapter.frame()
            adapter.observation()
            service_ms.append((time.perf_counter() - started) * 1000)
            raw_ms.append(outcome.step.server_ms)
            index += 1
            if outcome.done:
                break
        if index > longest:
            longest, longest_id = index, episode.pk
        seed += 1
    return raw_ms, service_ms, longest_id


def replay_rates(episode_id: int) -> tuple[float, float]:
    """(rebuild steps/s, verify steps/s): rebuild replays the log from the seed;
    verify also compares every step's digest and progression."""
    episode = Episode.objects.get(pk=episode_id)
    started = time.perf_counter()
    rebuild_adapter(episode).close()
    rebuild_rate = episode.steps / (time.perf_counter() - started)
    started = time.perf_counter()
    report = do_verify_episode(episode)
    seconds = time.perf_counter() - started
    assert report.ok, report.message
    return rebuild_rate, report.steps_checked / seconds


def record_through_service(env: str, task: str, seed: int, actions: list[str]) -> Episode:
    episode = do_start_episode(env=env, task=task, seed=seed, player_kind=Episode.PlayerKind.SCRIPTED,
                               agent="bench")
    for index, action in enumerate(actions):
        if do_apply_action(episode.pk, index=index, action=action).done:
            break
    episode.refresh_from_db()
    return episode


def crafter_survival_actions() -> tuple[int, list[str]]:
    """A random Crafter player dies within ~300 steps; the survival bot of the
    Crafter tests lives to the 2,000-step cap on its seed."""
    from tests.support.crafter_bots import SURVIVAL_SEED, Survivor, new_adapter, survival_opening

    adapter = new_adapter(SURVIVAL_SEED)
    actions: list[str] = []
    step = adapter.step

    def recording_step(action: str):  # type: ignore[no-untyped-def]
        actions.append(action)
        return step(action)

    adapter.step = recording_step  # type: ignore[method-assign]
    survival_opening(adapter)
    survivor = Survivor(adapter)
    while not adapter.done:
        adapter.step(survivor.action())
    return SURVIVAL_SEED, actions


def crafter_verify_2000() -> tuple[float, int]:
    seed, actions = crafter_survival_actions()
    episode = record_through_service("crafter", "default", seed, actions)
    started = time.perf_counter()
    report = do_verify_episode(episode)
    assert report.ok, report.message
    return time.perf_counter() - started, report.steps_checked


def nethack_long_replay(seed: int, steps: int) -> tuple[int, float, float]:
    """Replay speed on a long NetHack episode: a patient player that mostly
    searches (game time passes, so the no-progress rule does not end it) and
    sometimes walks. Short random episodes would measure resets instead."""
    moves = ["north", "south", "east", "west", "northeast", "northwest", "southeast", "southwest"]
    rng = random.Random(seed)
    actions = ["search" if rng.random() < 0.9 else rng.choice(moves) for _ in range(steps)]
    episode = record_through_service("nle", "NetHackChallenge-v0", seed, actions)
    rebuild_rate, verify_rate = replay_rates(episode.pk)
    return episode.steps, rebuild_rate, verify_rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--env", action="append", choices=ENVS)
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--skip-crafter-2000", action="store_true")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    db = "PostgreSQL" if os.environ.get("DATABASE_URL") else "embedded SQLite"
    print(f"database: {db}; {args.steps} steps per task")
    header = f"{'env':10} {'task':34} {'raw p50':>8} {'raw p99':>8} {'svc p50':>8} {'svc p99':>8} " \
             f"{'over p50':>8} {'ratio':>6} {'rebuild/s':>10} {'verify/s':>10}"
    print(header)
    for env in args.env or ENVS:
        adapter_class(env)  # import outside the timings
        task = REPRESENTATIVE[env]
        raw, service, episode_id = play(env, task, args.steps, args.seed)
        overhead = [s - r for s, r in zip(service, raw, strict=True)]
        rebuild_rate, verify_rate = replay_rates(episode_id)
        print(f"{env:10} {task[:34]:34} {pct(raw, .5):8.3f} {pct(raw, .99):8.3f} {pct(service, .5):8.3f} "
              f"{pct(service, .99):8.3f} {statistics.median(overhead):8.3f} "
              f"{pct(service, .5) / max(pct(raw, .5), 1e-9):6.1f} {rebuild_rate:10.0f} {verify_rate:10.0f}")
    if not args.env or "nle" in args.env:
        steps, rebuild_rate, verify_rate = nethack_long_replay(args.seed, 5000)
        print(f"nle: {steps}-step episode: rebuild {rebuild_rate:.0f} steps/s, verify {verify_rate:.0f} steps/s "
              "(target >= 10,000)")
    if not args.skip_crafter_2000 and (not args.env or "crafter" in args.env):
        seconds, steps = crafter_verify_2000()
        print(f"crafter: {steps}-step episode verified in {seconds:.2f} s (target <= 5 s)")
    print(f"steps recorded: {Step.objects.count()}")


if __name__ == "__main__":
    main()
