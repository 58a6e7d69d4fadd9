"""Demonstrations for the few_shot strategy, drawn from recorded episodes.

For a task, the best finished episodes of a human (highest progression,
then fewest steps) come first, then the best scripted or model episodes.
The chosen ids are stored with the planned episode when it starts, so a
resumed episode and a rebuilt prompt show the same demonstrations. A
transcript (the observation before each step and the action executed) is
rebuilt by replay and cached per process.
"""

from __future__ import annotations

from functools import lru_cache

from agents.prompts import Demonstration
from games.models import Episode, Step
from games.registry import make_adapter


def choose_demonstrations(
    env: str, task: str, count: int, exclude: int | None = None, protocol: str | None = None
) -> list[int]:
    """The demonstrations of a task; of one protocol when named (a demonstration
    shows that protocol's texts)."""
    if count <= 0:
        return []
    candidates = Episode.objects.filter(
        env=env, task=task, replayable=True, status=Episode.Status.FINISHED, steps__gt=0
    )
    if protocol is not None:
        candidates = candidates.filter(protocol=protocol)
    if exclude is not None:
        candidates = candidates.exclude(pk=exclude)
    order = ("-progression", "steps", "pk")
    humans = candidates.filter(player_kind=Episode.PlayerKind.HUMAN).order_by(*order)
    chosen = list(humans.values_list("pk", flat=True)[:count])
    if len(chosen) < count:
        others = candidates.exclude(player_kind=Episode.PlayerKind.HUMAN).order_by(*order)
        chosen += list(others.values_list("pk", flat=True)[: count - len(chosen)])
    return chosen


@lru_cache(maxsize=64)
def demonstration(episode_id: int, max_steps: int) -> Demonstration:
    """The transcript of a recorded episode (its first ``max_steps`` steps)."""
    episode = Episode.objects.get(pk=episode_id)
    adapter = make_adapter(episode.env, episode.task, episode.options)
    try:
        adapter.reset(episode.seed)
        rows = Step.objects.filter(episode=episode).order_by("index").values_list("executed", "action", "valid")
        steps: list[tuple[str, str]] = []
        for executed, action, valid in rows[:max_steps].iterator(chunk_size=500):
            steps.append((adapter.observation().long_term, action))
            adapter.replay(executed, action, valid)
    finally:
        adapter.close()
    player = (
        episode.player_kind
        if episode.player_kind == Episode.PlayerKind.HUMAN
        else f"{episode.player_kind} ({episode.agent})"
    )
    return Demonstration(
        episode_id=episode.pk,
        player=player,
        progression=episode.progression,
        steps=tuple(steps),
        truncated=episode.steps > max_steps,
    )
