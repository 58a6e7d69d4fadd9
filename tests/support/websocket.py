"""Websocket conversations through the full ASGI application, as the browser
holds them: the Origin and Host headers, the persona's session cookie, the
hello and the actions it sends."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from balrogweb.asgi import application
from games.live import live_games
from games.models import Episode
from tests.support.personas import Persona

ORIGIN = (b"origin", b"http://testserver")
HOST = (b"host", b"testserver")  # the origin is compared with the handshake's Host (ops.websocket.OriginCheck)

#: what the model's view starts with on the reference protocol (reference/view.py), which new
#: episodes of every game, the toy included, play
MODEL_VIEW_HEADER = "Current Observation:\n"
TIMEOUT = 20  # seconds to wait for each message


def communicator(episode_id: int, persona: Persona | None = None) -> WebsocketCommunicator:
    headers = [ORIGIN, HOST] + ([persona.cookie] if persona is not None else [])
    return WebsocketCommunicator(application, f"/ws/episodes/{episode_id}/", headers=headers)


async def say_hello(comm: WebsocketCommunicator, version: int | None = None, **extra: Any) -> tuple[dict, dict]:
    """The browser's hello (protocol 2; test_it_speaks_protocol_1_to_a_hello_without_one keeps 1)."""
    connected, _ = await comm.connect()
    assert connected
    await comm.send_json_to({"type": "hello", "protocol": 2, "version": version, **extra})
    welcome = await comm.receive_json_from(timeout=TIMEOUT)
    snapshot = await comm.receive_json_from(timeout=TIMEOUT)
    assert (welcome["type"], snapshot["type"]) == ("welcome", "snapshot")
    return welcome, snapshot


async def act(comm: WebsocketCommunicator, seq: int, action: str, key: str | None = None) -> dict:
    """An action as the browser sends it; the answer as the browser sees it:
    the ack over the state of the frame drawn before it (protocol 2), or the
    reply that came instead (an error, a duplicate's ack with its state)."""
    await comm.send_json_to({"type": "action", "seq": seq, "action": action, "input": key or action})
    reply: dict = await comm.receive_json_from(timeout=TIMEOUT)
    if reply["type"] != "frame":
        return reply
    assert reply["seq"] == seq
    ack: dict = await comm.receive_json_from(timeout=TIMEOUT)
    if ack["type"] != "ack":
        return ack  # the frame's step was not recorded
    assert (ack["seq"], ack["version"]) == (seq, reply["version"]) and "frame" not in ack
    return {**reply, **ack}


@database_sync_to_async
def start(persona: Persona, env: str, task: str, **kwargs: Any) -> Episode:
    return persona.start(env, task, **kwargs)


@database_sync_to_async
def start_toy_at(persona: Persona, cell: int) -> Episode:
    """A toy episode whose player starts at ``cell`` (the seed picks it: seed % 3)."""
    episode = persona.start("toy", "corridor")
    Episode.objects.filter(pk=episode.pk).update(seed=cell)
    episode.refresh_from_db()
    live_games().evict(episode.pk)  # rebuilt from the new seed on first use
    return episode
