"""What a viewer may cost, and what a viewer sees after a lost broadcast,
through the full ASGI application (issue 17 item 8, issue 25).

Personas: ``pat`` plays; ``olga`` (logged in) and anonymous strangers watch.
Connections say which address they come from, as the server would see it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import override_settings

from balrogweb.errors import WEBSOCKET_TOO_MANY
from games import events
from games.cursors import replay_cursors
from games.models import Episode
from games.services import do_apply_action
from play.consumers import ViewerGate
from play.limits import reset_action_limiter, viewer_limits
from play.services import ViewerRefused, resync, step_message
from play.snapshots import viewer_texts
from tests.support.personas import Persona
from tests.support.settings_files import PROTOCOL_DOC
from tests.support.websocket import TIMEOUT, act, communicator, say_hello, start_toy_at

HOSTILE = "203.0.113.7"


def from_address(episode_id: int, persona: Persona | None, address: str) -> WebsocketCommunicator:
    comm = communicator(episode_id, persona)
    comm.scope["client"] = (address, 50000)  # the application reads the scope when it first runs
    return comm


@pytest.fixture
def tight_viewer_limits() -> Iterator[None]:
    """Two viewers open per address, three opened in a burst, two syncs in a
    burst; nothing refills during a test."""
    limits = {
        "BALROG_PLAY_VIEWERS_PER_ADDRESS": 2,
        "BALROG_PLAY_VIEWER_CONNECTS_PER_SECOND": 0.01,
        "BALROG_PLAY_VIEWER_CONNECT_BURST": 3,
        "BALROG_PLAY_SYNCS_PER_SECOND": 0.01,
        "BALROG_PLAY_SYNC_BURST": 2,
    }
    with override_settings(**limits):
        reset_action_limiter()
        yield
    reset_action_limiter()


async def refused_hello(comm: WebsocketCommunicator) -> tuple[dict[str, Any], dict[str, Any]]:
    connected, _ = await comm.connect()
    assert connected
    await comm.send_json_to({"type": "hello", "protocol": 2, "version": None})
    error = await comm.receive_json_from(timeout=TIMEOUT)
    closing = await comm.receive_output(timeout=TIMEOUT)
    return error, closing


async def sync(comm: WebsocketCommunicator, version: int) -> dict[str, Any]:
    await comm.send_json_to({"type": "sync", "version": version})
    reply: dict[str, Any] = await comm.receive_json_from(timeout=TIMEOUT)
    return reply


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_it_refuses_viewers_past_the_addresss_limit_and_admits_again_after_one_leaves(
    toy_game: str, pat: Persona, olga: Persona, tight_viewer_limits: None
) -> None:
    episode = await start_toy_at(pat, 1)
    first, second = from_address(episode.pk, None, HOSTILE), from_address(episode.pk, olga, HOSTILE)
    assert (await say_hello(first))[0]["role"] == "viewer"
    assert (await say_hello(second))[0]["role"] == "viewer"

    # With no session cookie it cannot be anyone's episode: refused at the handshake, before the session is read.
    assert (await from_address(episode.pk, None, HOSTILE).connect())[0] is False
    # With a session, once the server knows it is not the player's.
    error, closing = await refused_hello(from_address(episode.pk, olga, HOSTILE))
    assert (error["type"], error["code"]) == ("error", "too_many_viewers")
    assert "2 connections are already watching from your address" in error["message"]
    assert closing == {"type": "websocket.close", "code": WEBSOCKET_TOO_MANY}
    assert (await say_hello(from_address(episode.pk, None, "198.51.100.1")))[0]["role"] == "viewer"

    await second.disconnect()
    assert viewer_limits().open_count(HOSTILE) == 1
    third = from_address(episode.pk, None, HOSTILE)
    assert (await say_hello(third))[0]["role"] == "viewer"  # the third of the burst of 3
    await third.disconnect()
    error, _ = await refused_hello(from_address(episode.pk, olga, HOSTILE))  # the burst is spent
    assert "too many viewer connections opened" in error["message"]
    assert (await from_address(episode.pk, None, HOSTILE).connect())[0] is False
    await first.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_it_limits_a_viewers_syncs_and_changes_nothing(
    toy_game: str, pat: Persona, olga: Persona, tight_viewer_limits: None
) -> None:
    episode = await start_toy_at(pat, 1)
    watcher = from_address(episode.pk, olga, HOSTILE)
    await say_hello(watcher)
    assert (await sync(watcher, 0))["type"] == "snapshot"
    assert (await sync(watcher, 0))["type"] == "snapshot"
    refused = await sync(watcher, 0)
    assert (refused["type"], refused["code"], refused["version"]) == ("error", "rate_limited", 0)
    assert "seq" not in refused and "syncs from your address" in refused["message"]
    player = from_address(episode.pk, pat, HOSTILE)
    await say_hello(player)
    await act(player, 0, "wait")
    seen = await watcher.receive_json_from(timeout=TIMEOUT)  # events are not syncs: never limited
    assert (seen["type"], seen["version"]) == ("step", 1)
    await player.disconnect()
    await watcher.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_it_never_limits_the_episodes_own_player(toy_game: str, pat: Persona, tight_viewer_limits: None) -> None:
    episode = await start_toy_at(pat, 1)
    tabs = [from_address(episode.pk, pat, HOSTILE) for _ in range(5)]
    for tab in tabs:
        assert (await say_hello(tab))[0]["role"] == "player"
    for version in range(6):
        assert (await sync(tabs[0], 0))["type"] == "snapshot"
        assert (await act(tabs[0], version, "wait"))["version"] == version + 1
    assert viewer_limits().open_count(HOSTILE) == 0
    for tab in tabs:
        await tab.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_it_builds_one_snapshot_for_many_viewers_and_a_new_one_per_version(toy_game: str, pat: Persona) -> None:
    episode = await start_toy_at(pat, 1)
    player = communicator(episode.pk, pat)
    await say_hello(player)
    for seq in range(3):
        await act(player, seq, "wait")
    viewer_texts().clear()
    viewers = [from_address(episode.pk, None, f"192.0.2.{n}") for n in range(6)]
    snapshots = [(await say_hello(viewer, version=0))[1] for viewer in viewers]
    assert viewer_texts().builds == 1  # the same hello: one read of the steps, one encode
    assert {(s["version"], len(s["missed"])) for s in snapshots} == {(3, 3)}

    await act(player, 3, "right")  # every viewer hears of step 4: its message is the player's frame's, no build
    steps = [await viewer.receive_json_from(timeout=TIMEOUT) for viewer in viewers]
    assert {(s["type"], s["version"], s["frame"]["position"]) for s in steps} == {("step", 4, 2)}
    assert viewer_texts().builds == 1
    fresh = await sync(viewers[0], 0)  # never the cached version 3 as current
    assert (fresh["version"], len(fresh["missed"]), fresh["frame"]) == (4, 4, {"position": 2})
    assert viewer_texts().builds == 2
    for comm in [player, *viewers]:
        await comm.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_it_sends_a_viewer_every_step_in_order_when_broadcasts_are_lost(
    toy_game: str, pat: Persona, olga: Persona, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Steps whose broadcast never left (Redis down when they committed): the
    next event's version shows the gap, and the viewer gets the missed steps
    before it; an end after a lost last step brings that step first."""
    lost_versions = {2, 3, 5}
    send = events.send_event

    def lossy_send(group: str, event: events.EpisodeEvent) -> None:
        if not (event["kind"] == "step" and event["version"] in lost_versions):
            send(group, event)

    monkeypatch.setattr(events, "send_event", lossy_send)
    episode = await start_toy_at(pat, 1)
    player, watcher = communicator(episode.pk, pat), communicator(episode.pk, olga)
    await say_hello(player)
    await say_hello(watcher)
    for seq in range(5):
        await act(player, seq, "wait")
    await player.send_json_to({"type": "abandon"})
    assert (await player.receive_json_from(timeout=TIMEOUT))["type"] == "ended"

    seen_indices: list[int] = []
    version = 0
    while True:
        message = await watcher.receive_json_from(timeout=TIMEOUT)
        if message["type"] == "ended":
            break
        assert message["version"] > version  # never an older state after a newer one
        if message["type"] == "snapshot":
            seen_indices += [step["index"] for step in message["missed"]]
        else:
            assert message["type"] == "step"
            seen_indices.append(message["step"]["index"])
        version = message["version"]
    assert seen_indices == [0, 1, 2, 3, 4] and version == 5
    assert message["status"] == Episode.Status.ABANDONED
    await player.disconnect()
    await watcher.disconnect()


