"""Reads of an episode and the facts the browser is told about it (its end
screen, its command limits, a step's row)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from games import catalogue
from games.models import Episode, Step
from games.registry import adapter_class, protocol_of
from games.services import (
    EpisodeNotFound,
)
from play.protocol import MAX_ACTION_CHARS

SAME_SEED_LIMIT = 20


def step_row_of(step: Step) -> dict[str, Any]:
    return {
        "index": step.index,
        "action": step.action,
        "raw_input": step.raw_input,
        "valid": step.valid,
        "reward": step.reward,
        "progression": step.progression,
        "done": step.done,
        "executed": step.executed,
    }


def end_facts(episode: Episode) -> dict[str, Any]:
    """The end screen: score, end reason, and the same seed's model episodes."""
    return {
        "status": episode.status,
        "reason": episode.end_reason,
        "detail": episode.end_detail,
        "progression": episode.progression,
        "return": episode.episode_return,
        "steps": episode.steps,
        "same_seed": [
            {"id": other.pk, "agent": other.agent, "progression": other.progression, "steps": other.steps}
            for other in same_seed_model_episodes(episode)
        ],
    }


def episode_facts(episode: Episode) -> dict[str, Any]:
    return {
        "id": episode.pk,
        "env": episode.env,
        "task": episode.task,
        "seed": episode.seed,
        "status": episode.status,
        "steps": episode.steps,
        "accepts_free_text": catalogue.accepts_free_text(episode.env),
        "command_limits": command_limits(episode),
    }


def command_limits(episode: Episode) -> dict[str, int | None]:
    """What an ``action`` may hold, in one place for the parser (``chars``:
    play.protocol), the game (``utf8_bytes``: a TextWorld command must fit
    Jericho's input buffer; null when the game has no such limit) and the
    browser's command line, which checks both before sending (the doc's
    examples are tested against these)."""
    cls = adapter_class(episode.env, protocol_of(episode.options))
    return {"chars": MAX_ACTION_CHARS, "utf8_bytes": getattr(cls, "max_command_bytes", None)}


def get_episode(episode_id: int) -> Episode:
    try:
        return Episode.objects.get(pk=episode_id)
    except Episode.DoesNotExist:
        raise EpisodeNotFound(f"episode {episode_id} does not exist") from None


def same_seed_model_episodes(episode: Episode) -> QuerySet[Episode]:
    return (
        Episode.objects.filter(
            player_kind=Episode.PlayerKind.MODEL, env=episode.env, task=episode.task, seed=episode.seed
        )
        .exclude(pk=episode.pk)
        .order_by("-pk")[:SAME_SEED_LIMIT]
    )
