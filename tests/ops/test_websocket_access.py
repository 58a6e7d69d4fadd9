"""A change of a user's access reaches their open sockets at once (issue 17):
logout, a password change elsewhere or a deactivation closes them with 1008
within a second, whatever they were doing (playing or watching), without
waiting for their next action; the user's other sessions stay open."""

from __future__ import annotations

import time
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client

from games.models import Episode
from tests.support.personas import Persona, session_for
from tests.support.websocket import communicator

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

TIMEOUT = 20
WITHIN_S = 1.0


async def greeted(comm: WebsocketCommunicator) -> dict[str, Any]:
    connected, _ = await comm.connect()
    assert connected
    await comm.send_json_to({"type": "hello", "protocol": 2, "version": None})
    welcome: dict[str, Any] = await comm.receive_json_from(timeout=TIMEOUT)
    await comm.receive_json_from(timeout=TIMEOUT)  # the snapshot
    return welcome


async def closed_within(comm: WebsocketCommunicator, started: float) -> float:
    message = await comm.receive_output(timeout=WITHIN_S * 5)
    elapsed = time.perf_counter() - started
    assert (message["type"], message.get("code")) == ("websocket.close", 1008), message
    await comm.disconnect()  # the server's answer to a close the application sent
    return elapsed


def log_out(session_key: str) -> None:
    """The logout page, as the browser posts it."""
    client = Client()
    client.cookies["sessionid"] = session_key
    assert client.post("/accounts/logout/").status_code in (200, 302)


@pytest.fixture(autouse=True)
def warm_handler() -> None:
    """The first request of a process builds the middleware chain (ServeStatic
    lists every static file): not part of what a logout costs."""
    assert Client().get("/healthz").status_code == 200


@database_sync_to_async
def start_toy(persona: Persona) -> Episode:
    return persona.start("toy", "corridor")


async def test_it_closes_the_players_and_a_watchers_sockets_within_a_second_of_logout(
    toy_game: str, pat: Persona, olga: Persona
) -> None:
    mine = await start_toy(pat)
    theirs = await start_toy(olga)
    playing, watching = communicator(mine.pk, pat), communicator(theirs.pk, pat)
    assert (await greeted(playing))["role"] == "player"
    assert (await greeted(watching))["role"] == "viewer"
    started = time.perf_counter()
    await database_sync_to_async(log_out)(pat.session_key)
    assert await closed_within(playing, started) < WITHIN_S
    assert await closed_within(watching, started) < WITHIN_S


async def test_it_keeps_the_users_other_sessions_open_on_logout(toy_game: str, pat: Persona) -> None:
    episode = await start_toy(pat)
    other_key = await database_sync_to_async(session_for)(pat.user)
    here = communicator(episode.pk, pat)
    elsewhere = communicator(episode.pk, Persona("pat-laptop", pat.user, other_key))
    await greeted(here)
    await greeted(elsewhere)
    started = time.perf_counter()
    await database_sync_to_async(log_out)(pat.session_key)
    assert await closed_within(here, started) < WITHIN_S
    assert await elsewhere.receive_nothing(timeout=0.5)
    await elsewhere.send_json_to({"type": "ping", "t": 1})
    assert (await elsewhere.receive_json_from(timeout=TIMEOUT))["type"] == "pong"
    await elsewhere.disconnect()


@database_sync_to_async
def change_password(user: User) -> None:
    user.set_password("a-new-password-456")
    user.save()


@database_sync_to_async
def deactivate(user: User) -> None:
    user.is_active = False
    user.save(update_fields=["is_active"])


@pytest.mark.parametrize("change", [change_password, deactivate])
async def test_it_closes_the_users_sockets_within_a_second_of_an_access_change(
    toy_game: str, pat: Persona, olga: Persona, change: Any
) -> None:
    episode = await start_toy(pat)
    comm, bystander = communicator(episode.pk, pat), communicator(episode.pk, olga)
    await greeted(comm)
    await greeted(bystander)
    started = time.perf_counter()
    await change(pat.user)
    assert await closed_within(comm, started) < WITHIN_S
    assert await bystander.receive_nothing(timeout=0.3)  # another user's socket is untouched
    await bystander.disconnect()


async def test_it_leaves_a_socket_open_when_a_save_changes_no_access(toy_game: str, pat: Persona) -> None:
    episode = await start_toy(pat)
    comm = communicator(episode.pk, pat)
    await greeted(comm)
    pat.user.first_name = "Pat"
    await database_sync_to_async(pat.user.save)()
    assert await comm.receive_nothing(timeout=0.5)
    await comm.send_json_to({"type": "action", "seq": 0, "action": "right"})
    assert (await comm.receive_json_from(timeout=TIMEOUT))["type"] == "frame"
    await comm.disconnect()