def test_it_documents_the_viewer_limits_and_codes_as_the_code_has_them() -> None:
    text = PROTOCOL_DOC.read_text(encoding="utf-8")
    assert f"| {WEBSOCKET_TOO_MANY} |" in text and f"| `{ViewerRefused.code}` |" in text
    for name in (
        "VIEWERS_PER_ADDRESS",
        "VIEWER_CONNECTS_PER_SECOND",
        "VIEWER_CONNECT_BURST",
        "SYNCS_PER_SECOND",
        "SYNC_BURST",
    ):
        default = getattr(settings, f"BALROG_PLAY_{name}")
        assert f"`BALROG_PLAY_{name}` ({default:g})" in text, name


@pytest.mark.django_db
def test_it_moves_a_viewer_on_to_the_live_state_rather_than_replaying_the_game(toy_game: str, pat: Persona) -> None:
    """A step whose broadcast arrives after the player made the next one: this
    process's live game has moved past it, and drawing it would replay the
    episode from its seed (hundreds of NetHack steps). The viewer gets the
    current state with the missed steps instead, built from the live game."""
    episode = pat.start("toy", "corridor")
    for index in range(3):
        do_apply_action(episode.pk, index=index, action="wait")
    assert step_message(episode.pk, 2, False) is None  # the live game is at 3
    assert len(replay_cursors()) == 0
    version, text = resync(episode.pk, 1, False)
    snapshot = json.loads(text)
    assert (version, snapshot["version"], [step["index"] for step in snapshot["missed"]]) == (3, 3, [1, 2])
    assert len(replay_cursors()) == 0  # drawn from the live game: nothing replayed
    step = json.loads(step_message(episode.pk, 3, False) or "null")
    assert (step["type"], step["version"], step["step"]["index"]) == ("step", 3, 2)


def test_it_turns_away_only_cookie_less_episode_sockets_from_an_address_over_its_limits(
    tight_viewer_limits: None,
) -> None:
    def scope(path: str = "/ws/episodes/1/", cookies: dict[str, str] | None = None) -> dict[str, Any]:
        return {"type": "websocket", "path": path, "cookies": cookies or {}, "client": (HOSTILE, 1)}

    assert not ViewerGate._surely_refused(scope())  # under the limits: the consumer decides
    for _ in range(3):
        assert viewer_limits().connects.allow(HOSTILE)  # the burst of 3, spent
    assert ViewerGate._surely_refused(scope())
    assert not ViewerGate._surely_refused(scope(cookies={settings.SESSION_COOKIE_NAME: "k"}))  # maybe the player
    assert not ViewerGate._surely_refused(scope(path="/ws/elsewhere/"))
    assert viewer_limits().connects.would_allow("198.51.100.9")
