"""One leaderboard entry in depth: its episodes, their steps, tokens and cost,
the invalid-answer rate, and the human-normalized score per game."""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass
from itertools import accumulate

from django.db.models import Count, F, FloatField, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils.safestring import SafeString

from agents.models import RunEpisode
from games.catalogue import game_title
from games.models import Episode, Step
from games.registry import ENVS
from leaderboard.plots import Bar, Series, bar_chart, line_chart
from leaderboard.services import HUMANS_KEY, HUMANS_NAME, Board, Entry, human_episodes, model_slots, player_episodes
from leaderboard.stats import Interval, mean_interval, normalized_score, sample_se, seed_for

EPISODE_LIST_LIMIT = 500


@dataclass(frozen=True)
class Usage:
    steps: int
    invalid_steps: int
    input_tokens: int
    output_tokens: int
    cost_usd: float

    @property
    def invalid_rate(self) -> float | None:
        return self.invalid_steps / self.steps if self.steps else None


@dataclass(frozen=True)
class Normalized:
    env: str
    value: float | None  # None: undefined ("n/a")
    reason: str = ""  # why it is undefined


def entry_episodes(entry: Entry) -> QuerySet[Episode]:
    if entry.key == HUMANS_KEY:
        return human_episodes()
    if entry.kind == "player":
        return player_episodes(int(entry.extra["user_id"]))
    return Episode.objects.filter(pk__in=_slots(entry).values("episode_id"))


def _slots(entry: Entry) -> QuerySet[RunEpisode]:
    return model_slots().filter(run_id__in=entry.run_ids)


def usage(entry: Entry) -> Usage:
    steps = Step.objects.filter(episode__in=entry_episodes(entry)).aggregate(
        n=Count("pk"), invalid=Count("pk", filter=Q(valid=False))
    )
    tokens = {"tin": 0, "tout": 0, "cost": 0.0}
    if entry.kind == "model":
        price_in = Coalesce(F("run__endpoint__input_price_per_mtok"), 0.0, output_field=FloatField())
        price_out = Coalesce(F("run__endpoint__output_price_per_mtok"), 0.0, output_field=FloatField())
        totals = _slots(entry).aggregate(
            tin=Sum("input_tokens"),
            tout=Sum("output_tokens"),
            cost=Sum((F("input_tokens") * price_in + F("output_tokens") * price_out) / 1e6, output_field=FloatField()),
        )
        tokens = {name: value or 0 for name, value in totals.items()}
    return Usage(
        steps=steps["n"], invalid_steps=steps["invalid"], input_tokens=int(tokens["tin"]),
        output_tokens=int(tokens["tout"]), cost_usd=float(tokens["cost"]),
    )  # fmt: skip


def episode_list(entry: Entry) -> list[Episode]:
    """The entry's ended episodes, newest first (bounded for the page)."""
    fields = ("pk", "env", "task", "seed", "steps", "progression", "status", "replayable", "verified_ok", "ended_at")
    return list(entry_episodes(entry).only(*fields).order_by("-pk")[:EPISODE_LIST_LIMIT])


def game_intervals(entry: Entry) -> dict[str, Interval | None]:
    """95% intervals of each game's mean and each task's ("env" and
    "env task" keys; stats.mean_interval, None: too few episodes), from the
    entry's counted progression values."""
    values: dict[str, list[float]] = defaultdict(list)
    for env, task, progression in entry_episodes(entry).values_list("env", "task", "progression"):
        values[env].append(progression)
        values[f"{env} {task}"].append(progression)
    return {key: mean_interval(found, seed=seed_for(f"{entry.key}:{key}")) for key, found in sorted(values.items())}


def normalized_scores(entry: Entry, board: Board) -> list[Normalized]:
    """(model - random) / (human - random) per game, against the human row;
    undefined unless the humans are clearly above the floor (stats.normalized_score)."""
    humans = next((other for other in board.entries if other.key == HUMANS_KEY), None)
    result = []
    for env in ENVS:
        mine = entry.summary.envs.get(env)
        human = humans.summary.envs.get(env) if humans else None
        score = normalized_score(
            mine.stat.mean if mine else None,
            human.stat.mean if human else None,
            board.random_floor.get(env),
            sample_se(human.stat.se, human.stat.n) if human else None,
        )
        result.append(Normalized(env, score.value, score.reason))
    return result


def scored_episodes(entry: Entry) -> list[Episode]:
    """All of the entry's ended episodes, with the fields pairing needs."""
    return list(entry_episodes(entry).only("pk", "env", "task", "seed", "progression"))


# ----- charts -------------------------------------------------------------------------------
CURVE_POINTS = 40


@dataclass(frozen=True)
class Curve:
    env: str
    series: list[Series]
    svg: SafeString

    @property
    def rows(self) -> list[tuple[float, list[float | None]]]:
        """The chart's data as table rows: step, then each series' value."""
        steps = sorted({x for s in self.series for x, _ in s.points})
        lookup = [dict(s.points) for s in self.series]
        return [(step, [values.get(step) for values in lookup]) for step in steps]


def progression_curve(
    episodes: QuerySet[Episode], env: str, points: int = CURVE_POINTS
) -> tuple[tuple[float, float], ...]:
    """Mean progression after s steps, over the env's episodes; an episode
    that ended before s counts with its final progression. Step rows are read
    only at the (at most ``points``) steps plotted, summed in SQL."""
    ended = sorted(episodes.filter(env=env).values_list("steps", "progression"))
    if not ended:
        return ()
    longest = ended[-1][0]
    grid = sorted({round(i * longest / (points - 1)) for i in range(points)}) if longest else [0]
    totals = dict(
        Step.objects.filter(episode__in=episodes.filter(env=env), index__in=[s - 1 for s in grid if s > 0])
        .values("index")
        .annotate(total=Sum("progression"))
        .values_list("index", "total")
    )
    lengths = [steps for steps, _ in ended]
    finals = list(accumulate(progression for _, progression in ended))
    curve = []
    for s in grid:
        done = bisect_left(lengths, s)  # episodes with fewer than s steps: their final score
        carried = finals[done - 1] if done else 0.0
        curve.append((float(s), (carried + (totals.get(s - 1) or 0.0)) / len(ended)))
    return tuple(curve)


def curves(entry: Entry, board: Board) -> list[Curve]:
    humans = next((other for other in board.entries if other.key == HUMANS_KEY), None)
    result = []
    for env in ENVS:
        if env not in entry.summary.envs:
            continue
        series = [Series(entry.name, progression_curve(entry_episodes(entry), env))]
        if humans is not None and humans is not entry and env in humans.summary.envs:
            series.append(Series(HUMANS_NAME, progression_curve(human_episodes(), env)))
        result.append(Curve(env, series, line_chart(f"{game_title(env)}: progression against step", series)))
    return result


def game_bars(entry: Entry, board: Board) -> SafeString:
    humans = next((other for other in board.entries if other.key == HUMANS_KEY), None)
    bars = []
    for env in ENVS:
        for series, row in enumerate((entry, humans)):
            if row is None or (series and row is entry):
                continue
            summary = row.summary.envs.get(env)
            if summary is not None:
                bars.append(Bar(game_title(env) if series == 0 else "", summary.stat.mean, summary.stat.se, series))
    legend = [(entry.name, 0)] + ([(HUMANS_NAME, 1)] if humans is not None and humans is not entry else [])
    return bar_chart(f"{entry.name}: progression per game (± 1 SE), humans beside", bars, legend)
