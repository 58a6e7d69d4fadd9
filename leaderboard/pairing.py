"""Paired comparisons on identical games: a model episode against the human
baseline episodes that played the same env, task and seed (nothing else is
paired: a different task or seed is a different game), and a step-aligned
view of two such episodes that marks where their states first diverge."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.templatetags.static import static
from django.urls import reverse

from games import catalogue
from games.models import Episode, Step
from leaderboard.services import Entry, human_episodes
from leaderboard.stats import CONFIDENCE, Interval, clean, seed_for, t_estimate

GameKey = tuple[str, str, int]  # env, task, seed
ALIGNED_STEP_LIMIT = 2000
K = TypeVar("K")


@dataclass(frozen=True)
class Pair:
    game: GameKey
    model_episode: int
    human_episode: int
    difference: float  # model - human progression


@dataclass(frozen=True)
class GameDifference:
    game: GameKey
    model_episodes: int
    human_episodes: int
    difference: float  # mean model progression - mean human progression on this game


@dataclass(frozen=True)
class PairedSummary:
    pairs: tuple[Pair, ...]  # every model x human episode of a game, for the side-by-side links
    games: tuple[GameDifference, ...]  # the unit of the comparison: one difference per game
    wins: int  # games where the model's mean is higher
    losses: int
    ties: int
    mean_difference: float | None
    interval: Interval | None  # None: too few games (fewer than two, or all differences equal)


def pairs_for(model_episodes: list[Episode]) -> list[Pair]:
    """Every (model episode, human baseline episode) on the same env/task/seed,
    in a fixed order (by game, then episode ids) whatever order the database returns."""
    games = {(e.env, e.task, e.seed) for e in model_episodes}
    if not games:
        return []
    envs, seeds = {game[0] for game in games}, {game[2] for game in games}
    humans: dict[GameKey, list[Episode]] = defaultdict(list)
    candidates = human_episodes().filter(env__in=envs, seed__in=seeds).only("pk", "env", "task", "seed", "progression")
    for human in candidates.order_by("pk"):
        humans[(human.env, human.task, human.seed)].append(human)
    return [
        Pair((m.env, m.task, m.seed), m.pk, h.pk, m.progression - h.progression)
        for m in sorted(model_episodes, key=lambda e: (e.env, e.task, e.seed, e.pk))
        for h in humans.get((m.env, m.task, m.seed), [])
    ]


def paired_difference(
    games: Mapping[K, tuple[Sequence[float], Sequence[float]]], *, seed: int, level: float = CONFIDENCE
) -> tuple[float | None, Interval | None]:
    """The mean over games of (mean model value - mean human value), each game
    weighing the same whatever its episode counts, with Student's t interval
    over the game differences (games are the independent units: pairing every
    episode with every other and resampling the pairs covered 72 % of the
    time, not 95 %). Games missing either side are left out. (None, None)
    without a game; the interval is None with fewer than two games or when
    every game differs by the same amount.

    ``seed`` is part of the stable entry point for resampling methods; the t
    interval needs none."""
    differences = game_differences(games)
    if not differences:
        return None, None
    estimate = t_estimate(differences)
    mean = math.fsum(differences) / len(differences)
    return mean, None if estimate is None else estimate.interval(level, bounds=(-math.inf, math.inf))


def game_differences(games: Mapping[K, tuple[Sequence[float], Sequence[float]]]) -> list[float]:
    result = []
    for _key, (model, human) in sorted(games.items(), key=lambda item: repr(item[0])):
        mine, theirs = clean(model), clean(human)
        if mine and theirs:
            result.append(math.fsum(mine) / len(mine) - math.fsum(theirs) / len(theirs))
    return result


def summarize_pairs(pairs: list[Pair], key: str) -> PairedSummary:
    games = _game_rows(pairs)
    # Each game already reduced to its difference: paired_difference sees one "model" value per game.
    differences = {game.game: ([game.difference], [0.0]) for game in games}
    mean, interval = paired_difference(differences, seed=seed_for(f"pairs:{key}"))
    return PairedSummary(
        pairs=tuple(pairs),
        games=tuple(games),
        wins=sum(1 for game in games if game.difference > 0),
        losses=sum(1 for game in games if game.difference < 0),
        ties=sum(1 for game in games if game.difference == 0),
        mean_difference=mean,
        interval=interval,
    )


def _game_rows(pairs: list[Pair]) -> list[GameDifference]:
    """One row per game from its pairs: with every model episode paired with
    every human one, the mean of the pair differences is exactly the mean
    model score minus the mean human score."""
    by_game: dict[GameKey, list[Pair]] = defaultdict(list)
    for pair in pairs:
        by_game[pair.game].append(pair)
    return [
        GameDifference(
            game=game,
            model_episodes=len({p.model_episode for p in rows}),
            human_episodes=len({p.human_episode for p in rows}),
            difference=math.fsum(p.difference for p in rows) / len(rows),
        )
        for game, rows in sorted(by_game.items())
    ]


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
        "renderer": catalogue.renderer(episode.env),
        "frames": reverse("play:frames", args=[episode.pk]),
        "replay": reverse("play:replay", args=[episode.pk]),
        "replayable": episode.replayable,
        "assets": static("crafter/"),
    }
