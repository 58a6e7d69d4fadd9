"""Paired same-seed comparisons and the step-aligned side-by-side view."""

from __future__ import annotations

import pytest
from django.test import Client

from leaderboard import pairing
from tests.leaderboard.conftest import TASKS, add_steps, human_episode, make_run, model_episodes, player

pytestmark = pytest.mark.django_db


def test_it_pairs_only_identical_env_task_and_seed(client: Client) -> None:
    run = make_run("alpha")
    on_7, on_8 = model_episodes(run, "babyai", [1.0, 0.0], seeds=[7, 8])
    user = player()
    same = human_episode("babyai", 0.0, seed=7, user=user)  # pairs with on_7: model wins
    human_episode("babyai", 1.0, seed=8, user=user, task="BabyAI-MixedTrainLocal-v0/pickup")  # other task
    human_episode("crafter", 1.0, seed=8, user=user)  # other env
    human_episode("babyai", 1.0, seed=9, user=user)  # other seed
    human_episode("babyai", 1.0, seed=8)  # anonymous: not a baseline
    pairs = pairing.pairs_for([on_7, on_8])
    assert pairs == [pairing.Pair(("babyai", TASKS["babyai"], 7), on_7.pk, same.pk, 1.0)]


def test_it_counts_wins_losses_ties_with_a_stable_interval() -> None:
    game = ("babyai", TASKS["babyai"], 1)
    pairs = [pairing.Pair(game, 1, 2, d) for d in (1.0, -1.0, 0.0, 1.0)]
    summary = pairing.summarize_pairs(pairs, "m-x")
    assert (summary.wins, summary.losses, summary.ties) == (2, 1, 1)
    assert summary.mean_difference == pytest.approx(0.25)
    assert summary.interval == pairing.summarize_pairs(pairs, "m-x").interval
    assert summary.interval is not None and summary.interval.low <= 0.25 <= summary.interval.high
    empty = pairing.summarize_pairs([], "m-x")
    assert empty.mean_difference is None and empty.interval is None


def test_it_shows_pairs_on_the_entry_page(client: Client) -> None:
    run = make_run("alpha")
    (model,) = model_episodes(run, "babyai", [0.0], seeds=[3])
    human = human_episode("babyai", 1.0, seed=3, user=player())
    key = next(e["key"] for e in client.get("/api/leaderboard").json()["entries"] if e["name"] == "alpha")
    html = " ".join(client.get(f"/leaderboard/entries/{key}/").content.decode().split())
    assert "0 wins, 1 loss, 0 ties over 1 pair" in html
    assert f"/leaderboard/compare/{model.pk}/{human.pk}/" in html


def test_it_marks_the_first_divergent_step(client: Client) -> None:
    run = make_run("alpha")
    (model,) = model_episodes(run, "babyai", [0.0], seeds=[3], initial_digest="start")
    human = human_episode("babyai", 1.0, seed=3, user=player(), initial_digest="start", steps=4)
    add_steps(model, ["a", "b", "c"])
    add_steps(human, ["a", "x", "c", "d"])
    alignment = pairing.align(model, human)
    assert alignment.first_divergence == 1 and alignment.initial_same
    assert [step.same_state for step in alignment.steps] == [True, False, True, False]
    assert alignment.steps[3].left is None  # the model's episode had ended
    assert alignment.divergence_version == 2  # the state after two steps (counted from 1) differs
    response = client.get(f"/leaderboard/compare/{model.pk}/{human.pk}/")
    html = response.content.decode()
    assert "first diverge at step 2" in html and 'id="first-divergence"' in html
    config = response.context["client"]
    assert config["total"] == 4 and config["divergence"] == 2
    assert config["actions"] == [["a", "a"], ["a", "a"], ["a", "a"], [None, "a"]]
    left, right = config["sides"]
    assert left["frames"] == f"/episodes/{model.pk}/frames.json" and left["renderer"] == "grid"
    assert right["replay"] == f"/episodes/{human.pk}/replay/" and right["steps"] == human.steps
    assert 'id="divergence-marker"' in html and 'data-version="2"' in html


def test_it_marks_games_that_differ_from_the_start(client: Client) -> None:
    run = make_run("alpha")
    (model,) = model_episodes(run, "babyai", [0.0], seeds=[3], initial_digest="one")
    human = human_episode("babyai", 1.0, seed=3, user=player(), initial_digest="other")
    assert pairing.align(model, human).divergence_version == 0
    assert client.get(f"/leaderboard/compare/{model.pk}/{human.pk}/").context["client"]["divergence"] == 0


def test_it_never_diverges_on_identical_steps() -> None:
    left = model_episodes(make_run("alpha"), "babyai", [0.0], seeds=[3])[0]
    right = human_episode("babyai", 0.0, seed=3, user=player())
    add_steps(left, ["a", "b"])
    add_steps(right, ["a", "b"])
    assert pairing.align(left, right).first_divergence is None


def test_it_refuses_to_compare_other_games_or_private_episodes(client: Client) -> None:
    run = make_run("alpha")
    (model,) = model_episodes(run, "babyai", [0.0], seeds=[3])
    other_seed = human_episode("babyai", 1.0, seed=4, user=player())
    anonymous = human_episode("babyai", 1.0, seed=3)
    refused = client.get(f"/leaderboard/compare/{model.pk}/{other_seed.pk}/")
    assert refused.status_code == 400
    assert "Only episodes of the same game are compared" in refused.content.decode()
    assert client.get(f"/leaderboard/compare/{model.pk}/{model.pk}/").status_code == 400
    assert client.get(f"/leaderboard/compare/{model.pk}/{anonymous.pk}/").status_code == 404
    assert client.get(f"/leaderboard/compare/{model.pk}/999999/").status_code == 404
