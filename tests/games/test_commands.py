"""run_episode, verify_episodes and list_tasks for every task of every game."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from games.models import Episode, Step
from games.registry import all_tasks

pytestmark = pytest.mark.django_db

ALL_TASKS = [(t.env, t.task) for t in all_tasks()]


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_it_lists_every_task_as_env_and_task() -> None:
    lines = run("list_tasks").splitlines()
    assert len(lines) == 58
    for expected in ["babyai BabyAI-MixedTrainLocal-v0/goto", "crafter default", "textworld treasure_hunter",
                     "minihack MiniHack-MazeWalk-9x9-v0", "nle NetHackChallenge-v0"]:
        assert expected in lines
    assert sum(line.startswith("babaisai ") for line in lines) == 40


def test_it_lists_one_env() -> None:
    assert run("list_tasks", "--env", "textworld").split() == [
        "textworld", "treasure_hunter", "textworld", "the_cooking_game", "textworld", "coin_collector"]


@pytest.mark.slow
@pytest.mark.parametrize(("env", "task"), ALL_TASKS)
def test_it_plays_and_verifies_every_task(env: str, task: str) -> None:
    summary = json.loads(run("run_episode", "--env", env, "--task", task, "--seed", "3", "--agent", "random"))
    assert summary["status"] == "finished" and summary["end_reason"]
    assert summary["steps"] == Step.objects.filter(episode_id=summary["episode"]).count() > 0
    assert run("verify_episodes", str(summary["episode"])).startswith(f"OK episode={summary['episode']}")


def test_it_solves_babyai_with_the_bot() -> None:
    summary = json.loads(run("run_episode", "--env", "babyai", "--task", "BabyAI-MixedTrainLocal-v0/pickup",
                             "--seed", "1", "--agent", "babyai_bot"))
    assert (summary["progression"], summary["end_reason"]) == (1.0, "won")


def test_it_exits_1_when_a_replay_differs() -> None:
    summary = json.loads(run("run_episode", "--env", "babyai", "--task", "BabyAI-MixedTrainLocal-v0/goto",
                             "--seed", "2", "--agent", "random", "--max-steps", "6"))
    step = Step.objects.get(episode_id=summary["episode"], index=0)
    # BabyAI raw 0 turns left, 1 turns right: a turn changes the heading, which
    # no other action does, so the tampered step cannot reach the recorded state.
    step.executed = [1] if step.executed == [0] else [0]
    step.save()
    with pytest.raises(CommandError) as error:
        run("verify_episodes", str(summary["episode"]))
    assert error.value.returncode == 1


def test_it_refuses_unknown_episode_ids() -> None:
    with pytest.raises(CommandError, match="no such episode"):
        run("verify_episodes", "424242")


def test_it_refuses_an_unknown_task_clearly() -> None:
    with pytest.raises(CommandError, match="no task"):
        run("run_episode", "--env", "babyai", "--task", "nope", "--seed", "1")
    assert Episode.objects.count() == 0
