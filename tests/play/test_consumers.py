"""The episode websocket through the full ASGI application (Origin check,
sessions, auth), on whatever database and channel layer are configured."""

from __future__ import annotations

import asyncio
from typing import Any
from unittest import mock

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import OperationalError
from django.test import override_settings

from balrogweb.asgi import application
from games.cursors import replay_cursors
from games.live import live_games
from games.models import Episode, Step
from games.registry import make_adapter
from ops.outage import DatabaseBreaker
from play.limits import reset_action_limiter
from tests.support.games import BABYAI_TASK
from tests.support.outage import FakeDatabase
from tests.support.personas import Persona
from tests.support.websocket import MODEL_VIEW_HEADER as VIEW
from tests.support.websocket import TIMEOUT, act, communicator, say_hello, start, start_toy_at

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@database_sync_to_async
def reload(episode: Episode) -> Episode:
    episode.refresh_from_db()
    return episode


@database_sync_to_async
def step_count(episode: Episode) -> int:
    return Step.objects.filter(episode=episode).count()


async def test_it_plays_the_toy_game_to_a_win(toy_game: str, pat: Persona) -> None:
    episode = await start_toy_at(pat, 2)
    comm = communicator(episode.pk, pat)
    welcome, snapshot = await say_hello(comm)
    assert welcome["role"] == "player" and welcome["protocol"] == 2
    assert snapshot["version"] == 0 and snapshot["frame"] == {"position": 2}
    assert snapshot["actions"] == ["left", "right", "wait"]
    for seq in range(3):
        ack = await act(comm, seq, "right", "ArrowRight")
        assert (ack["type"], ack["seq"], ack["version"]) == ("ack", seq, seq + 1)
        assert ack["frame"] == {"position": 3 + seq}
        assert ack["hud"]["steps"] == seq + 1
    assert ack["end"]["reason"] == "won" and ack["end"]["progression"] == 1.0
    assert ack["env_ms"] >= 0 and ack["server_ms"] >= ack["env_ms"]
    episode = await reload(episode)
    assert (episode.status, episode.end_reason, episode.steps) == ("finished", "won", 3)
    await comm.disconnect()


async def test_it_plays_babyai_to_a_win_with_the_bots_moves(pat: Persona) -> None:
    from games.babyai.bot import BabyAIBotPolicy

    episode = await start(pat, "babyai", BABYAI_TASK)
    solver: Any = make_adapter("babyai", BABYAI_TASK)
    solver.reset(episode.seed)
    bot = BabyAIBotPolicy(solver)
    comm = communicator(episode.pk, pat)
    await say_hello(comm)
    seq = 0
    while not solver.done:
        action = bot.next_action()
        solver.step(action)
        ack = await act(comm, seq, action)
        assert ack["type"] == "ack" and ack["version"] == seq + 1
        assert ack["frame"] == solver.frame()
        seq += 1
    assert ack["end"]["reason"] == "won" and ack["hud"]["progression"] == 1.0
    episode = await reload(episode)
    assert (episode.status, episode.progression, episode.steps) == ("finished", 1.0, seq)
    await comm.disconnect()


async def test_it_applies_a_repeated_seq_once(toy_game: str, pat: Persona) -> None:
    episode = await start_toy_at(pat, 0)
    comm = communicator(episode.pk, pat)
    await say_hello(comm)
    first = await act(comm, 0, "right")
    again = await act(comm, 0, "right")
    assert (first["duplicate"], again["duplicate"]) == (False, True)
    assert again["version"] == 1 and again["frame"] == {"position": 1}
    assert await step_count(episode) == 1
    conflict = await act(comm, 0, "left")
    assert (conflict["type"], conflict["code"], conflict["seq"]) == ("error", "step_conflict", 0)
    assert await step_count(episode) == 1
    await comm.disconnect()


