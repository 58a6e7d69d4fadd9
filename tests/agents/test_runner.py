"""Model episodes played by the runner against the development server over
HTTP (embedded default): strategies, invalid answers, endpoint failures,
crashes and resumes, two runners on one episode, cancel, few-shot, images."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from agents import leases
from agents.client import Completion, ModelClient
from agents.episodes import ModelTurn, do_commit_turn, do_prepare_episode, observe, rebuild_messages
from agents.evaluation import do_cancel_run
from agents.models import RunEpisode
from agents.parsing import ParsedAnswer
from agents.prompts import invalid_note, prompt_digest
from agents.runner import run_model_episode
from agents.sent import message_text
from agents.services import do_play_scripted_episode, do_start_scripted_episode
from games.models import Episode, Step
from games.services import do_verify_episode
from tests.support.games import BABYAI_TASK
from tests.support.runs import slots

pytestmark = pytest.mark.django_db(transaction=True)


def play(run: Any, client: ModelClient | None = None) -> RunEpisode:
    slot = slots(run)[0]
    run_model_episode(slot.pk, client)
    slot.refresh_from_db()
    return slot


def steps_of(slot: RunEpisode) -> list[Step]:
    assert slot.episode_id is not None
    return list(Step.objects.filter(episode_id=slot.episode_id).order_by("index"))


def assert_prompts_rebuild(slot: RunEpisode) -> None:
    """Every step's messages, rebuilt from the log alone, match the digest of what was sent."""
    slot = RunEpisode.objects.select_related("episode", "run").get(pk=slot.pk)
    for step in steps_of(slot):
        assert prompt_digest(rebuild_messages(slot, step.index)) == step.meta["model"]["prompt"], step.index


@pytest.mark.parametrize("strategy", ["naive", "cot", "robust_naive", "robust_cot"])
def test_it_solves_babyai_with_each_strategy(make_endpoint, make_run, strategy: str) -> None:
    run = make_run(make_endpoint("solver"), strategy=strategy, seed_base=3)
    slot = play(run)
    episode = slot.episode
    assert episode is not None and episode.player_kind == "model"
    assert (episode.status, episode.end_reason, episode.progression) == ("finished", "won", 1.0)
    steps = steps_of(slot)
    assert all(step.valid for step in steps)
    meta = steps[0].meta["model"]
    assert meta["obs"].startswith("Mission:") and meta["attempts"] == 1 and meta["in"] > 0
    assert steps[0].raw_input.endswith(steps[0].action) or "<|END|>" in steps[0].raw_input
    assert slot.input_tokens == sum(step.meta["model"]["in"] for step in steps) and slot.calls == len(steps)
    assert slot.runner == ""  # the lease is freed
    run.refresh_from_db()
    assert run.status == "finished" and run.finished_at is not None
    assert do_verify_episode(episode).ok
    assert_prompts_rebuild(slot)


def test_it_plays_a_textworld_walkthrough(make_endpoint, make_run) -> None:
    run = make_run(make_endpoint("solver"), env="textworld", tasks=("coin_collector",), strategy="robust_cot")
    slot = play(run)
    assert slot.episode is not None
    assert (slot.episode.end_reason, slot.episode.progression) == ("won", 1.0)


def test_it_plays_the_default_action_after_an_invalid_answer_and_says_so(make_endpoint, make_run) -> None:
    run = make_run(make_endpoint("drift"), strategy="naive", seed_base=11)
    slot = play(run)
    steps = steps_of(slot)
    invalid = [step for step in steps if not step.valid]
    assert invalid and any(step.valid for step in steps)
    for step in invalid:
        assert step.action == "go forward"  # BabyAI's default action
        assert step.meta["model"]["candidate"] != "go forward"  # the failed candidate is kept
    after = next(step for step in steps if step.index > 0 and not steps[step.index - 1].valid)
    slot = RunEpisode.objects.select_related("episode", "run").get(pk=slot.pk)
    last_message = message_text(rebuild_messages(slot, after.index)[-1])
    assert last_message.startswith(invalid_note("go forward"))
    assert_prompts_rebuild(slot)


def test_it_keeps_playing_through_garbage(make_endpoint, make_run) -> None:
    run = make_run(make_endpoint("garbage"), strategy="cot")
    slot = play(run)
    steps = steps_of(slot)
    assert slot.episode is not None and slot.episode.status == "finished"
    assert steps and not any(step.valid for step in steps) and {step.action for step in steps} == {"go forward"}


def test_it_ends_the_episode_in_error_when_the_endpoint_fails(make_endpoint, make_run) -> None:
    run = make_run(make_endpoint("error-500", retries=2))
    slot = play(run)
    episode = slot.episode
    assert episode is not None and episode.status == "error" and episode.end_reason == "error"
    assert "no answer after 3 attempts" in episode.end_detail and "HTTP 500" in episode.end_detail
    run.refresh_from_db()
    assert run.status == "finished"  # nothing left to play; the errored episode is not counted


class CrashingClient(ModelClient):
    """Answers like the real client, then the runner 'dies' after ``calls`` answers."""

    def __init__(self, endpoint: Any, calls: int) -> None:
        super().__init__(endpoint)
        self.left = calls

    def complete(self, messages: Any, headers: Any = None) -> Completion:
        if self.left == 0:
            raise RuntimeError("the worker died")
        self.left -= 1
        return super().complete(messages, headers)


