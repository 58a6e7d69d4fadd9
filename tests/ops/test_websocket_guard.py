"""The websocket guard (ops.websocket) through the full ASGI application:
Origin validation, message size, per-connection rate, bounded queue, the
session re-check, and its counters. Nothing it refuses changes an episode."""

from __future__ import annotations

import logging
from typing import Any
from unittest import mock

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.models import Session
from django.db import OperationalError
from django.test import override_settings

from balrogweb.asgi import application
from games.models import Episode, Step
from ops import metrics
from ops.outage import DatabaseBreaker
from tests.support.outage import FakeDatabase
from tests.support.personas import Persona
from tests.support.websocket import HOST, ORIGIN, communicator

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

TIMEOUT = 20


@database_sync_to_async
def start_toy(persona: Persona) -> Episode:
    return persona.start("toy", "corridor")


@database_sync_to_async
def steps_of(episode: Episode) -> int:
    return Step.objects.filter(episode=episode).count()


async def hello(comm: WebsocketCommunicator) -> None:
    connected, _ = await comm.connect()
    assert connected
    await comm.send_json_to({"type": "hello", "protocol": 2, "version": None})
    assert (await comm.receive_json_from(timeout=TIMEOUT))["type"] == "welcome"
    assert (await comm.receive_json_from(timeout=TIMEOUT))["type"] == "snapshot"


async def acked(comm: WebsocketCommunicator) -> dict[str, Any]:
    """The answer to an applied action on the browser's protocol 2: its frame, then its ack."""
    assert (await comm.receive_json_from(timeout=TIMEOUT))["type"] == "frame"
    ack: dict[str, Any] = await comm.receive_json_from(timeout=TIMEOUT)
    return ack


