"""BALROG's aggregation against hand-computed figures."""

from __future__ import annotations

import math

import pytest

from agents.aggregation import (
    EpisodeScore,
    Stat,
    balrog_summary_json,
    env_summary_json,
    mean_se,
    overall_of,
    summarize,
)


def test_it_gives_zero_standard_error_for_one_episode() -> None:
    assert mean_se([0.7]) == Stat(0.7, 0.0, 1)


def test_it_gives_zero_everything_for_no_episode() -> None:
    assert mean_se([]) == Stat(0.0, 0.0, 0)


def test_it_uses_the_population_standard_deviation() -> None:
    # values 0, 1: mean 0.5; population variance ((0.5)^2 + (0.5)^2) / 2 = 0.25, std 0.5; SE 0.5 / sqrt(2)
    stat = mean_se([0.0, 1.0])
    assert stat.mean == 0.5 and stat.n == 2
    assert stat.se == pytest.approx(0.5 / math.sqrt(2))


def test_it_computes_a_four_episode_example() -> None:
    # 0.2, 0.4, 0.6, 1.0: mean 0.55; deviations -0.35 -0.15 0.05 0.45; squares sum 0.1225+0.0225+0.0025+0.2025=0.35
    # population variance 0.0875, std 0.295804; SE 0.295804 / 2 = 0.147902
    stat = mean_se([0.2, 0.4, 0.6, 1.0])
    assert stat.mean == pytest.approx(0.55)
    assert stat.se == pytest.approx(math.sqrt(0.0875) / 2)


def test_it_averages_env_means_unweighted_and_combines_their_errors() -> None:
    # env a: 4 episodes, mean 0.55, SE sqrt(0.0875)/2; env b: one episode 0.1, SE 0
    overall = overall_of([mean_se([0.2, 0.4, 0.6, 1.0]), mean_se([0.1])])
    assert overall.mean == pytest.approx((0.55 + 0.1) / 2)  # not the pooled mean (2.3 / 5 = 0.46)
    assert overall.se == pytest.approx(math.sqrt(0.0875 / 4 + 0.0) / 2)
    assert overall.n == 2


def test_it_leaves_envs_without_episodes_out_of_the_overall() -> None:
    overall = overall_of([mean_se([1.0, 0.0]), mean_se([])])
    assert overall == Stat(0.5, pytest.approx(0.5 / math.sqrt(2)), 1)  # type: ignore[arg-type]
    assert overall_of([]) == Stat(0.0, 0.0, 0)


def test_it_summarizes_per_task_and_per_env_over_episodes() -> None:
    scores = [
        EpisodeScore("babyai", "goto", 1.0, steps=10, input_tokens=100, output_tokens=10),
        EpisodeScore("babyai", "goto", 0.0, steps=30, input_tokens=300, output_tokens=30),
        EpisodeScore("babyai", "pickup", 1.0, steps=20, input_tokens=200, output_tokens=20),
        EpisodeScore("crafter", "default", 0.5, steps=100, input_tokens=1000, output_tokens=100),
    ]
    summary = summarize(scores)
    babyai = summary.envs["babyai"]
    # the env mean is over its 3 episodes (2/3), not over its task means ((0.5 + 1) / 2)
    assert babyai.stat.mean == pytest.approx(2 / 3)
    assert babyai.stat.se == pytest.approx(math.sqrt(((1 / 3) ** 2 * 2 + (2 / 3) ** 2) / 3) / math.sqrt(3))
    assert babyai.tasks["goto"] == Stat(0.5, pytest.approx(0.5 / math.sqrt(2)), 2)  # type: ignore[arg-type]
    assert babyai.tasks["pickup"] == Stat(1.0, 0.0, 1)
    assert babyai.average_steps == 20.0
    assert (babyai.input_tokens, babyai.output_tokens) == (600, 60)
    assert summary.overall.mean == pytest.approx((2 / 3 + 0.5) / 2)
    assert summary.overall.se == pytest.approx(babyai.stat.se / 2)  # crafter's single episode has SE 0
    assert (summary.episodes, summary.input_tokens, summary.output_tokens) == (4, 1600, 160)


def test_it_writes_the_reference_files_in_percent() -> None:
    summary = summarize([EpisodeScore("babyai", "goto", 1.0, 4, 7, 1), EpisodeScore("babyai", "goto", 0.0, 6, 3, 1)])
    env = env_summary_json(summary.envs["babyai"])
    assert env["progression_percentage"] == 50.0
    assert env["standard_error"] == pytest.approx(100 * 0.5 / math.sqrt(2))
    assert env["average_steps"] == 5.0 and env["episodes_played"] == 2
    assert env["tasks"]["goto"]["episodes_played"] == 2
    assert (env["input_tokens"], env["output_tokens"]) == (10, 2)
    overall = balrog_summary_json(summary, {"model_id": "m"}, {"type": "naive"})
    assert overall["average_progress"] == 50.0
    assert overall["environments"]["babyai"]["episodes_played"] == 2
    assert overall["total_input_tokens"] == 10
    assert (overall["client"], overall["agent"]) == ({"model_id": "m"}, {"type": "naive"})
