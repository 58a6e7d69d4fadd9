"""A run never stays "running" with nothing left to play, whatever fails
after its last episode ended: the runner's own crash path closes it, and
the recovery sweep closes it when the runner died without a word."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import OperationalError, connection

from agents import episodes
from agents.evaluation import do_recover_stale
from agents.models import EvaluationRun, RunEpisode
from agents.runner import run_model_episode
from tests.support.runs import slots

pytestmark = pytest.mark.django_db(transaction=True)


def failures_that_crash() -> int:
    """How many failed calls crash a runner: one, or on PostgreSQL two, since a
    call whose connection failed is retried once there (ops.outage)."""
    return 2 if connection.vendor == "postgresql" else 1


def fail_until_it_crashes(monkeypatch: pytest.MonkeyPatch, name: str) -> list[str]:
    """``agents.episodes.<name>`` fails as the database does under load
    (SQLite: "database is locked") often enough to crash the runner; later
    calls go through."""
    real: Callable[..., Any] = getattr(episodes, name)
    calls: list[str] = []
    failing = failures_that_crash()

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        if len(calls) <= failing:
            raise OperationalError("database is locked")
        return real(*args, **kwargs)

    monkeypatch.setattr(episodes, name, flaky)
    return calls


@pytest.mark.parametrize(
    ("model", "ended_as"),
    [
        ("hang", "error"),  # the model call times out on the last episode: it ends in error
        ("solver", "finished"),  # the last episode is won
    ],
)
def test_it_finishes_the_run_when_the_runner_fails_after_its_last_episode_ended(
    make_endpoint, make_run, monkeypatch: pytest.MonkeyPatch, model: str, ended_as: str
) -> None:
    # A short timeout only where it must fire: the solver's answers get the fixture's 5 s.
    timeouts = {"timeout_seconds": 0.2, "retries": 0} if model == "hang" else {}
    run = make_run(make_endpoint(model, **timeouts), episodes=2)
    first, last = slots(run)
    assert run_model_episode(first.pk) == ("endpoint failed" if model == "hang" else "episode ended")
    calls = fail_until_it_crashes(monkeypatch, "do_recount_totals")  # the first step of closing the episode
    assert run_model_episode(last.pk) == "crashed"
    assert calls == ["do_recount_totals"] * (failures_that_crash() + 1)  # failed, then done by the crash path
    last.refresh_from_db()
    assert last.episode is not None and last.episode.status == ended_as
    assert last.crashes == 1 and last.runner == ""  # no lease left waiting for a sweep that never comes
    run.refresh_from_db()
    assert run.status == "finished" and run.finished_at is not None


def test_the_sweep_finishes_a_run_whose_last_runner_died_after_the_end(make_endpoint, make_run) -> None:
    run = make_run(make_endpoint("solver"))
    slot = slots(run)[0]
    assert run_model_episode(slot.pk) == "episode ended"
    # What a worker killed between the last step's commit and closing the run leaves behind.
    EvaluationRun.objects.filter(pk=run.pk).update(status=EvaluationRun.Status.RUNNING, finished_at=None)
    RunEpisode.objects.filter(pk=slot.pk).update(runner="killed-worker")
    assert do_recover_stale() == []  # nothing to dispatch again: the episode is over
    run.refresh_from_db()
    assert run.status == "finished" and run.finished_at is not None


def test_the_sweep_leaves_a_run_with_episodes_to_play_running(make_endpoint, make_run) -> None:
    run = make_run(make_endpoint("solver"), episodes=2)
    first, second = slots(run)
    assert run_model_episode(first.pk) == "episode ended"
    assert episodes.do_prepare_episode(second.pk, "alive-runner") is not None  # playing, lease fresh
    assert do_recover_stale() == []
    run.refresh_from_db()
    assert run.status == "running"
