"""Evaluation runs end to end on the embedded default: the evaluate command,
progress, cancel and resume, and the recovery sweep."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from agents.config import AgentConfig
from agents.episodes import do_prepare_episode
from agents.evaluation import RunRequest, do_recover_stale, do_resume_run, do_start_run, run_progress, run_summary
from agents.models import EvaluationRun, RunEpisode
from agents.runtime import local_runner
from games.models import Episode
from tests.support.games import BABYAI_TASK
from tests.support.profile import use_profile
from tests.support.runs import slots

pytestmark = pytest.mark.django_db(transaction=True)
PICKUP = "BabyAI-MixedTrainLocal-v0/pickup"


@pytest.fixture(autouse=True)
def local_runner_plays(settings: Any) -> None:
    """Dispatch to this process's local runner, also with PostgreSQL + Redis
    configured (the Celery path is test_celery_worker's)."""
    use_profile(settings, redis_url="")


def evaluate(*args: str) -> tuple[list[str], dict[str, object]]:
    out = StringIO()
    call_command("evaluate", *args, stdout=out)
    text = out.getvalue()
    head, _, summary = text.partition("\n{")
    return head.splitlines(), json.loads("{" + summary)


def test_it_evaluates_with_the_command_and_prints_balrogs_summary(make_endpoint) -> None:
    endpoint = make_endpoint("solver")
    lines, summary = evaluate("--endpoint", endpoint.name, "--agent", "cot", "--env", "babyai",
                              "--task", BABYAI_TASK, "--task", PICKUP, "--episodes", "2", "--poll", "0.2")
    assert lines[0].startswith("run ") and "cot h16 on babyai" in lines[0]
    assert lines[-1].startswith("[finished] 4/4")
    assert summary["average_progress"] == 100.0 and summary["standard_error"] == 0.0
    assert summary["environments"] == {"babyai": {"progression_percentage": 100.0, "standard_error": 0.0,
                                                  "episodes_played": 4}}
    assert summary["agent"]["strategy"] == "cot" and summary["client"]["model_id"] == "solver"  # type: ignore[index]
    run = EvaluationRun.objects.get()
    assert sorted((s.task, s.index, s.seed) for s in slots(run)) == [
        (BABYAI_TASK, 0, 0), (BABYAI_TASK, 1, 1), (PICKUP, 0, 0), (PICKUP, 1, 1)]


def test_it_plans_balrogs_episode_counts(make_endpoint) -> None:
    request = RunRequest(make_endpoint("random"), AgentConfig(), envs=("babyai", "minihack"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("agents.evaluation.do_dispatch_after_commit", lambda run, ids: None)
        run = do_start_run(request)
    progress = {env.env: env.planned for env in run_progress(run).envs}
    assert progress == {"babyai": 5 * 10, "minihack": 8 * 5}


def test_it_resumes_a_run_replacing_failed_episodes(make_endpoint) -> None:
    endpoint = make_endpoint("error-500", retries=0)
    evaluate("--endpoint", endpoint.name, "--env", "babyai", "--task", BABYAI_TASK, "--episodes", "2", "--poll", "0.2")
    run = EvaluationRun.objects.get()
    failed = [slot.episode_id for slot in slots(run) if slot.episode_id is not None]
    assert Episode.objects.filter(pk__in=failed, status="error").count() == 2
    assert run.status == "finished" and run_summary(run).episodes == 0
    endpoint.model_id = "solver"
    endpoint.save()
    lines, summary = evaluate("--resume", str(run.pk), "--poll", "0.2")
    assert lines[0] == f"resuming run {run.pk}: 2 episodes to play"
    assert summary["environments"]["babyai"]["episodes_played"] == 2  # type: ignore[index]
    for slot, old in zip(slots(run), failed, strict=True):
        assert slot.replaced == [old] and slot.episode is not None and slot.episode.pk != old
        assert slot.episode.status == "finished"


def test_the_sweep_redispatches_episodes_of_dead_runners_only(make_endpoint, make_run) -> None:
    run = make_run(make_endpoint("solver"), episodes=3)
    dead, alive, lost = slots(run)
    assert do_prepare_episode(dead.pk, "dead-runner") is not None
    assert do_prepare_episode(alive.pk, "alive-runner") is not None
    long_ago = timezone.now() - timedelta(hours=2)
    RunEpisode.objects.filter(pk=dead.pk).update(heartbeat_at=long_ago)
    RunEpisode.objects.filter(pk=lost.pk).update(dispatched_at=long_ago)  # dispatched, never started
    assert sorted(do_recover_stale()) == sorted([dead.pk, lost.pk])
    assert do_recover_stale() == []  # taken once
    assert local_runner().wait_idle(timeout=60)
    for slot in (dead, lost):
        slot.refresh_from_db()
        assert slot.episode is not None and slot.episode.status == "finished"
    alive.refresh_from_db()
    assert alive.runner == "alive-runner" and alive.episode is not None and alive.episode.steps == 0


def test_a_resume_dispatches_only_what_is_left(make_endpoint, make_run) -> None:
    run = make_run(make_endpoint("solver"), episodes=2)
    first = slots(run)[0]
    from agents.runner import run_model_episode

    run_model_episode(first.pk)
    assert do_resume_run(run.pk) == 1
    assert local_runner().wait_idle(timeout=60)
    run.refresh_from_db()
    assert run.status == "finished" and run_summary(run).episodes == 2


def test_the_sweep_redispatches_within_a_minute_what_the_broker_lost(make_endpoint, make_run, monkeypatch) -> None:
    from agents import broker

    run = make_run(make_endpoint("solver"), episodes=3)
    lost, queued, recent = slots(run)
    two_minutes_ago = timezone.now() - timedelta(minutes=2)  # past BALROG_AGENT_PICKUP_SECONDS, far from REQUEUE
    RunEpisode.objects.filter(pk__in=[lost.pk, queued.pk]).update(dispatched_at=two_minutes_ago)
    RunEpisode.objects.filter(pk=recent.pk).update(dispatched_at=timezone.now())
    asked: list[set[str]] = []

    def held(queues: set[str]) -> set[int]:
        asked.append(set(queues))
        return {queued.pk}  # still waiting in Redis: a long queue, not a loss

    monkeypatch.setattr(broker, "held_slots", held)
    assert do_recover_stale() == [lost.pk]
    assert asked == [{run.endpoint.queue}]
    monkeypatch.setattr(broker, "held_slots", lambda queues: None)  # the broker cannot be read: nothing is lost
    RunEpisode.objects.filter(pk=queued.pk).update(dispatched_at=two_minutes_ago)
    assert do_recover_stale() == []
    assert local_runner().wait_idle(timeout=60)