async def test_it_refuses_an_out_of_order_seq(toy_game: str, pat: Persona) -> None:
    episode = await start_toy_at(pat, 0)
    comm = communicator(episode.pk, pat)
    await say_hello(comm)
    error = await act(comm, 4, "right")
    assert (error["type"], error["code"], error["seq"], error["version"]) == ("error", "out_of_order", 4, 0)
    assert await step_count(episode) == 0
    ack = await act(comm, 0, "right")  # the connection goes on
    assert ack["version"] == 1
    await comm.disconnect()


async def test_it_rejects_an_action_outside_the_action_space_and_changes_nothing(toy_game: str, pat: Persona) -> None:
    episode = await start_toy_at(pat, 1)
    comm = communicator(episode.pk, pat)
    await say_hello(comm)
    error = await act(comm, 0, "jump")
    assert (error["type"], error["code"]) == ("error", "invalid_action")
    assert await step_count(episode) == 0
    assert live_games().get(episode.pk).steps == 0  # type: ignore[union-attr]
    ack = await act(comm, 0, "right")
    assert ack["frame"] == {"position": 2}
    await comm.disconnect()


async def test_it_refuses_actions_from_anyone_but_the_player(
    toy_game: str, pat: Persona, olga: Persona, visitor: Persona
) -> None:
    episode = await start_toy_at(pat, 1)
    for intruder in (olga, visitor, None):
        comm = communicator(episode.pk, intruder)
        welcome, snapshot = await say_hello(comm)
        assert welcome["role"] == "viewer" and snapshot["frame"] == {"position": 1}
        error = await act(comm, 0, "right")
        assert (error["type"], error["code"]) == ("error", "forbidden")
        await comm.send_json_to({"type": "abandon"})
        assert (await comm.receive_json_from(timeout=TIMEOUT))["code"] == "forbidden"
        await comm.disconnect()
    episode = await reload(episode)
    assert (episode.steps, episode.status) == (0, "running")


async def test_it_lets_an_anonymous_visitor_play_their_own_episode(toy_game: str, visitor: Persona) -> None:
    episode = await start_toy_at(visitor, 1)
    comm = communicator(episode.pk, visitor)
    welcome, _ = await say_hello(comm)
    assert welcome["role"] == "player"
    assert (await act(comm, 0, "right"))["version"] == 1
    await comm.disconnect()


async def test_it_sends_spectators_each_step(toy_game: str, pat: Persona, olga: Persona) -> None:
    episode = await start_toy_at(pat, 1)
    player, watcher = communicator(episode.pk, pat), communicator(episode.pk, olga)
    await say_hello(player)
    await say_hello(watcher)
    for seq in range(2):
        ack = await act(player, seq, "right")
        seen = await watcher.receive_json_from(timeout=TIMEOUT)
        assert (seen["type"], seen["version"], seen["frame"]) == ("step", ack["version"], ack["frame"])
        assert seen["step"]["input"] == "right"
    assert await player.receive_nothing(timeout=0.2)  # the player's own step is not echoed back
    await player.disconnect()
    await watcher.disconnect()


async def test_it_sends_a_reconnecting_client_the_steps_it_missed(toy_game: str, pat: Persona) -> None:
    episode = await start_toy_at(pat, 0)
    first = communicator(episode.pk, pat)
    await say_hello(first)
    await act(first, 0, "right")
    await first.disconnect()
    other_tab = communicator(episode.pk, pat)
    await say_hello(other_tab)
    await act(other_tab, 1, "right")
    await act(other_tab, 2, "wait")
    await other_tab.disconnect()

    back = communicator(episode.pk, pat)
    _, snapshot = await say_hello(back, version=1)
    assert snapshot["version"] == 3 and snapshot["since"] == 1
    assert [(s["index"], s["action"]) for s in snapshot["missed"]] == [(1, "right"), (2, "wait")]
    assert snapshot["frame"] == {"position": 2}
    assert (await act(back, 3, "right"))["version"] == 4
    await back.disconnect()


