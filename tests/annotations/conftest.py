"""Personas and episodes for the annotation tests (built with
tests/support/annotation_world.py).

Personas: ``rita`` the reviewer, ``anna`` an annotator, ``bob`` another
annotator, ``olaf`` an outsider (staff, logged in, no annotation permission)
and an anonymous visitor (a plain ``Client()``). Episodes: three failed model
episodes and a human one, real BabyAI games.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import SyncToAsync
from django.db import connections
from django.test import Client

from annotations import services
from annotations.filters import EpisodeFilter
from annotations.models import Assignment
from annotations.services import QueueSpec
from games.cursors import replay_cursors
from games.executor import close_step_pool
from games.models import Episode
from tests.support.annotation_world import XSS, World, make_annotation_persona, play_model_episode
from tests.support.personas import Persona


@pytest.fixture
def rita(db: None) -> Persona:
    return make_annotation_persona("rita", ["reviewers"])


@pytest.fixture
def anna(db: None) -> Persona:
    return make_annotation_persona("anna", ["annotators"])


@pytest.fixture
def bob(db: None) -> Persona:
    return make_annotation_persona("bob", ["annotators"])


@pytest.fixture
def olaf(db: None) -> Persona:
    return make_annotation_persona("olaf", [])


@pytest.fixture
def anonymous(db: None) -> Client:
    return Client()


@pytest.fixture
def episodes(db: None) -> list[Episode]:
    """Three failed model episodes: answers with invalid ones, repeats and an XSS payload."""
    return [
        play_model_episode(1, ["turn left", "turn left", "I think\nfly away", "go forward", XSS, "turn right"]),
        play_model_episode(5, ["go forward", "go forward", "turn right", "nonsense"]),
        play_model_episode(3, ["turn right", "turn left", "turn right", "turn left"]),
    ]


@pytest.fixture
def human_episode(db: None) -> Episode:
    return play_model_episode(4, ["go forward", "turn left"], agent="", kind="human")


@pytest.fixture
def world(rita: Persona, anna: Persona, bob: Persona, episodes: list[Episode]) -> World:
    spec = QueueSpec("failed", "", EpisodeFilter(player_kind="model", outcome="failed"), overlap=2, limit=10)
    queue = services.do_create_queue(spec, rita.user)
    services.do_assign(queue, [anna.user, bob.user])
    e = episodes[0]
    get = Assignment.objects.select_related("item__episode").get
    return World(queue, e, get(annotator=anna.user, item__episode=e), get(annotator=bob.user, item__episode=e))


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    """PBKDF2 costs a third of a second per persona; these tests check no password strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_replay_state() -> Iterator[None]:
    replay_cursors().clear()
    yield
    replay_cursors().clear()
    close_step_pool()  # its threads hold database connections
    SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=10)
