"""Personas and episodes for the annotation tests.

Personas: ``rita`` the reviewer, ``anna`` an annotator, ``bob`` another
annotator, ``olaf`` an outsider (staff, logged in, no annotation permission)
and an anonymous visitor (a plain ``Client()``). Episodes are real BabyAI
games played through games.services as a model would: each step's raw
answer is recorded, invalid answers execute the default action.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from asgiref.sync import SyncToAsync
from django.apps import apps
from django.db import connections
from django.http import StreamingHttpResponse
from django.test import Client

from annotations import services
from annotations.filters import EpisodeFilter
from annotations.models import Assignment, Queue
from annotations.services import QueueSpec
from games.base import EndReason
from games.cursors import replay_cursors
from games.executor import close_step_pool
from games.models import Episode
from games.services import do_apply_action, do_end_episode, do_start_episode
from tests.support import personas
from tests.support.personas import Persona

TASK = "BabyAI-MixedTrainLocal-v0/goto"
XSS = "<img src=x onerror=alert(1)><script>alert(2)</script>"
_defaults = importlib.import_module("annotations.migrations.0002_default_taxonomy_and_groups")


def ensure_defaults() -> None:
    """The data migration's groups and taxonomy (a transactional test's flush removes them)."""
    _defaults.create_groups(apps, None)
    _defaults.create_taxonomy(apps, None)


def make_persona(name: str, groups: Sequence[str], staff: bool = True) -> Persona:
    """An annotation persona: staff by default, in ``groups`` (the defaults' groups exist first)."""
    ensure_defaults()
    return personas.make_persona(name, groups, staff=staff)


@pytest.fixture
def rita(db: None) -> Persona:
    return make_persona("rita", ["reviewers"])


@pytest.fixture
def anna(db: None) -> Persona:
    return make_persona("anna", ["annotators"])


@pytest.fixture
def bob(db: None) -> Persona:
    return make_persona("bob", ["annotators"])


@pytest.fixture
def olaf(db: None) -> Persona:
    return make_persona("olaf", [])


@pytest.fixture
def anonymous(db: None) -> Client:
    return Client()


def play_model_episode(seed: int, answers: Sequence[str], agent: str = "test-model", kind: str = "model") -> Episode:
    """A BabyAI episode whose model answered ``answers`` (the action is the answer's
    last line, as a parser would extract it), then was stopped."""
    episode = do_start_episode(env="babyai", task=TASK, seed=seed, player_kind=kind, agent=agent)
    for index, answer in enumerate(answers):
        outcome = do_apply_action(
            episode.pk, index=index, action=answer.splitlines()[-1], raw_input=answer, meta={"tokens": 10 + index}
        )
        if outcome.done:
            break
    else:
        do_end_episode(episode.pk, reason=EndReason.ABANDONED, detail="test: stopped")
    return Episode.objects.get(pk=episode.pk)


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


@dataclass
class World:
    """A queue of the failed model episodes, assigned to anna and bob."""

    queue: Queue
    episode: Episode
    annas: Assignment  # anna's assignment on ``episode``
    bobs: Assignment  # bob's assignment on ``episode``


@pytest.fixture
def world(rita: Persona, anna: Persona, bob: Persona, episodes: list[Episode]) -> World:
    spec = QueueSpec("failed", "", EpisodeFilter(player_kind="model", outcome="failed"), overlap=2, limit=10)
    queue = services.do_create_queue(spec, rita.user)
    services.do_assign(queue, [anna.user, bob.user])
    e = episodes[0]
    get = Assignment.objects.select_related("item__episode").get
    return World(queue, e, get(annotator=anna.user, item__episode=e), get(annotator=bob.user, item__episode=e))


def streamed(response: Any) -> str:
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content).decode()  # type: ignore[arg-type]


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