async def test_it_rebuilds_an_episode_by_replay_after_a_restart(toy_game: str, pat: Persona) -> None:
    episode = await start_toy_at(pat, 0)
    comm = communicator(episode.pk, pat)
    await say_hello(comm)
    await act(comm, 0, "right")
    await act(comm, 1, "right")
    await comm.disconnect()
    live_games().clear()  # the web process restarted: no game in memory
    replay_cursors().clear()

    comm = communicator(episode.pk, pat)
    welcome, snapshot = await say_hello(comm, version=2)
    assert welcome["role"] == "player"
    assert (snapshot["version"], snapshot["frame"], snapshot["missed"]) == (2, {"position": 2}, [])
    assert live_games().get(episode.pk).steps == 2  # type: ignore[union-attr]
    ack = await act(comm, 2, "right")
    assert (ack["version"], ack["frame"]) == (3, {"position": 3})
    live_games().clear()  # and again, between two actions
    ack = await act(comm, 3, "right")
    assert (ack["version"], ack["frame"]) == (4, {"position": 4})
    await comm.disconnect()


async def test_it_answers_bad_messages_with_clear_errors(toy_game: str, pat: Persona) -> None:
    episode = await start_toy_at(pat, 0)
    comm = communicator(episode.pk, pat)
    connected, _ = await comm.connect()
    assert connected
    cases = [
        ("{not json", "bad_json"),
        ('["a list"]', "bad_message"),
        ('{"type": "fly"}', "unknown_type"),
        ('{"type": "action", "seq": 0, "action": "right"}', "hello_first"),
        ('{"type": "hello", "protocol": 99}', "protocol_version"),
    ]
    for text, code in cases:
        await comm.send_to(text_data=text)
        error = await comm.receive_json_from(timeout=TIMEOUT)
        assert (error["type"], error["code"]) == ("error", code)
        assert "Traceback" not in error["message"]
    await comm.send_to(bytes_data=b"\x00")
    assert (await comm.receive_json_from(timeout=TIMEOUT))["code"] == "bad_message"
    await comm.send_json_to({"type": "hello", "protocol": 2, "version": None})
    await comm.receive_json_from(timeout=TIMEOUT)
    await comm.receive_json_from(timeout=TIMEOUT)
    for bad in ({"seq": -1, "action": "right"}, {"seq": "0", "action": "right"}, {"seq": 0, "action": 7}):
        await comm.send_json_to({"type": "action", **bad})
        assert (await comm.receive_json_from(timeout=TIMEOUT))["code"] == "bad_message"
    await comm.send_json_to({"type": "ping", "t": 5})
    assert await comm.receive_json_from(timeout=TIMEOUT) == {"type": "pong", "t": 5, "version": 0}
    assert await step_count(episode) == 0
    await comm.disconnect()


async def test_it_closes_a_connection_to_a_missing_episode(pat: Persona) -> None:
    comm = communicator(987654, pat)
    connected, _ = await comm.connect()
    assert connected
    await comm.send_json_to({"type": "hello", "protocol": 2})
    error = await comm.receive_json_from(timeout=TIMEOUT)
    assert (error["type"], error["code"]) == ("error", "not_found")
    closed = await comm.receive_output(timeout=TIMEOUT)
    assert closed == {"type": "websocket.close", "code": 4404}


async def test_it_refuses_a_foreign_origin(toy_game: str, pat: Persona) -> None:
    episode = await start_toy_at(pat, 0)
    comm = WebsocketCommunicator(
        application,
        f"/ws/episodes/{episode.pk}/",
        headers=[(b"origin", b"http://evil.example"), pat.cookie],
    )
    connected, _ = await comm.connect()
    assert not connected


