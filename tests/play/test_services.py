"""play.services and play.replay without a browser or a socket."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from games import cursors
from games.cursors import ReplayCursors, replay_cursors
from games.live import live_games
from games.models import Episode, Step
from games.services import GameError, do_apply_action, do_end_episode, do_start_episode, rebuild_adapter
from games.steplog import StepFields, write_step
from play import replay, services, sweeper
from play.models import PlayRecord, counts_as_baseline, human_baseline_episodes
from play.protocol import Action
from play.replay import frames_window_json
from play.services import starts
from tests.support.personas import Persona
from tests.support.websocket import MODEL_VIEW_HEADER as VIEW

pytestmark = pytest.mark.django_db


def play_toy(persona: Persona, actions: list[str], cell: int = 0) -> Episode:
    """A toy episode started at ``cell`` (seed % 3) with these actions applied."""
    episode = persona.start("toy", "corridor")
    Episode.objects.filter(pk=episode.pk).update(seed=cell)
    live_games().evict(episode.pk)  # rebuilt from the new seed on first use
    for index, action in enumerate(actions):
        do_apply_action(episode.pk, index=index, action=action)
    episode.refresh_from_db()
    return episode


def test_it_keeps_one_live_episode_per_player_and_task(toy_game: str, pat: Persona) -> None:
    first = pat.start("toy", "corridor")
    assert pat.start("toy", "corridor").pk == first.pk
    assert pat.start("toy", "short").pk != first.pk
    do_end_episode(first.pk)
    fresh = pat.start("toy", "corridor")
    assert fresh.pk != first.pk
    assert list(PlayRecord.objects.filter(owner=f"u:{pat.user.pk}", live=True).order_by("pk")) == [
        PlayRecord.objects.get(episode__task="short"),
        PlayRecord.objects.get(episode=fresh),
    ]


def test_it_finds_the_live_episode_without_writing(toy_game: str, pat: Persona) -> None:
    first = pat.start("toy", "corridor")
    do_end_episode(first.pk)  # ended elsewhere: its record is still marked live
    assert services.live_episode_of(pat.player, "toy", "corridor") is None
    assert PlayRecord.objects.get(episode=first).live  # a read (pages call it on GET) changed nothing


def test_it_resumes_the_winner_when_two_starts_race(toy_game: str, pat: Persona, monkeypatch: Any) -> None:
    winner = pat.start("toy", "corridor")
    real = services.live_episode_of
    calls = iter([None])  # the loser checked before the winner's record existed

    def racing(player: services.Player, env: str, task: str) -> Episode | None:
        return next(calls, real(player, env, task))

    monkeypatch.setattr(starts, "live_episode_of", racing)
    episode, resumed = services.do_start_or_resume(pat.player, services.StartRequest("toy", "corridor"), None)
    assert resumed and episode.pk == winner.pk
    loser = Episode.objects.exclude(pk=winner.pk).get()
    assert (loser.status, loser.end_detail) == ("abandoned", "a second start of the same task")


def test_it_counts_logged_in_players_as_baselines_by_default(toy_game: str, pat: Persona, visitor: Persona) -> None:
    mine = play_toy(pat, ["left"])  # died: finished
    theirs = play_toy(visitor, ["left"])
    running = pat.start("toy", "short")
    assert set(human_baseline_episodes()) == {mine}
    assert counts_as_baseline(mine) and not counts_as_baseline(theirs)
    PlayRecord.objects.filter(episode=theirs).update(baseline_override=True)
    PlayRecord.objects.filter(episode=mine).update(baseline_override=False)
    assert set(human_baseline_episodes()) == {theirs}
    assert running not in human_baseline_episodes()


def test_it_closes_idle_human_episodes_as_they_stand(toy_game: str, pat: Persona, olga: Persona) -> None:
    idle = play_toy(pat, ["right"])
    active = olga.start("toy", "corridor")
    model = do_start_episode(env="toy", task="corridor", seed=0, player_kind="model")
    long_ago = timezone.now() - timedelta(hours=2)
    Episode.objects.filter(pk__in=[idle.pk, model.pk]).update(last_activity_at=long_ago)
    assert services.do_close_idle_episodes() == [idle.pk]
    idle.refresh_from_db()
    assert (idle.status, idle.end_reason, idle.steps, idle.progression) == ("abandoned", "abandoned", 1, 0.0)
    assert not PlayRecord.objects.get(episode=idle).live
    assert idle.pk not in live_games()
    assert Episode.objects.get(pk=active.pk).status == Episode.Status.RUNNING
    assert Episode.objects.get(pk=model.pk).status == Episode.Status.RUNNING


def test_it_closes_idle_episodes_from_the_command_line(toy_game: str, pat: Persona, capsys: Any) -> None:
    idle = pat.start("toy", "corridor")
    Episode.objects.filter(pk=idle.pk).update(last_activity_at=timezone.now() - timedelta(days=1))
    call_command("close_idle_episodes")
    assert f"closed 1 idle episodes: [{idle.pk}]" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
@override_settings(BALROG_IDLE_TIMEOUT_SECONDS=1.0)
def test_it_sweeps_idle_episodes_in_the_background(
    toy_game: str, pat: Persona, monkeypatch: pytest.MonkeyPatch
) -> None:
    idle = pat.start("toy", "corridor")
    Episode.objects.filter(pk=idle.pk).update(last_activity_at=timezone.now() - timedelta(minutes=5))
    closed_it = threading.Event()

    def close_idle_episodes() -> list[int]:  # the real one, reporting when it closed ours
        closed = services.do_close_idle_episodes()
        if idle.pk in closed:
            closed_it.set()
        return closed

    monkeypatch.setattr(sweeper, "do_close_idle_episodes", close_idle_episodes)

    async def run_sweeper() -> bool:
        sweeper.ensure_sweeper()
        # Wait for the sweep itself, however slow the machine; the timeout only stops a hang.
        return await asyncio.to_thread(closed_it.wait, 120)

    assert asyncio.run(run_sweeper())
    assert Episode.objects.get(pk=idle.pk).status == Episode.Status.ABANDONED


def test_it_computes_a_window_of_frames_in_one_pass(toy_game: str, pat: Persona, monkeypatch: Any) -> None:
    episode = play_toy(pat, ["right", "wait", "right", "left", "right"])
    rebuilds: list[int | None] = []

    def counting_rebuild(ep: Episode, upto: int | None = None) -> Any:
        rebuilds.append(upto)
        return rebuild_adapter(ep, upto=upto)

    monkeypatch.setattr(cursors, "rebuild_adapter", counting_rebuild)
    first = json.loads(frames_window_json(episode, 0, 3, with_observation=False))
    second = json.loads(frames_window_json(episode, 3, 3, with_observation=True))
    assert rebuilds == [0]  # the second window continued from where the first stopped
    frames = first["frames"] + second["frames"]
    assert [f["frame"]["position"] for f in frames] == [0, 1, 1, 2, 1, 2]  # started at cell 0
    assert [f["version"] for f in frames] == [0, 1, 2, 3, 4, 5]
    assert frames[0]["step"] is None and frames[4]["step"]["action"] == "left"
    assert second["frames"][0]["observation"] == VIEW + "You are at cell 2 of 0..5."
    for version, frame in enumerate(frames):  # each equals a from-scratch replay
        assert frame["frame"] == rebuild_adapter(episode, upto=version).frame()
    json.loads(frames_window_json(episode, 1, 1, with_observation=False))
    assert rebuilds == [0, 1]  # going back rebuilds once


def test_it_bounds_the_replay_cursors(toy_game: str, pat: Persona, olga: Persona, visitor: Persona) -> None:
    episodes = [play_toy(p, ["right"]) for p in (pat, olga, visitor)]
    cursors = ReplayCursors(max_cursors=2)
    adapters = []
    for episode in episodes:
        with cursors.positioned(episode, 1) as adapter:
            adapters.append(adapter)
    assert len(cursors) == 2
    assert adapters[0].closed and not adapters[2].closed  # type: ignore[attr-defined]


def test_it_serves_a_view_at_any_version(toy_game: str, pat: Persona) -> None:
    episode = play_toy(pat, ["right", "right"])
    assert replay.view_at(episode, 2, False)["frame"] == {"position": 2}  # the live game
    assert replay.view_at(episode, 1, True)["observation"] == VIEW + "You are at cell 1 of 0..5."  # a cursor
    assert len(replay_cursors()) == 1
    assert replay.view_at(episode, 99, False)["version"] == 2  # clipped to the log


# ----- the early frame (protocol 2) -------------------------------------------------------
def _toy_action(seq: int, action: str) -> Action:
    return Action(seq=seq, action=action, raw_input=action, source="key")


def test_it_hands_over_the_frame_before_the_write_and_confirms_it(toy_game: str, pat: Persona) -> None:
    episode = play_toy(pat, [], cell=1)
    frames: list[str | None] = []
    committed_at_frame: list[int] = []

    def on_frame(text: str | None) -> None:
        frames.append(text)
        committed_at_frame.append(Episode.objects.get(pk=episode.pk).steps)

    acked = services.do_apply_player_action(
        episode.pk, _toy_action(0, "right"), with_observation=True, known_actions=(), received=0.0, on_frame=on_frame
    )
    assert committed_at_frame == [0] and frames[0] is not None  # shown before the step was written
    frame, ack = json.loads(frames[0]), json.loads(acked.text)
    assert (frame["type"], frame["version"], frame["frame"]) == ("frame", 1, {"position": 2})
    assert frame["actions"] == ["left", "right", "wait"] and "observation" in frame
    assert (ack["type"], ack["version"], ack["duplicate"]) == ("ack", 1, False) and "frame" not in ack
    assert acked.actions == ("left", "right", "wait") and Episode.objects.get(pk=episode.pk).steps == 1


def test_it_tells_the_sink_there_is_no_frame_when_the_action_is_refused(toy_game: str, pat: Persona) -> None:
    episode = play_toy(pat, [], cell=1)
    frames: list[str | None] = []
    with pytest.raises(GameError):
        services.do_apply_player_action(
            episode.pk,
            _toy_action(0, "jump"),
            with_observation=False,
            known_actions=(),
            received=0.0,
            on_frame=frames.append,
        )
    assert frames == [None]


def test_it_sends_the_logged_state_when_the_write_loses_after_the_frame(toy_game: str, pat: Persona) -> None:
    """Another writer (a second tab in another process) logs the same index while
    this one is showing its frame: the ack carries the logged state, not the frame."""
    episode = play_toy(pat, [], cell=1)
    frames: list[str | None] = []

    def race(text: str | None) -> None:
        frames.append(text)
        rival = rebuild_adapter(Episode.objects.get(pk=episode.pk))
        result = rival.step("right")
        fields: StepFields = {"action": "right", "raw_input": "right", "valid": True, "executed": result.executed,
                              "reward": 0.0, "progression": 0.0, "done": False, "digest": rival.digest(),
                              "server_ms": 0.1, "meta": {}}  # fmt: skip
        write_step(episode.pk, 0, {"steps": 1}, fields)

    acked = services.do_apply_player_action(
        episode.pk,
        Action(seq=0, action="right", raw_input="right", source="key"),
        with_observation=False,
        known_actions=(),
        received=0.0,
        on_frame=race,
    )
    ack = json.loads(acked.text)
    assert frames[0] is not None and ack["duplicate"] is True
    assert (ack["version"], ack["frame"]) == (1, {"position": 2})
    assert Step.objects.filter(episode=episode).count() == 1


def test_it_gives_viewers_the_step_message_the_database_would(
    toy_game: str, pat: Persona, django_capture_on_commit_callbacks: Any
) -> None:
    episode = play_toy(pat, [], cell=1)
    for seq, action in enumerate(["right", "left", "right"]):
        with django_capture_on_commit_callbacks(execute=True):
            services.do_apply_player_action(
                episode.pk, _toy_action(seq, action), with_observation=True, known_actions=(), received=0.0,
                on_frame=lambda text: None,
            )  # fmt: skip
        shared = services.shared_step_messages().get(episode.pk, seq + 1)
        services.shared_step_messages().clear()
        from_database = services.step_message(episode.pk, seq + 1, with_observation=False)
        assert shared is not None and from_database is not None
        assert json.loads(shared) == json.loads(from_database)
    assert services.shared_step_messages().get(episode.pk, 2) is None  # only committed steps, by their version


def test_it_shares_no_step_message_when_the_write_loses(
    toy_game: str, pat: Persona, django_capture_on_commit_callbacks: Any
) -> None:
    episode = play_toy(pat, [], cell=1)

    def rival_writes_first(text: str | None) -> None:
        rival = rebuild_adapter(Episode.objects.get(pk=episode.pk))
        result = rival.step("left")
        fields: StepFields = {"action": "left", "raw_input": "left", "valid": True, "executed": result.executed,
                              "reward": 0.0, "progression": 0.0, "done": False, "digest": rival.digest(),
                              "server_ms": 0.1, "meta": {}}  # fmt: skip
        write_step(episode.pk, 0, {"steps": 1}, fields)

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(GameError, match="different input"):
        services.do_apply_player_action(
            episode.pk, _toy_action(0, "right"), with_observation=False, known_actions=(), received=0.0,
            on_frame=rival_writes_first,
        )  # fmt: skip
    assert services.shared_step_messages().get(episode.pk, 1) is None
    logged = services.step_message(episode.pk, 1, with_observation=False)
    assert logged is not None and json.loads(logged)["step"]["action"] == "left"
