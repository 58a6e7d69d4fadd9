from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, User

from games.base import EndReason
from games.live import live_games
from games.models import Episode, Step
from games.services import (
    EpisodeNotFound,
    EpisodeNotRunning,
    InvalidAction,
    StepConflict,
    StepOutOfOrder,
    UnknownTask,
    do_apply_action,
    do_end_episode,
    do_start_episode,
    do_verify_episode,
    rebuild_adapter,
)

pytestmark = pytest.mark.django_db


def start(seed: int = 0, task: str = "corridor", kind: str = Episode.PlayerKind.HUMAN, **kw: object) -> Episode:
    return do_start_episode(env="toy", task=task, seed=seed, player_kind=kind, **kw)  # type: ignore[arg-type]


def test_it_starts_an_episode_with_its_reset_facts(toy_game: str) -> None:
    episode = start(seed=4)
    assert episode.status == Episode.Status.RUNNING
    assert episode.reset_info == {"start": 1}
    assert episode.engine_version == "toy-adapter-1"
    assert episode.initial_digest and episode.steps == 0


def test_it_refuses_an_unknown_task(toy_game: str) -> None:
    with pytest.raises(UnknownTask):
        start(task="nope")
    assert Episode.objects.count() == 0


def test_it_records_each_step_with_its_digest_and_totals(toy_game: str) -> None:
    episode = start(seed=0)
    outcome = do_apply_action(episode.pk, index=0, action="right", raw_input="ArrowRight")
    assert (outcome.version, outcome.done, outcome.duplicate) == (1, False, False)
    step = Step.objects.get(episode=episode, index=0)
    assert (step.action, step.raw_input, step.executed, step.valid) == ("right", "ArrowRight", [1], True)
    episode.refresh_from_db()
    assert episode.steps == 1


def test_it_applies_a_repeated_index_once(toy_game: str) -> None:
    episode = start()
    first = do_apply_action(episode.pk, index=0, action="right")
    again = do_apply_action(episode.pk, index=0, action="right")
    assert again.duplicate and again.step.pk == first.step.pk
    assert Step.objects.filter(episode=episode).count() == 1
    assert live_games().get(episode.pk).steps == 1  # type: ignore[union-attr]


def test_it_refuses_a_different_input_at_an_applied_index(toy_game: str) -> None:
    episode = start()
    do_apply_action(episode.pk, index=0, action="right")
    with pytest.raises(StepConflict):
        do_apply_action(episode.pk, index=0, action="left")


def test_it_refuses_an_index_ahead_of_the_log(toy_game: str) -> None:
    episode = start()
    with pytest.raises(StepOutOfOrder):
        do_apply_action(episode.pk, index=3, action="right")
    assert Step.objects.count() == 0


def test_it_rejects_an_invalid_human_action_without_changing_anything(toy_game: str) -> None:
    episode = start()
    with pytest.raises(InvalidAction):
        do_apply_action(episode.pk, index=0, action="jump", on_invalid="reject")
    episode.refresh_from_db()
    assert episode.steps == 0 and Step.objects.count() == 0
    assert live_games().get(episode.pk).steps == 0  # type: ignore[union-attr]


def test_it_executes_the_default_action_for_an_invalid_model_answer(toy_game: str) -> None:
    episode = start(kind=Episode.PlayerKind.MODEL)
    outcome = do_apply_action(episode.pk, index=0, action="fly away", raw_input="I think: fly away")
    assert (outcome.step.action, outcome.step.valid, outcome.step.raw_input) == ("wait", False, "I think: fly away")


def test_it_finishes_a_won_episode(toy_game: str) -> None:
    episode = start(seed=2)  # starts at cell 2
    for index in range(3):
        outcome = do_apply_action(episode.pk, index=index, action="right")
    assert outcome.done and outcome.end_reason == "won" and outcome.progression == 1.0
    episode.refresh_from_db()
    assert (episode.status, episode.end_reason, episode.progression) == ("finished", "won", 1.0)
    assert episode.ended_at is not None
    with pytest.raises(EpisodeNotRunning):
        do_apply_action(episode.pk, index=3, action="right")


def test_it_ends_at_the_step_cap(toy_game: str) -> None:
    episode = start(task="short")
    for index in range(3):
        outcome = do_apply_action(episode.pk, index=index, action="wait")
    assert outcome.done and outcome.end_reason == EndReason.STEP_CAP.value


def test_it_records_a_death_with_its_cause(toy_game: str) -> None:
    episode = start(seed=0)
    do_apply_action(episode.pk, index=0, action="left")
    episode.refresh_from_db()
    assert (episode.end_reason, episode.end_detail) == ("died", "fell into the pit")


