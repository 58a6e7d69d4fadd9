"""Who is playing: a logged-in user and/or an anonymous session token, the
episodes they own, and claiming anonymous episodes on sign-up or log-in."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.db.models import Q, QuerySet

from games.models import Episode
from games.services import (
    GameError,
)
from play.models import PlayRecord

SESSION_TOKEN_KEY = "play_token"


NICKNAME_MAX = 32


class Forbidden(GameError):
    code = "forbidden"
    http_status = 403


@dataclass(frozen=True)
class Player:
    """Who is asking: a logged-in user and/or an anonymous session token.

    ``keys`` are the owner keys this player holds; an episode is theirs when
    its PlayRecord's owner is one of them (an anonymous player who then logs
    in keeps their anonymous games for the session)."""

    user: AbstractBaseUser | AnonymousUser | None
    anon_key: str  # "a:<sha256 of the session token>", or ""

    @property
    def user_key(self) -> str:
        user = self.user
        return f"u:{user.pk}" if user is not None and user.is_authenticated else ""

    @property
    def owner(self) -> str:
        """The owner key of a new episode."""
        return self.user_key or self.anon_key

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(key for key in (self.user_key, self.anon_key) if key)

    @property
    def display_name(self) -> str:
        user = self.user
        return user.get_username() if user is not None and user.is_authenticated else ""


def anon_key(token: str) -> str:
    return "a:" + hashlib.sha256(token.encode("utf-8")).hexdigest()[:40]


def player_from(user: Any, session: SessionBase | None, *, create_token: bool = False) -> Player:
    """The player of a request or websocket scope. Reads the session (a
    database hit): call from a worker thread in async code."""
    token = session.get(SESSION_TOKEN_KEY) if session is not None else None
    if token is None and create_token and session is not None:
        token = secrets.token_urlsafe(24)
        session[SESSION_TOKEN_KEY] = token
    return Player(user=user, anon_key=anon_key(token) if isinstance(token, str) else "")


def owns(player: Player, episode_id: int) -> bool:
    if not player.keys:
        return False
    return PlayRecord.objects.filter(episode_id=episode_id, owner__in=player.keys).exists()


def episodes_of(player: Player) -> QuerySet[Episode]:
    """A player's episodes, newest first (the profile page)."""
    ids = PlayRecord.objects.filter(owner__in=player.keys).values("episode_id")
    query = Q(pk__in=ids)
    if player.user_key:
        query |= Q(user=player.user, player_kind=Episode.PlayerKind.HUMAN)
    return Episode.objects.filter(query).select_related("play").order_by("-pk")


def do_claim_anonymous_episodes(token: str | None, user: AbstractBaseUser) -> int:
    """Give ``user`` the episodes played anonymously under the session
    ``token`` (on sign-up and log-in): they become the user's, so they show on
    the profile and count as human baselines. An episode still live on a task
    where the user already has a live one stays anonymous (the session keeps
    access to it). Returns how many episodes moved."""
    if not isinstance(token, str) or not token:
        return 0
    user_key = Player(user=user, anon_key="").user_key
    with transaction.atomic():
        records = list(PlayRecord.objects.select_for_update().filter(owner=anon_key(token)))
        busy = set(PlayRecord.objects.filter(owner=user_key, live=True).values_list("env", "task"))
        claimed = [record.episode_id for record in records if not (record.live and (record.env, record.task) in busy)]
        PlayRecord.objects.filter(episode_id__in=claimed).update(owner=user_key)
        Episode.objects.filter(pk__in=claimed, user__isnull=True).update(user=user)
    return len(claimed)