async def test_it_shows_the_models_view_on_request(toy_game: str, pat: Persona) -> None:
    episode = await start_toy_at(pat, 1)
    comm = communicator(episode.pk, pat)
    _, snapshot = await say_hello(comm)
    assert "observation" not in snapshot
    await comm.send_json_to({"type": "options", "observation": True})
    shown = await comm.receive_json_from(timeout=TIMEOUT)
    assert shown == {"type": "observation", "version": 0, "observation": VIEW + "You are at cell 1 of 0..5."}
    ack = await act(comm, 0, "right")
    assert ack["observation"] == VIEW + "You are at cell 2 of 0..5."
    await comm.disconnect()


@override_settings(BALROG_PLAY_ACTIONS_PER_SECOND=0.1, BALROG_PLAY_ACTION_BURST=2)
async def test_it_limits_actions_per_second(toy_game: str, pat: Persona) -> None:
    reset_action_limiter()
    episode = await start_toy_at(pat, 0)
    comm = communicator(episode.pk, pat)
    await say_hello(comm)
    assert (await act(comm, 0, "wait"))["type"] == "ack"
    assert (await act(comm, 1, "wait"))["type"] == "ack"
    limited = await act(comm, 2, "wait")
    assert (limited["type"], limited["code"], limited["seq"]) == ("error", "rate_limited", 2)
    assert await step_count(episode) == 2
    await comm.disconnect()


async def test_it_tells_the_player_to_resend_when_the_database_is_down(
    toy_game: str, pat: Persona, breaker: DatabaseBreaker, database: FakeDatabase
) -> None:
    episode = await start_toy_at(pat, 0)
    comm = communicator(episode.pk, pat)
    await say_hello(comm)
    outage = OperationalError("connection failed: Connection refused")
    with mock.patch("games.services.write_step", side_effect=outage), mock.patch("play.consumers.logger"):
        refused = await act(comm, 0, "right")
    assert (refused["type"], refused["code"], refused["seq"]) == ("error", "unavailable", 0)
    assert "Connection refused" not in refused["message"]
    assert await step_count(episode) == 0 and breaker.tripped
    database.up = True  # the database is back: the next message's probe connects
    again = await act(comm, 0, "right")  # the same seq
    assert (again["type"], again["version"], again["frame"]) == ("ack", 1, {"position": 1})
    assert await step_count(episode) == 1
    await comm.disconnect()


async def test_it_refuses_actions_at_once_while_the_database_is_known_down(
    toy_game: str, pat: Persona, breaker: DatabaseBreaker, database: FakeDatabase
) -> None:
    episode = await start_toy_at(pat, 0)
    comm = communicator(episode.pk, pat)
    await say_hello(comm)
    breaker.trip()
    with mock.patch("play.services.do_apply_player_action", side_effect=AssertionError("stepped")):
        refused = await act(comm, 0, "right")
        assert (refused["type"], refused["code"], refused["seq"]) == ("error", "unavailable", 0)
        await comm.send_json_to({"type": "ping", "t": 7})  # needs no database: answered
        assert (await comm.receive_json_from())["type"] == "pong"
    database.now += 1.0
    database.up = True
    again = await act(comm, 0, "right")
    assert (again["type"], again["version"]) == ("ack", 1) and await step_count(episode) == 1
    await comm.disconnect()


async def test_it_ends_the_episode_when_the_player_abandons(toy_game: str, pat: Persona, olga: Persona) -> None:
    episode = await start_toy_at(pat, 1)
    player, watcher = communicator(episode.pk, pat), communicator(episode.pk, olga)
    await say_hello(player)
    await say_hello(watcher)
    await act(player, 0, "right")
    assert (await watcher.receive_json_from(timeout=TIMEOUT))["type"] == "step"
    await player.send_json_to({"type": "abandon"})
    ended = await player.receive_json_from(timeout=TIMEOUT)
    assert (ended["type"], ended["end"]["status"], ended["end"]["steps"]) == ("ended", "abandoned", 1)
    seen = await watcher.receive_json_from(timeout=TIMEOUT)
    assert (seen["type"], seen["status"]) == ("ended", "abandoned")
    # After its end, the player's own action is not_running, then the end again (the doc's rule);
    # someone else's is forbidden.
    refused = await act(player, 1, "right")
    assert (refused["code"], refused["seq"]) == ("not_running", 1)
    assert (await player.receive_json_from(timeout=TIMEOUT))["type"] == "ended"
    assert (await act(watcher, 1, "right"))["code"] == "forbidden"
    await player.disconnect()
    await watcher.disconnect()