async def outputs_until_close(comm: WebsocketCommunicator) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Everything sent before the close, and the close; then the application must
    finish on its own (the guard told the consumer), leaving no task behind."""
    seen: list[dict[str, Any]] = []
    while True:
        message = await comm.receive_output(timeout=TIMEOUT)
        if message["type"] == "websocket.close":
            await comm.wait(timeout=TIMEOUT)
            return seen, message
        seen.append(message)


@pytest.mark.parametrize(
    ("headers", "accepted"),
    [
        ([HOST], False),  # no Origin at all
        ([HOST, (b"origin", b"http://evil.example")], False),
        ([HOST, (b"origin", b"http://testserver.evil.example")], False),
        ([HOST, (b"origin", b"null")], False),
        ([HOST, ORIGIN], True),
        ([HOST, (b"origin", b"http://testserver:80")], True),
        ([ORIGIN], False),  # no Host: nothing to compare with
        # Scheme, host and port all count (issue 17): not the host alone.
        ([(b"host", b"localhost:8000"), (b"origin", b"http://localhost:8000")], True),
        ([(b"host", b"localhost:8000"), (b"origin", b"http://localhost:1")], False),
        ([(b"host", b"localhost:8000"), (b"origin", b"https://localhost:8000")], False),
        ([(b"host", b"localhost:8000"), (b"origin", b"https://localhost")], False),
        ([(b"host", b"localhost:8000"), (b"origin", b"http://localhost")], False),
        ([(b"host", b"evil.example"), (b"origin", b"http://evil.example")], False),  # not an allowed host
        ([HOST, (b"origin", b"http://testserver/path")], False),
        ([HOST, (b"origin", b"http://testserver:99999")], False),
    ],
)
async def test_it_accepts_only_allowed_origins(
    toy_game: str, pat: Persona, headers: list[tuple[bytes, bytes]], accepted: bool
) -> None:
    episode = await start_toy(pat)
    comm = WebsocketCommunicator(application, f"/ws/episodes/{episode.pk}/", headers=[*headers, pat.cookie])
    connected, _ = await comm.connect()
    assert connected is accepted
    await comm.disconnect()


@pytest.mark.parametrize(
    ("scheme", "origin", "accepted"),
    [("wss", b"https://testserver", True), ("wss", b"http://testserver", False), ("ws", b"https://testserver", False)],
)
async def test_it_takes_the_sites_scheme_from_the_handshake(
    toy_game: str, pat: Persona, scheme: str, origin: bytes, accepted: bool
) -> None:
    episode = await start_toy(pat)
    comm = WebsocketCommunicator(
        application, f"/ws/episodes/{episode.pk}/", headers=[HOST, (b"origin", origin), pat.cookie]
    )
    comm.scope["scheme"] = scheme
    connected, _ = await comm.connect()
    assert connected is accepted
    await comm.disconnect()


@override_settings(BALROG_WS_TRUSTED_ORIGINS=["https://play.example.org"])
async def test_it_accepts_a_trusted_origin_behind_a_proxy(toy_game: str, pat: Persona) -> None:
    # The proxy forwards neither the public Host nor the scheme: the setting names the public origin.
    episode = await start_toy(pat)
    for origin, accepted in ((b"https://play.example.org", True), (b"http://play.example.org", False)):
        headers = [(b"host", b"127.0.0.1:8000"), (b"origin", origin), pat.cookie]
        comm = WebsocketCommunicator(application, f"/ws/episodes/{episode.pk}/", headers=headers)
        connected, _ = await comm.connect()
        assert connected is accepted, origin
        await comm.disconnect()


async def test_it_refuses_an_unrouted_path_at_the_handshake_without_an_error_log(
    pat: Persona, caplog: pytest.LogCaptureFixture
) -> None:
    huge = "/ws/episodes/9223372036854775808/"  # past the database's ids: no route, never a query
    for path in ("/ws/nothing/", "/ws/episodes/x/", "/ws/", "/other", huge, f"/ws/episodes/{2**70}/"):
        comm = WebsocketCommunicator(application, path, headers=[HOST, ORIGIN, pat.cookie])
        connected, _ = await comm.connect()
        assert not connected, path
        await comm.disconnect()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@override_settings(BALROG_WS_MAX_MESSAGE_BYTES=1024)
async def test_it_closes_with_1009_on_an_oversized_message(toy_game: str, pat: Persona) -> None:
    episode = await start_toy(pat)
    comm = communicator(episode.pk, pat)
    await hello(comm)
    action = '{"type":"action","seq":0,"action":"right","input":"' + "é" * 600 + '"}'  # 1,200+ bytes
    await comm.send_to(text_data=action)
    seen, closed = await outputs_until_close(comm)
    assert (seen, closed["code"]) == ([], 1009)
    assert await steps_of(episode) == 0


@override_settings(BALROG_WS_MAX_MESSAGE_BYTES=1024)
async def test_it_closes_with_1009_on_an_oversized_binary_frame(toy_game: str, pat: Persona) -> None:
    episode = await start_toy(pat)
    comm = communicator(episode.pk, pat)
    await hello(comm)
    await comm.send_to(bytes_data=b"\x00" * 5000)
    _, closed = await outputs_until_close(comm)
    assert closed["code"] == 1009


# One token per 1000 s: the five round trips before the flood may take any time on a busy
# machine without refilling one (at 1/s, a second of them let the sixth message through).
@override_settings(BALROG_WS_MESSAGES_PER_SECOND=0.001, BALROG_WS_MESSAGE_BURST=5)
async def test_it_closes_with_1008_when_a_client_floods(toy_game: str, pat: Persona) -> None:
    episode = await start_toy(pat)
    comm = communicator(episode.pk, pat)
    connected, _ = await comm.connect()
    assert connected
    rejected = metrics.value("balrog_ws_rejected_total")
    for n in range(5):  # the burst is answered
        await comm.send_json_to({"type": "ping", "t": n})
        assert (await comm.receive_json_from(timeout=TIMEOUT))["type"] == "pong"
    await comm.send_json_to({"type": "ping", "t": 5})
    seen, closed = await outputs_until_close(comm)
    assert (seen, closed["code"]) == ([], 1008)
    assert metrics.value("balrog_ws_rejected_total") == rejected + 1


@override_settings(BALROG_WS_QUEUE_MAX=2)
async def test_it_closes_with_1008_when_the_consumer_falls_behind(toy_game: str, pat: Persona) -> None:
    episode = await start_toy(pat)
    comm = communicator(episode.pk, pat)
    connected, _ = await comm.connect()
    assert connected
    for n in range(30):  # queued at once, faster than the consumer answers
        await comm.send_json_to({"type": "ping", "t": n})
    seen, closed = await outputs_until_close(comm)
    assert closed["code"] == 1008
    assert len(seen) < 30


@override_settings(BALROG_WS_RECHECK_SECONDS=0.0)
async def test_it_closes_a_players_socket_after_logout_before_the_next_action(toy_game: str, pat: Persona) -> None:
    episode = await start_toy(pat)
    comm = communicator(episode.pk, pat)
    await hello(comm)
    await comm.send_json_to({"type": "action", "seq": 0, "action": "right"})
    assert (await acked(comm))["type"] == "ack"  # a live session passes the check
    await database_sync_to_async(Session.objects.filter(session_key=pat.session_key).delete)()  # logged out
    await comm.send_json_to({"type": "ping", "t": 1})  # not permission-sensitive: still answered
    assert (await comm.receive_json_from(timeout=TIMEOUT))["type"] == "pong"
    await comm.send_json_to({"type": "action", "seq": 1, "action": "right"})
    _, closed = await outputs_until_close(comm)
    assert closed["code"] == 1008
    assert await steps_of(episode) == 1


@override_settings(BALROG_WS_RECHECK_SECONDS=0.0)
async def test_it_closes_a_deactivated_users_socket(toy_game: str, pat: Persona) -> None:
    episode = await start_toy(pat)
    comm = communicator(episode.pk, pat)
    await hello(comm)
    pat.user.is_active = False
    await database_sync_to_async(pat.user.save)()
    await comm.send_json_to({"type": "abandon"})
    _, closed = await outputs_until_close(comm)
    assert closed["code"] == 1008
    assert (await database_sync_to_async(Episode.objects.get)(pk=episode.pk)).status == Episode.Status.RUNNING


@override_settings(BALROG_WS_RECHECK_SECONDS=0.0)
async def test_it_lets_an_anonymous_visitor_play_without_a_login(toy_game: str, visitor: Persona) -> None:
    episode = await start_toy(visitor)
    comm = communicator(episode.pk, visitor)
    await hello(comm)
    await comm.send_json_to({"type": "action", "seq": 0, "action": "right"})
    assert (await acked(comm))["type"] == "ack"
    await comm.disconnect()


def _counts() -> tuple[float, float, float]:
    names = ("balrog_ws_sessions", "balrog_play_steps_total", "balrog_play_errors_total")
    sessions, steps, errors = (metrics.value(name) for name in names)
    return sessions, steps, errors


async def test_it_counts_sessions_steps_and_errors(toy_game: str, pat: Persona) -> None:
    episode = await start_toy(pat)
    sessions, steps, errors = _counts()
    comm = communicator(episode.pk, pat)
    await hello(comm)
    assert metrics.value("balrog_ws_sessions") == sessions + 1
    await comm.send_json_to({"type": "action", "seq": 0, "action": "right"})
    await acked(comm)
    await comm.send_json_to({"type": "action", "seq": 0, "action": "right"})  # a duplicate: not a step
    assert (await comm.receive_json_from(timeout=TIMEOUT))["duplicate"] is True
    await comm.send_to(text_data="{nope")
    await comm.receive_json_from(timeout=TIMEOUT)
    assert _counts() == (sessions + 1, steps + 1, errors + 1)
    # disconnect() returns once the application, guard included, has exited (or was
    # cancelled): the guard uncounts on either way out, so no wait is needed.
    await comm.disconnect()
    assert metrics.value("balrog_ws_sessions") == sessions


async def test_it_gives_the_socket_its_session_and_the_servers_own_send(pat: Persona) -> None:
    from ops.websocket import WebsocketSession

    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen["session_key"], seen["send"] = scope["session"].session_key, send

    async def server_send(message: Any) -> None:
        raise AssertionError("not called")

    scope = {"type": "websocket", "cookies": {"sessionid": pat.session_key}}
    await WebsocketSession(app)(scope, None, server_send)  # type: ignore[arg-type]
    # The session is the player's; no wrapper evaluates it again for every frame sent.
    assert seen == {"session_key": pat.session_key, "send": server_send}


async def test_it_refuses_the_handshake_at_once_while_the_database_is_known_down(
    toy_game: str, pat: Persona, breaker: DatabaseBreaker, database: FakeDatabase
) -> None:
    episode = await start_toy(pat)
    breaker.trip()
    with mock.patch("channels.auth.get_user", side_effect=AssertionError("read the user")):
        assert await communicator(episode.pk, pat).connect() == (False, 1013)
    database.now += 1.0
    database.up = True
    comm = communicator(episode.pk, pat)
    await hello(comm)
    await comm.disconnect()


async def test_it_trips_the_breaker_when_a_handshake_meets_an_outage(
    toy_game: str, pat: Persona, breaker: DatabaseBreaker
) -> None:
    episode = await start_toy(pat)
    outage = OperationalError("connection failed: Connection refused")
    with mock.patch("channels.auth.get_user", side_effect=outage):
        # Refused with "try again later" (HTTP 403 at the server), not raised into the server (HTTP 500).
        assert await communicator(episode.pk, pat).connect() == (False, 1013)
    assert breaker.tripped
