"""The one Persona of the tests: a user (or an anonymous visitor) with a
session, as pages see them (``client``, a logged-in Django test client) and
as websockets see them (``cookie``), and as browser play sees them (``player``).

The fixtures name them: play and ops have ``pat`` (the player), ``olga``
(another player) and ``visitor`` (anonymous, known by a session token), from
tests/support/fixtures_play.py; annotations has ``rita`` (reviewer), ``anna``
and ``bob`` (annotators) and ``olaf`` (staff, no annotation permission).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import AnonymousUser, Group, User
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client

from games.models import Episode
from play import services


@dataclass
class Persona:
    name: str
    user: Any  # a User, or AnonymousUser for a visitor
    session_key: str
    token: str = ""  # an anonymous visitor's play token
    client: Client = field(default_factory=Client)

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


def make_persona(name: str, groups: Sequence[str] = (), *, staff: bool = False) -> Persona:
    """A user with a password, in ``groups``, logged in both ways: a session
    for websockets and a test client for pages."""
    user = User.objects.create_user(name, password=f"{name}-password-123", is_staff=staff)
    if groups:
        user.groups.add(*Group.objects.filter(name__in=groups))
    client = Client()
    client.force_login(user)
    return Persona(name, user, session_for(user), client=client)


def make_visitor(name: str = "visitor", token: str = "visitor-token-0123456789") -> Persona:
    """An anonymous visitor: no account, a session holding a play token."""
    return Persona(name, AnonymousUser(), session_for(token=token), token)


def session_for(user: User | None = None, token: str = "") -> str:
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