async def test_it_tells_a_second_tab_of_the_player_about_steps_and_ends_made_elsewhere(
    toy_game: str, pat: Persona
) -> None:
    episode = await start_toy_at(pat, 0)
    first, second = communicator(episode.pk, pat), communicator(episode.pk, pat)
    await say_hello(first)
    await say_hello(second)
    await act(first, 0, "right")
    stale = await act(second, 0, "wait")  # this tab still shows version 0
    assert (stale["code"], stale["version"]) == ("step_conflict", 0)
    await second.send_json_to({"type": "sync", "version": 0})
    synced = await second.receive_json_from(timeout=TIMEOUT)
    assert (synced["type"], synced["version"], synced["frame"]) == ("snapshot", 1, {"position": 1})
    assert [s["action"] for s in synced["missed"]] == ["right"]
    await first.send_json_to({"type": "abandon"})
    assert (await first.receive_json_from(timeout=TIMEOUT))["type"] == "ended"
    refused = await act(second, 1, "right")
    assert (refused["type"], refused["code"]) == ("error", "not_running")
    ended = await second.receive_json_from(timeout=TIMEOUT)
    assert (ended["type"], ended["end"]["status"]) == ("ended", "abandoned")
    await first.disconnect()
    await second.disconnect()


@pytest.mark.slow
@pytest.mark.services
@pytest.mark.skipif(not settings.REDIS_URL, reason="the Redis channel layer only (REDIS_URL)")
async def test_it_keeps_an_idle_connection_open_on_redis(toy_game: str, pat: Persona) -> None:
    """channels-redis blocks 5 s per read of a consumer's channel; redis-py 8's
    default 5 s socket timeout used to kill every idle consumer after ~5 s."""
    from channels_redis.core import RedisChannelLayer

    layer: Any = settings.CHANNEL_LAYERS["default"]
    assert layer["CONFIG"]["hosts"][0]["socket_timeout"] > RedisChannelLayer.brpop_timeout
    episode = await start_toy_at(pat, 0)
    comm = communicator(episode.pk, pat)
    await say_hello(comm)
    await asyncio.sleep(RedisChannelLayer.brpop_timeout + 2)
    await comm.send_json_to({"type": "ping", "t": 1})
    assert (await comm.receive_json_from(timeout=TIMEOUT))["type"] == "pong"
    assert (await act(comm, 0, "right"))["version"] == 1
    await comm.disconnect()


# ----- protocol 2: the frame before the ack -----------------------------------------
async def act_early(comm: WebsocketCommunicator, seq: int, action: str, key: str | None = None) -> tuple[dict, dict]:
    """Send an action on protocol 2; the two messages that follow (a frame and its ack)."""
    await comm.send_json_to({"type": "action", "seq": seq, "action": action, "input": key or action})
    return await comm.receive_json_from(timeout=TIMEOUT), await comm.receive_json_from(timeout=TIMEOUT)


