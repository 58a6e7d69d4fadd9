"""Paired comparisons on identical games: a model episode against the human
baseline episodes that played the same env, task and seed (nothing else is
paired: a different task or seed is a different game), and a step-aligned
view of two such episodes that marks where their states first diverge."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.templatetags.static import static
from django.urls import reverse

from games.models import Episode, Step
from leaderboard.services import Entry, human_episodes
from leaderboard.stats import BOOTSTRAP_REPLICATES, Interval, seed_for
from play.views import RENDERERS

GameKey = tuple[str, str, int]  # env, task, seed
ALIGNED_STEP_LIMIT = 2000


@dataclass(frozen=True)
class Pair:
    game: GameKey
    model_episode: int
    human_episode: int
    difference: float  # model - human progression


@dataclass(frozen=True)
class PairedSummary:
    pairs: tuple[Pair, ...]
    wins: int
    losses: int
    ties: int
    mean_difference: float | None
    interval: Interval | None


def pairs_for(model_episodes: list[Episode]) -> list[Pair]:
    """Every (model episode, human baseline episode) on the same env/task/seed."""
    games = {(e.env, e.task, e.seed) for e in model_episodes}
    if not games:
        return []
    envs, seeds = {game[0] for game in games}, {game[2] for game in games}
    humans: dict[GameKey, list[Episode]] = defaultdict(list)
    candidates = human_episodes().filter(env__in=envs, seed__in=seeds).only("pk", "env", "task", "seed", "progression")
    for human in candidates:
        humans[(human.env, human.task, human.seed)].append(human)
    return [
        Pair((m.env, m.task, m.seed), m.pk, h.pk, m.progression - h.progression)
        for m in model_episodes
        for h in humans.get((m.env, m.task, m.seed), [])
    ]


def summarize_pairs(pairs: list[Pair], key: str) -> PairedSummary:
    differences = [pair.difference for pair in pairs]
    return PairedSummary(
        pairs=tuple(pairs),
        wins=sum(1 for d in differences if d > 0),
        losses=sum(1 for d in differences if d < 0),
        ties=sum(1 for d in differences if d == 0),
        mean_difference=float(np.mean(differences)) if differences else None,
        interval=bootstrap_mean(differences, seed_for(f"pairs:{key}")),
    )


def bootstrap_mean(values: list[float], seed: int) -> Interval | None:
    """95% percentile bootstrap interval of a mean (seeded: stable)."""
    if not values:
        return None
    data = np.asarray(values, dtype=float)
    picks = np.random.default_rng(seed).integers(0, len(data), size=(BOOTSTRAP_REPLICATES, len(data)))
    low, high = np.percentile(data[picks].mean(axis=1), [2.5, 97.5])
    return Interval(float(low), float(high))


def paired_summary(entry: Entry, model_episodes: list[Episode]) -> PairedSummary:
    return summarize_pairs(pairs_for(model_episodes), entry.key)


# ----- step-aligned side by side --------------------------------------------------------------
@dataclass(frozen=True)
class AlignedStep:
    index: int
    left: str | None  # the action, None when that episode had ended
    right: str | None
    same_state: bool


@dataclass(frozen=True)
class Alignment:
    steps: tuple[AlignedStep, ...]
    first_divergence: int | None  # first step index whose digests differ; None: never
    initial_same: bool  # False: the games differ from the start (e.g. another engine version)
    truncated: bool

    @property
    def divergence_version(self) -> int | None:
        """The first replay version (state after that many steps) at which
        the two episodes differ: 0 when they differ from the start, else one
        past the first divergent step; None when they never diverge."""
        if not self.initial_same:
            return 0
        return None if self.first_divergence is None else self.first_divergence + 1


def same_game(left: Episode, right: Episode) -> bool:
    return (left.env, left.task, left.seed) == (right.env, right.task, right.seed)


def check_comparable(left: Episode, right: Episode) -> str:
    """Why two episodes cannot be shown side by side ("" when they can)."""
    if left.pk == right.pk:
        return "Pick two different episodes to compare."
    if not same_game(left, right):
        return (
            f"Only episodes of the same game are compared: #{left.pk} is {left.env} {left.task} seed {left.seed}, "
            f"#{right.pk} is {right.env} {right.task} seed {right.seed}."
        )
    return ""


def align(left: Episode, right: Episode, limit: int = ALIGNED_STEP_LIMIT) -> Alignment:
    """Both episodes' steps side by side by index; diverged at the first
    index where the state digests differ (or one episode has ended)."""
    rows = {side: _steps(episode, limit) for side, episode in (("l", left), ("r", right))}
    length = max(len(rows["l"]), len(rows["r"]))
    aligned: list[AlignedStep] = []
    first: int | None = None
    for index in range(length):
        a = rows["l"][index] if index < len(rows["l"]) else None
        b = rows["r"][index] if index < len(rows["r"]) else None
        same = a is not None and b is not None and a[1] == b[1]
        if not same and first is None:
            first = index
        aligned.append(AlignedStep(index, a[0] if a else None, b[0] if b else None, same))
    truncated = max(left.steps, right.steps) > limit
    return Alignment(tuple(aligned), first, left.initial_digest == right.initial_digest, truncated)


def _steps(episode: Episode, limit: int) -> list[tuple[str, str]]:
    return list(Step.objects.filter(episode=episode).order_by("index").values_list("action", "digest")[:limit])


def side_by_side_config(left: Episode, right: Episode, alignment: Alignment) -> dict[str, Any]:
    """What static/leaderboard/compare.js needs (rendered with json_script):
    each side's frames endpoint (the play replay page's own, play.views.frames)
    and renderer, and the aligned actions by step index."""
    return {
        "total": max(left.steps, right.steps),
        "divergence": alignment.divergence_version,
        "sides": [_side(episode) for episode in (left, right)],
        # actions[i]: each side's action at step index i (the one leading to version i + 1)
        "actions": [[step.left, step.right] for step in alignment.steps],
        "truncated": alignment.truncated,
    }


def _side(episode: Episode) -> dict[str, Any]:
    who = episode.agent if episode.player_kind != Episode.PlayerKind.HUMAN else "human"
    return {
        "episode": episode.pk,
        "label": f"#{episode.pk} ({episode.player_kind}{'' if who == 'human' or not who else ' ' + who})",
        "steps": episode.steps,
        "renderer": RENDERERS.get(episode.env, "generic"),
        "frames": reverse("play:frames", args=[episode.pk]),
        "replay": reverse("play:replay", args=[episode.pk]),
        "replayable": episode.replayable,
        "assets": static("crafter/"),
    }
