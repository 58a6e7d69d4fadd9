"""Paired same-seed comparisons and the step-aligned side-by-side view."""

from __future__ import annotations

import pytest
from django.test import Client

from leaderboard import pairing
from tests.support.leaderboard_data import TASKS, add_steps, human_episode, make_run, model_episodes, player

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


def test_it_reduces_each_game_to_one_difference() -> None:
    def game(seed: int) -> pairing.GameKey:
        return ("babyai", TASKS["babyai"], seed)

    # Game 1: 2 model x 2 human episodes (4 pairs) still counts once: (0.5 + 1) / 2 - (0 + 0.5) / 2 = 0.5.
    pairs = [pairing.Pair(game(1), m, h, dm - dh) for m, dm in ((1, 0.5), (2, 1.0)) for h, dh in ((3, 0.0), (4, 0.5))]
    pairs += [pairing.Pair(game(2), 5, 6, -0.25), pairing.Pair(game(3), 7, 8, 0.0), pairing.Pair(game(4), 9, 10, 0.25)]
    summary = pairing.summarize_pairs(pairs, "m-x")
    assert [g.difference for g in summary.games] == pytest.approx([0.5, -0.25, 0.0, 0.25])
    assert (summary.games[0].model_episodes, summary.games[0].human_episodes) == (2, 2)
    assert (summary.wins, summary.losses, summary.ties) == (2, 1, 1)  # per game, not per pair
    assert summary.mean_difference == pytest.approx(0.125)
    # Student's t over the four game differences: SD 0.3227, SE 0.1614, t(3) 3.182
    assert summary.interval is not None
    assert (summary.interval.low, summary.interval.high) == pytest.approx((0.125 - 0.5135, 0.125 + 0.5135), abs=1e-3)
    # The figures do not depend on the order the pairs come in.
    shuffled = pairing.summarize_pairs(list(reversed(pairs)), "m-x")
    assert (shuffled.mean_difference, shuffled.interval, shuffled.wins) == (
        summary.mean_difference, summary.interval, summary.wins,
    )  # fmt: skip
    empty = pairing.summarize_pairs([], "m-x")
    assert empty.mean_difference is None and empty.interval is None


def test_it_gives_the_paired_difference_by_game() -> None:
    games = {
        "a": ([0.5, 0.7], [0.2]),  # 0.6 - 0.2 = 0.4
        "b": ([0.1], [0.3, 0.1, 0.2]),  # 0.1 - 0.2 = -0.1
        "c": ([0.9], [0.6]),  # 0.3
        "d": ([0.4], []),  # no human: left out
    }
    estimate, interval = pairing.paired_difference(games, seed=1)
    assert estimate == pytest.approx(0.2)
    assert interval is not None and interval.low < 0.2 < interval.high
    assert pairing.paired_difference(dict(reversed(games.items())), seed=99) == (estimate, interval)
    assert pairing.paired_difference({"a": ([0.5], [0.2])}, seed=1) == (pytest.approx(0.3), None)  # one game
    assert pairing.paired_difference({"a": ([0.5], [0.2]), "b": ([0.4], [0.1])}, seed=1)[1] is None  # all equal
    assert pairing.paired_difference({}, seed=1) == (None, None)


def test_it_shows_pairs_on_the_entry_page(client: Client) -> None:
    run = make_run("alpha")
    (model,) = model_episodes(run, "babyai", [0.0], seeds=[3])
    human = human_episode("babyai", 1.0, seed=3, user=player())
    key = next(e["key"] for e in client.get("/api/leaderboard").json()["entries"] if e["name"] == "alpha")
    html = " ".join(client.get(f"/leaderboard/entries/{key}/").content.decode().split())
    assert "0 wins, 1 loss, 0 ties over 1 game (1 pair of episodes)" in html
    assert "too few games for an interval" in html
    games = html.split('id="paired-games"')[1].split("</table>")[0]
    assert "-100.0" in games  # the one game: model 0 - human 1
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