async def test_it_sends_the_frame_before_the_ack_on_protocol_2(toy_game: str, pat: Persona) -> None:
    episode = await start_toy_at(pat, 1)
    comm = communicator(episode.pk, pat)
    welcome, _ = await say_hello(comm, protocol=2)
    assert welcome["protocol"] == 2
    frame, ack = await act_early(comm, 0, "right", "ArrowRight")
    assert (frame["type"], frame["seq"], frame["version"], frame["frame"]) == ("frame", 0, 1, {"position": 2})
    assert frame["hud"]["steps"] == 1 and frame["env_ms"] >= 0
    assert "actions" not in frame  # unchanged since the snapshot
    assert (ack["type"], ack["seq"], ack["version"], ack["duplicate"]) == ("ack", 0, 1, False)
    assert "frame" not in ack and ack["step"]["action"] == "right" and ack["end"] is None
    assert await step_count(episode) == 1
    await comm.disconnect()


async def test_it_ends_with_a_frame_then_an_ack_with_the_end(toy_game: str, pat: Persona) -> None:
    episode = await start_toy_at(pat, 0)
    comm = communicator(episode.pk, pat)
    await say_hello(comm, protocol=2)
    frame, ack = await act_early(comm, 0, "left")  # into the pit
    assert frame["type"] == "frame" and frame["hud"]["done"] is True
    assert "end" not in frame  # the end facts are read back once the step is committed
    assert ack["end"]["status"] == "finished" and ack["step"]["done"] is True
    assert (await reload(episode)).status == "finished"
    await comm.disconnect()


async def test_it_acks_a_duplicate_with_the_state_and_no_frame_on_protocol_2(toy_game: str, pat: Persona) -> None:
    episode = await start_toy_at(pat, 1)
    comm = communicator(episode.pk, pat)
    await say_hello(comm, protocol=2)
    frame, ack = await act_early(comm, 0, "left")
    assert (frame["type"], ack["type"]) == ("frame", "ack")
    again = await act(comm, 0, "left")  # as a client does after losing the ack in a reconnect
    assert (again["type"], again["duplicate"], again["version"], again["frame"]) == ("ack", True, 1, {"position": 0})
    assert await comm.receive_nothing(timeout=0.2)
    assert await step_count(episode) == 1
    await comm.disconnect()


async def test_it_sends_no_frame_for_a_refused_action_on_protocol_2(toy_game: str, pat: Persona) -> None:
    episode = await start_toy_at(pat, 1)
    comm = communicator(episode.pk, pat)
    await say_hello(comm, protocol=2)
    refused = await act(comm, 0, "jump")
    assert (refused["type"], refused["code"], refused["seq"]) == ("error", "invalid_action", 0)
    assert await comm.receive_nothing(timeout=0.2)
    assert await step_count(episode) == 0
    await comm.disconnect()


async def test_it_speaks_protocol_1_to_a_hello_without_one(toy_game: str, pat: Persona) -> None:
    episode = await start_toy_at(pat, 1)
    comm = communicator(episode.pk, pat)
    connected, _ = await comm.connect()
    assert connected
    await comm.send_json_to({"type": "hello", "version": None})
    welcome = await comm.receive_json_from(timeout=TIMEOUT)
    await comm.receive_json_from(timeout=TIMEOUT)  # the snapshot
    ack = await act(comm, 0, "right")
    assert welcome["protocol"] == 1 and (ack["type"], ack["frame"]) == ("ack", {"position": 2})
    await comm.disconnect()


async def test_it_says_nothing_when_the_client_leaves_during_a_reply(
    toy_game: str, pat: Persona, caplog: pytest.LogCaptureFixture
) -> None:
    from uvicorn.protocols.utils import ClientDisconnected

    episode = await start_toy_at(pat, 0)
    comm = communicator(episode.pk, pat)
    await say_hello(comm)
    with mock.patch("play.consumers.EpisodeConsumer._handle", side_effect=ClientDisconnected()):
        await comm.send_json_to({"type": "ping", "t": 1})
        assert await comm.receive_nothing(timeout=0.3)  # no server_error for a client that is gone
    assert not [record for record in caplog.records if record.levelname == "ERROR"]
    assert (await act(comm, 0, "right"))["type"] == "ack"  # the connection itself is fine
    await comm.disconnect()
