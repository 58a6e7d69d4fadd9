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


def test_it_verifies_a_game_played_while_it_reads_up_to_the_steps_its_row_said(toy_game: str) -> None:
    from games.services import do_apply_action, do_start_episode, do_verify_episode

    episode = do_start_episode(env="toy", task="corridor", seed=1, player_kind="human")
    for index, action in enumerate(["right", "left"]):
        do_apply_action(episode.pk, index=index, action=action)
    as_read = Episode.objects.get(pk=episode.pk)  # what verify_episodes --all read: 2 steps
    do_apply_action(episode.pk, index=2, action="wait")  # the player goes on meanwhile
    report = do_verify_episode(as_read)
    assert (report.ok, report.steps_checked) == (True, 2), report.message
    Episode.objects.filter(pk=episode.pk).update(status=Episode.Status.FINISHED)
    as_read.refresh_from_db()
    as_read.steps = 2  # a finished episode's log must match its count exactly
    assert not do_verify_episode(as_read).ok


@pytest.mark.django_db(transaction=True)  # a retry is only safe outside a transaction (the test's own)
def test_it_says_so_in_one_line_and_carries_on_when_the_connection_drops(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.db import OperationalError

    from games import services
    from games.management.commands import verify_episodes
    from ops import outage

    summary = json.loads(run("run_episode", "--env", "babyai", "--task", "BabyAI-MixedTrainLocal-v0/goto",
                             "--seed", "2", "--agent", "random", "--max-steps", "3"))
    real, calls = services.do_verify_episode, []

    def drops_once(episode: Episode) -> object:
        calls.append(episode.pk)
        if len(calls) == 1:
            raise OperationalError("terminating connection due to administrator command")
        return real(episode)

    monkeypatch.setattr(verify_episodes, "do_verify_episode", drops_once)
    monkeypatch.setattr(outage, "RECONNECT_WAIT_S", 0.0)
    out, err = StringIO(), StringIO()
    call_command("verify_episodes", str(summary["episode"]), stdout=out, stderr=err)
    assert out.getvalue().startswith(f"OK episode={summary['episode']}") and len(calls) == 2
    assert err.getvalue().count("\n") == 1 and "database connection lost" in err.getvalue()
