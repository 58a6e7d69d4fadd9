"""What the annotation tests build: the default groups and taxonomy, their
personas (staff in annotation groups), episodes played as a model would and
the queue world the ``world`` fixture (tests/annotations/conftest.py) assigns.

Episodes are real BabyAI games played through games.services as a model
would: each step's raw answer is recorded, invalid answers execute the
default action.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass

from django.apps import apps

from annotations.models import Assignment, Queue
from games.base import EndReason
from games.models import Episode
from games.services import do_apply_action, do_end_episode, do_start_episode
from tests.support import personas
from tests.support.games import BABYAI_TASK
from tests.support.personas import Persona

XSS = "<img src=x onerror=alert(1)><script>alert(2)</script>"
_defaults = importlib.import_module("annotations.migrations.0002_default_taxonomy_and_groups")


def ensure_defaults() -> None:
    """The data migration's groups and taxonomy (a transactional test's flush removes them)."""
    _defaults.create_groups(apps, None)
    _defaults.create_taxonomy(apps, None)


def make_annotation_persona(name: str, groups: Sequence[str], staff: bool = True) -> Persona:
    """An annotation persona: staff by default, in ``groups`` (the defaults' groups exist first)."""
    ensure_defaults()
    return personas.make_persona(name, groups, staff=staff)


def play_model_episode(seed: int, answers: Sequence[str], agent: str = "test-model", kind: str = "model") -> Episode:
    """A BabyAI episode whose model answered ``answers`` (the action is the answer's
    last line, as a parser would extract it), then was stopped."""
    episode = do_start_episode(env="babyai", task=BABYAI_TASK, seed=seed, player_kind=kind, agent=agent)
    for index, answer in enumerate(answers):
        outcome = do_apply_action(
            episode.pk, index=index, action=answer.splitlines()[-1], raw_input=answer, meta={"tokens": 10 + index}
        )
        if outcome.done:
            break
    else:
        do_end_episode(episode.pk, reason=EndReason.ABANDONED, detail="test: stopped")
    return Episode.objects.get(pk=episode.pk)


@dataclass
class World:
    """A queue of the failed model episodes, assigned to anna and bob."""

    queue: Queue
    episode: Episode
    annas: Assignment  # anna's assignment on ``episode``
    bobs: Assignment  # bob's assignment on ``episode``