def test_it_rebuilds_a_lost_live_game_by_replay(toy_game: str) -> None:
    episode = start(seed=0)
    do_apply_action(episode.pk, index=0, action="right")
    live_games().clear()  # as after a web process restart
    do_apply_action(episode.pk, index=1, action="right")
    adapter = live_games().get(episode.pk)
    assert adapter is not None and adapter.steps == 2
    assert adapter.frame() == {"position": 2}


def test_it_catches_up_an_adapter_left_behind_by_another_process(toy_game: str) -> None:
    episode = start(seed=0)
    for index in range(2):
        do_apply_action(episode.pk, index=index, action="right")
    live_games().put(episode.pk, rebuild_adapter(episode, upto=0))  # stale copy at step 0
    do_apply_action(episode.pk, index=2, action="right")
    assert live_games().get(episode.pk).frame() == {"position": 3}  # type: ignore[union-attr]


def test_it_answers_from_the_log_when_another_writer_won_the_index(toy_game: str) -> None:
    episode = start(seed=0)
    do_apply_action(episode.pk, index=0, action="right")
    episode.refresh_from_db()
    # Another process's adapter, still at step 0, receives the same step.
    live_games().put(episode.pk, rebuild_adapter(episode, upto=0))
    again = do_apply_action(episode.pk, index=0, action="right")
    assert again.duplicate and Step.objects.filter(episode=episode).count() == 1
    with pytest.raises(StepConflict):
        live_games().put(episode.pk, rebuild_adapter(episode, upto=0))
        do_apply_action(episode.pk, index=0, action="left")
    # The losing adapter was dropped; the next step rebuilds from the log.
    do_apply_action(episode.pk, index=1, action="right")
    assert live_games().get(episode.pk).frame() == {"position": 2}  # type: ignore[union-attr]


def test_it_abandons_an_episode_as_it_stands(toy_game: str) -> None:
    episode = start(seed=0)
    do_apply_action(episode.pk, index=0, action="right")
    ended = do_end_episode(episode.pk)
    assert (ended.status, ended.end_reason, ended.steps) == ("abandoned", "abandoned", 1)
    assert episode.pk not in live_games()
    with pytest.raises(EpisodeNotRunning):
        do_end_episode(episode.pk)


def test_it_reports_a_missing_episode(toy_game: str) -> None:
    with pytest.raises(EpisodeNotFound):
        do_apply_action(999, index=0, action="right")


def test_it_keeps_the_owner_only_when_logged_in(toy_game: str) -> None:
    owner = User.objects.create_user("owner", password="x")
    assert start(user=owner).user == owner
    assert start(user=AnonymousUser()).user is None  # a visitor's request.user
    assert start(user=None).user is None


def test_it_verifies_a_recorded_episode(toy_game: str) -> None:
    episode = start(seed=1)
    for index, action in enumerate(["right", "wait", "left", "right"]):
        do_apply_action(episode.pk, index=index, action=action)
    episode.refresh_from_db()
    report = do_verify_episode(episode)
    assert report.ok and report.steps_checked == 4
    episode.refresh_from_db()
    assert episode.verified_ok is True


def test_it_detects_a_tampered_log(toy_game: str) -> None:
    episode = start(seed=1)
    for index in range(3):
        do_apply_action(episode.pk, index=index, action="right")
    Step.objects.filter(episode=episode, index=1).update(executed=[2])
    episode.refresh_from_db()
    report = do_verify_episode(episode)
    assert not report.ok and report.first_mismatch == 1


def test_it_detects_a_changed_reset(toy_game: str) -> None:
    episode = start(seed=1)
    Episode.objects.filter(pk=episode.pk).update(reset_info={"start": 2})
    episode.refresh_from_db()
    report = do_verify_episode(episode)
    assert not report.ok and report.first_mismatch == -1


def test_it_marks_activity_at_most_every_resolution_so_steps_stay_in_place_updates(toy_game: str) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from games.steplog import ACTIVITY_RESOLUTION

    episode = start()
    long_ago = timezone.now() - timedelta(hours=1)
    Episode.objects.filter(pk=episode.pk).update(last_activity_at=long_ago)
    do_apply_action(episode.pk, index=0, action="right")
    touched = Episode.objects.get(pk=episode.pk).last_activity_at
    assert touched > timezone.now() - ACTIVITY_RESOLUTION
    do_apply_action(episode.pk, index=1, action="right")
    again = Episode.objects.get(pk=episode.pk)
    assert (again.steps, again.last_activity_at) == (2, touched)  # recent enough: left alone
