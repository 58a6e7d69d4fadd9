"""Websocket conversations through the full ASGI application, as the browser
holds them: the Origin and Host headers, the persona's session cookie."""

from __future__ import annotations

from channels.testing import WebsocketCommunicator

from balrogweb.asgi import application
from tests.support.personas import Persona

ORIGIN = (b"origin", b"http://testserver")
HOST = (b"host", b"testserver")  # the origin is compared with the handshake's Host (ops.websocket.OriginCheck)

#: what the model's view starts with on the reference protocol (reference/view.py), which new
#: episodes of every game, the toy included, play
MODEL_VIEW_HEADER = "Current Observation:\n"


def communicator(episode_id: int, persona: Persona | None = None) -> WebsocketCommunicator:
    headers = [ORIGIN, HOST] + ([persona.cookie] if persona is not None else [])
    return WebsocketCommunicator(application, f"/ws/episodes/{episode_id}/", headers=headers)