def test_it_resumes_after_a_crash_exactly_where_it_stopped(make_endpoint, make_run) -> None:
    endpoint = make_endpoint("solver")
    reference = play(make_run(endpoint, strategy="cot", seed_base=5))
    run = make_run(endpoint, strategy="cot", seed_base=5)
    slot = slots(run)[0]
    assert run_model_episode(slot.pk, CrashingClient(endpoint.settings(), calls=2)) == "crashed"
    slot.refresh_from_db()
    assert slot.crashes == 1 and len(steps_of(slot)) == 2 and slot.runner  # the lease is left to go stale
    assert run_model_episode(slot.pk) == "nothing to play"  # not stale yet: someone may still be playing
    RunEpisode.objects.filter(pk=slot.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert run_model_episode(slot.pk) == "episode ended"
    resumed, played = steps_of(slot), steps_of(reference)
    assert [s.index for s in resumed] == list(range(len(played)))
    # The same game, the same answers and the same prompts as the run that never crashed.
    assert [(s.action, s.digest, s.meta["model"]["prompt"]) for s in resumed] == [
        (s.action, s.digest, s.meta["model"]["prompt"]) for s in played
    ]
    slot.refresh_from_db()
    assert slot.calls == len(resumed)  # recounted from the log


def test_a_second_runner_exits_while_the_lease_is_fresh(make_endpoint, make_run) -> None:
    run = make_run(make_endpoint("solver"))
    slot = slots(run)[0]
    setup = do_prepare_episode(slot.pk, "runner-a")
    assert setup is not None
    assert run_model_episode(slot.pk) == "nothing to play"
    assert Step.objects.filter(episode_id=setup.episode_id).count() == 0


def test_the_loser_of_a_step_race_stops_without_writing(make_endpoint, make_run) -> None:
    endpoint = make_endpoint("solver")
    run = make_run(endpoint, seed_base=2)
    slot = slots(run)[0]
    first = do_prepare_episode(slot.pk, "runner-a")
    assert first is not None
    observed = observe(first, "runner-a")
    # runner A stalls (e.g. a long GC pause); its lease goes stale and runner B plays the episode
    RunEpisode.objects.filter(pk=slot.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert run_model_episode(slot.pk) == "episode ended"
    slot.refresh_from_db()
    before = [(s.index, s.raw_input) for s in steps_of(slot)]
    assert before and before[0][1] != "turn left"
    completion = Completion("turn left", "", 1, 1, "stop", "solver", 1.0, 1)
    late = ModelTurn(observed.turn, completion, ParsedAnswer("turn left", "", True), "turn left", "x", 1, 1)
    committed = do_commit_turn(first, "runner-a", late)
    assert committed.stop == "step_conflict" and committed.past is None
    assert [(s.index, s.raw_input) for s in steps_of(slot)] == before
    assert observe(first, "runner-a").stop == "lease lost"


def test_cancel_ends_the_episodes_in_play(make_endpoint, make_run) -> None:
    run = make_run(make_endpoint("random"), episodes=2)
    first, second = slots(run)
    setup = do_prepare_episode(first.pk, leases.new_token())
    assert setup is not None
    cancelled = do_cancel_run(run.pk)
    assert cancelled.status == "cancelled"
    assert Episode.objects.get(pk=setup.episode_id).status == "abandoned"
    assert run_model_episode(second.pk) == "nothing to play"


def test_few_shot_shows_a_recorded_episode_of_the_task(make_endpoint, make_run) -> None:
    """On the reference protocol, in the reference's few-shot layout, from an episode of
    the same protocol (the reference's own demonstrations are not obtainable: the run says so)."""
    demo = do_play_scripted_episode(do_start_scripted_episode("babyai", BABYAI_TASK, 8, "babyai_bot").pk)
    assert demo.progression == 1.0 and demo.protocol == "balrog"
    run = make_run(make_endpoint("random"), strategy="few_shot", seed_base=1, protocol="balrog")
    assert run.meta == {"own_demonstrations": True}
    slot = play(run)
    assert slot.meta["demos"] == [demo.pk]
    slot = RunEpisode.objects.select_related("episode", "run").get(pk=slot.pk)
    messages = rebuild_messages(slot, 0)
    texts = [message_text(m) for m in messages]  # one text part each
    assert "First, observe the demonstrations provided and learn from them!" in texts[0]
    assert texts[1] == "****** START OF DEMONSTRATION EPISODE 1 ******"
    assert texts[2].startswith("Obesrvation:\n") and messages[3]["role"] == "assistant"
    assert "****** Now it's your turn to play the game! ******" in texts
    assert_prompts_rebuild(slot)
    balrogweb = make_run(make_endpoint("random"), strategy="few_shot", seed_base=1)
    assert balrogweb.meta == {} and play(balrogweb).meta["demos"] == []  # no demonstration of its protocol


def test_a_vlm_run_sends_images(make_endpoint, make_run) -> None:
    run = make_run(make_endpoint("solver", vision=True), max_image_history=2, seed_base=4)
    slot = play(run)
    steps = steps_of(slot)
    assert steps and all(len(step.meta["model"]["image"]) == 32 for step in steps)
    assert_prompts_rebuild(slot)


def test_a_text_only_endpoint_refuses_a_vlm_run(make_endpoint, make_run) -> None:
    from agents.evaluation import RunError

    with pytest.raises(RunError, match="text-only"):
        make_run(make_endpoint("random"), max_image_history=1)
