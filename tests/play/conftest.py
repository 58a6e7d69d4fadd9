"""Personas and helpers for the browser-play tests.

Three personas: ``pat`` (the player, logged in), ``olga`` (another logged-in
player) and an anonymous visitor known only by a session token. Each has a
session cookie for websocket connections through the full ASGI application.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from asgiref.sync import SyncToAsync
from channels.testing import WebsocketCommunicator
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.sessions.backends.db import SessionStore
from django.db import connections

from balrogweb.asgi import application
from games.models import Episode
from play import services
from play.executor import close_step_pool
from play.limits import reset_action_limiter
from play.replay import replay_cursors
from play.snapshots import viewer_texts, viewer_views

ORIGIN = (b"origin", b"http://testserver")
HOST = (b"host", b"testserver")  # the origin is compared with the handshake's Host (ops.websocket.OriginCheck)


@dataclass
class Persona:
    name: str
    user: Any
    session_key: str
    token: str = ""

    @property
    def player(self) -> services.Player:
        return services.Player(self.user, services.anon_key(self.token) if self.token else "")

    @property
    def cookie(self) -> tuple[bytes, bytes]:
        return (b"cookie", f"sessionid={self.session_key}".encode())

    def start(self, env: str, task: str, **kwargs: Any) -> Episode:
        request = services.StartRequest(env=env, task=task, nickname=kwargs.pop("nickname", self.name), **kwargs)
        episode, _ = services.do_start_or_resume(self.player, request, "127.0.0.1")
        return episode


def _session(user: User | None = None, token: str = "") -> str:
    store = SessionStore()
    if user is not None:
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    if token:
        store[services.SESSION_TOKEN_KEY] = token
    store.create()
    assert store.session_key is not None
    return store.session_key


def _persona(name: str) -> Persona:
    user = User.objects.create_user(name, password=f"{name}-password-123")
    return Persona(name, user, _session(user))


@pytest.fixture
def pat(db: None) -> Persona:
    return _persona("pat")


@pytest.fixture
def olga(db: None) -> Persona:
    return _persona("olga")


@pytest.fixture
def visitor(db: None) -> Persona:
    token = "visitor-token-0123456789"
    return Persona("visitor", AnonymousUser(), _session(token=token), token)


@pytest.fixture(autouse=True)
def fresh_play_state() -> Iterator[None]:
    """No replay cursors, cached texts or rate buckets carried between tests."""
    replay_cursors().clear()
    viewer_texts().clear()
    viewer_views().clear()
    reset_action_limiter()
    yield
    replay_cursors().clear()
    viewer_texts().clear()
    viewer_views().clear()
    reset_action_limiter()
    close_step_pool()  # its threads hold database connections
    # So does asgiref's thread for thread-sensitive sync code (auth, sessions, database_sync_to_async).
    SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=10)


def communicator(episode_id: int, persona: Persona | None = None) -> WebsocketCommunicator:
    headers = [ORIGIN, HOST] + ([persona.cookie] if persona is not None else [])
    return WebsocketCommunicator(application, f"/ws/episodes/{episode_id}/", headers=headers)


#: what the model's view starts with on the reference protocol (reference/view.py), which new
#: episodes of every game, the toy included, play
MODEL_VIEW_HEADER = "Current Observation:\n"
