"""BALROG's aggregation of episode scores: the one place it is computed.

The rules (the reference evaluator's summary, with the overall figure as the
BALROG paper and leaderboard report it):

- per task and per env: the mean progression of the episodes; the standard
  error is the *population* standard deviation (divide by N) over sqrt(N),
  and 0 when N <= 1;
- an env's mean is over its episodes (not over its task means);
- overall: the unweighted mean of the env means, and
  SE = sqrt(sum of env SE^2) / number of envs;
- envs without episodes are left out (they have no mean to average).

Everything here is in [0, 1]; ``balrog_summary_json`` converts to the
percentages of the reference ``summary.json``. Pure functions on plain data,
so the leaderboard reuses them unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypedDict

from games.jsontypes import JSONValue


@dataclass(frozen=True)
class Stat:
    mean: float
    se: float
    n: int


@dataclass(frozen=True)
class EpisodeScore:
    """One finished episode as the aggregation sees it."""

    env: str
    task: str
    progression: float
    steps: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class EnvSummary:
    env: str
    stat: Stat
    tasks: dict[str, Stat]
    average_steps: float
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class Summary:
    overall: Stat  # n: the number of envs averaged
    envs: dict[str, EnvSummary] = field(default_factory=dict)
    episodes: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


def mean_se(values: Sequence[float]) -> Stat:
    """Mean and standard error (population std / sqrt(N); 0 when N <= 1)."""
    n = len(values)
    if n == 0:
        return Stat(0.0, 0.0, 0)
    mean = math.fsum(values) / n
    if n == 1:
        return Stat(mean, 0.0, 1)
    std = math.sqrt(math.fsum((x - mean) ** 2 for x in values) / n)
    return Stat(mean, std / math.sqrt(n), n)


def overall_of(env_stats: Sequence[Stat]) -> Stat:
    """Unweighted mean of env means; SE = sqrt(sum SE^2) / n_envs."""
    present = [stat for stat in env_stats if stat.n > 0]
    if not present:
        return Stat(0.0, 0.0, 0)
    count = len(present)
    mean = math.fsum(stat.mean for stat in present) / count
    se = math.sqrt(math.fsum(stat.se**2 for stat in present)) / count
    return Stat(mean, se, count)


def summarize(episodes: Iterable[EpisodeScore]) -> Summary:
    by_env: dict[str, list[EpisodeScore]] = {}
    for episode in episodes:
        by_env.setdefault(episode.env, []).append(episode)
    envs = {env: _env_summary(env, rows) for env, rows in sorted(by_env.items())}
    return Summary(
        overall=overall_of([summary.stat for summary in envs.values()]),
        envs=envs,
        episodes=sum(len(rows) for rows in by_env.values()),
        input_tokens=sum(summary.input_tokens for summary in envs.values()),
        output_tokens=sum(summary.output_tokens for summary in envs.values()),
    )


def _env_summary(env: str, rows: list[EpisodeScore]) -> EnvSummary:
    by_task: dict[str, list[float]] = {}
    for row in rows:
        by_task.setdefault(row.task, []).append(row.progression)
    return EnvSummary(
        env=env,
        stat=mean_se([row.progression for row in rows]),
        tasks={task: mean_se(values) for task, values in by_task.items()},
        average_steps=sum(row.steps for row in rows) / len(rows),
        input_tokens=sum(row.input_tokens for row in rows),
        output_tokens=sum(row.output_tokens for row in rows),
    )


# ----- the reference files' shape (percentages) ------------------------------------
class TaskSummaryFile(TypedDict):
    progression_percentage: float
    standard_error: float
    episodes_played: int


class EnvSummaryFile(TypedDict):
    progression_percentage: float
    standard_error: float
    average_steps: float
    episodes_played: int
    tasks: dict[str, TaskSummaryFile]
    input_tokens: int
    output_tokens: int


def env_summary_json(summary: EnvSummary) -> EnvSummaryFile:
    """``<env>/<env>_summary.json`` of the reference evaluator."""
    return {
        "progression_percentage": 100 * summary.stat.mean,
        "standard_error": 100 * summary.stat.se,
        "average_steps": summary.average_steps,
        "episodes_played": summary.stat.n,
        "tasks": {
            task: {
                "progression_percentage": 100 * stat.mean,
                "standard_error": 100 * stat.se,
                "episodes_played": stat.n,
            }
            for task, stat in summary.tasks.items()
        },
        "input_tokens": summary.input_tokens,
        "output_tokens": summary.output_tokens,
    }


#: summary.json's overall key: the reference's ("average_progress"); "Final score" was this
#: project's earlier name for it, still read on import.
OVERALL_KEY: Final = "average_progress"
OVERALL_KEYS = (OVERALL_KEY, "Final score")


def reported_score(summary: Mapping[str, Any]) -> dict[str, float] | None:
    """The overall figure and SE (percent) a summary.json reports, under either key."""
    for key in OVERALL_KEYS:
        if key in summary:
            try:
                return {"score": float(summary[key]), "se": float(summary.get("standard_error") or 0.0)}
            except (TypeError, ValueError):
                return None
    return None


# summary.json of the reference ("average_progress" is OVERALL_KEY).
class SummaryFile(TypedDict):
    average_progress: float
    standard_error: float
    environments: dict[str, TaskSummaryFile]  # the same three numbers per env
    total_input_tokens: int
    total_output_tokens: int
    client: dict[str, JSONValue]
    agent: dict[str, JSONValue]


def balrog_summary_json(
    summary: Summary, client: Mapping[str, JSONValue] | None = None, agent: Mapping[str, JSONValue] | None = None
) -> SummaryFile:
    """``summary.json`` of the reference evaluator."""
    return {
        OVERALL_KEY: 100 * summary.overall.mean,
        "standard_error": 100 * summary.overall.se,
        "environments": {
            env: {
                "progression_percentage": 100 * env_summary.stat.mean,
                "standard_error": 100 * env_summary.stat.se,
                "episodes_played": env_summary.stat.n,
            }
            for env, env_summary in summary.envs.items()
        },
        "total_input_tokens": summary.input_tokens,
        "total_output_tokens": summary.output_tokens,
        "client": dict(client or {}),
        "agent": dict(agent or {}),
    }
