"""The board through its page and API against hand-computed figures."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from agents.models import EvaluationRun
from leaderboard.stats import Estimate, confident_ranks, normalized_score, overall_estimate
from tests.support.leaderboard_data import (
    SECRET_EMAIL,
    SECRET_ENV_VAR,
    add_steps,
    full_coverage,
    human_episode,
    make_endpoint,
    make_run,
    model_episodes,
    player,
    random_episode,
)

pytestmark = pytest.mark.django_db


def api(client: Client, **params: str) -> dict[str, Any]:
    response = client.get("/api/leaderboard", params)
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


def by_name(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in data["entries"]}


def test_it_aggregates_like_balrog_through_the_api(client: Client) -> None:
    run = make_run("alpha")
    model_episodes(run, "babyai", [1.0, 0.0, 1.0, 1.0])  # mean .75, pop SD sqrt(.1875), SE = SD / 2
    model_episodes(run, "crafter", [0.5])  # N = 1: SE 0
    entry = by_name(api(client))["alpha"]
    babyai_se = math.sqrt(0.1875) / 2
    assert entry["games"]["babyai"] == pytest.approx({"mean": 75.0, "se": 100 * babyai_se, "episodes": 4})
    assert entry["games"]["crafter"] == {"mean": 50.0, "se": 0.0, "episodes": 1}
    assert entry["games"]["nle"] is None  # no episodes: left out of the overall
    # overall: unweighted mean of the env means; SE = sqrt(sum SE^2) / number of envs
    overall_se = math.sqrt(babyai_se**2 + 0.0) / 2
    assert entry["overall"] == pytest.approx({"mean": 62.5, "se": 100 * overall_se, "episodes": 2})
    assert entry["episodes"] == 5


def test_it_shows_mean_pm_se_cells_on_the_public_page(client: Client) -> None:
    run = make_run("alpha")
    model_episodes(run, "babyai", [1.0, 0.0, 1.0, 1.0])
    html = client.get("/leaderboard/").content.decode()
    assert "75.0 ± 21.7" in html  # 100 * sqrt(.1875) / 2 = 21.65
    assert "alpha" in html and "naive h16" in html


def test_it_counts_only_ended_episodes_of_finished_runs(client: Client) -> None:
    shown = make_run("shown")
    model_episodes(shown, "babyai", [1.0])
    model_episodes(shown, "babyai", [0.0], status="running")
    model_episodes(shown, "babyai", [0.0], status="abandoned")
    model_episodes(make_run("still-running", status=EvaluationRun.Status.RUNNING), "babyai", [1.0])
    model_episodes(make_run("cancelled", status=EvaluationRun.Status.CANCELLED), "babyai", [1.0])
    entries = by_name(api(client))
    assert set(entries) == {"shown"}
    assert entries["shown"]["games"]["babyai"]["episodes"] == 2  # finished + abandoned
    html = client.get("/leaderboard/").content.decode()
    assert "still-running" not in html and "cancelled" not in html


def test_it_puts_llm_and_vlm_runs_in_their_tabs_with_the_humans(client: Client) -> None:
    model_episodes(make_run("text-model"), "babyai", [1.0])
    model_episodes(make_run("vision-model", images=1), "babyai", [1.0])
    human_episode("babyai", 1.0, user=player())
    assert set(by_name(api(client, tab="llm"))) == {"text-model", "Humans (all)"}
    assert set(by_name(api(client, tab="vlm"))) == {"vision-model", "Humans (all)"}


def test_it_counts_human_baselines_honouring_the_override(client: Client) -> None:
    user = player()
    human_episode("babyai", 1.0, seed=1, user=user)  # logged in: counts
    human_episode("babyai", 0.0, seed=2, user=user, override=False)  # excluded by override
    human_episode("babyai", 0.0, seed=3, override=True)  # anonymous, included by override
    human_episode("babyai", 1.0, seed=4)  # anonymous: does not count
    humans = by_name(api(client))["Humans (all)"]
    # [1, 0]: population SD 0.5, SE = 0.5 / sqrt(2)
    assert humans["games"]["babyai"] == pytest.approx({"mean": 50.0, "se": 50 / math.sqrt(2), "episodes": 2})


def test_it_ranks_by_confident_differences(client: Client) -> None:
    full_coverage(make_run("best"), {"babyai": [1.0] * 9 + [0.0]})
    full_coverage(make_run("close"), {"babyai": [1.0] * 8 + [0.0] * 2})
    full_coverage(make_run("worst"))
    entries = api(client)["entries"]
    # best (babyai 90 %) and close (80 %) cannot be told apart; both are confidently above worst.
    assert [(e["name"], e["rank"]) for e in entries] == [("best", 1), ("close", 1), ("worst", 3)]
    low, high = entries[2]["interval95"]
    assert low == 0.0 and high > 0  # every episode failed: still an interval, never zero-width
    assert all(e["ranked"] and e["coverage"]["complete"] and e["protocol"] == "balrog" for e in entries)


def test_it_lists_partial_coverage_apart_with_what_it_covers(client: Client) -> None:
    full_coverage(make_run("complete"))
    model_episodes(make_run("partial"), "babyai", [1.0] * 10)
    entries = by_name(api(client))
    assert entries["complete"]["rank"] == 1
    partial = entries["partial"]
    assert partial["rank"] is None and not partial["ranked"]
    # Ten episodes of BabyAI's goto: that one task is complete, the 57 others are short.
    assert partial["coverage"]["tasks"] == 1 and partial["coverage"]["total_tasks"] == 58
    assert len(partial["coverage"]["missing"]) == 57
    assert "goto: 10/10" not in partial["apart"] and "1/58 tasks, 0/6 games complete" in partial["apart"]
    html = client.get("/leaderboard/").content.decode()
    ranked, apart = html.split('id="apart"')
    assert entries["partial"]["key"] in apart and entries["partial"]["key"] not in ranked
    assert entries["complete"]["key"] in ranked and entries["complete"]["key"] not in apart


def test_it_never_ranks_another_protocol_or_own_demonstrations(client: Client) -> None:
    full_coverage(make_run("reference"))
    legacy = make_run("legacy")
    legacy.protocol = "balrogweb"
    legacy.save()
    full_coverage(legacy, {"babyai": [1.0]})
    full_coverage(make_run("demos", strategy="few_shot"), {"babyai": [1.0]})
    entries = by_name(api(client))
    assert entries["reference"]["rank"] == 1
    assert entries["legacy"]["rank"] is None and entries["legacy"]["protocol"] == "balrogweb"
    assert "balrogweb protocol" in entries["legacy"]["apart"]
    assert entries["demos"]["rank"] is None and "own demonstrations" in entries["demos"]["apart"]


def test_it_keeps_one_humans_row_per_protocol(client: Client) -> None:
    user = player("ann")
    human_episode("babyai", 1.0, seed=1, user=user)
    human_episode("babyai", 0.0, seed=2, user=user, protocol="balrogweb")
    humans = [e for e in api(client)["entries"] if e["kind"] == "human"]
    assert sorted((e["key"], e["protocol"], e["episodes"]) for e in humans) == [
        ("humans", "balrog", 1),
        ("humans-balrogweb", "balrogweb", 1),
    ]


def z_estimate(mean: float, low: float, high: float) -> Estimate:
    """An estimate whose 95 % interval (large df) is [low, high]."""
    return Estimate(mean, (high - low) / 2 / 1.959964, 1e9)


def test_it_ranks_in_the_order_of_the_scores() -> None:
    # The case: overlap-based ranks gave 1 / 2 / 1 for means .90 / .80 / .75.
    estimates = [z_estimate(0.90, 0.85, 0.95), z_estimate(0.80, 0.79, 0.81), z_estimate(0.75, 0.30, 0.99)]
    assert confident_ranks(estimates) == [1, 2, 2]
    # A one-sided 95 % test, not "no overlap": 0.5 vs 0.4 with SE 0.03 each overlap yet differ
    # (z = 0.1 / 0.0424 = 2.36 > 1.96).
    assert confident_ranks([Estimate(0.5, 0.03, 1e9), Estimate(0.4, 0.03, 1e9), None]) == [1, 2, None]
    assert confident_ranks([Estimate(0.5, 0.05, 1e9), Estimate(0.4, 0.05, 1e9)]) == [1, 1]  # z = 1.41
    # equal scores share a rank
    assert confident_ranks([Estimate(0.9, 0.01, 99), Estimate(0.5, 0.01, 99), Estimate(0.5, 0.2, 99)]) == [1, 2, 2]


def test_it_estimates_the_overall_with_t_and_welch_degrees_of_freedom() -> None:
    values = {"babyai": [0.2, 0.4, 0.9, 0.5, 0.6], "crafter": [0.1, 0.3, 0.2]}
    estimate = overall_estimate(values)
    assert estimate is not None
    assert estimate.mean == pytest.approx((0.52 + 0.2) / 2)
    v1, v2 = 0.067 / 5, 0.01 / 3  # sample variances / n
    assert estimate.se == pytest.approx(math.sqrt(v1 + v2) / 2)
    assert estimate.df == pytest.approx((v1 + v2) ** 2 / (v1**2 / 4 + v2**2 / 2))
    shuffled = {"crafter": [0.3, 0.2, 0.1], "babyai": [0.9, 0.5, 0.2, 0.6, 0.4]}
    assert overall_estimate(shuffled) == estimate  # same data, same numbers, whatever the order
    assert overall_estimate({"babyai": [0.4]}) is None  # one episode: too few
    assert overall_estimate({"babyai": [0.4, 0.4]}) is None  # zero variance: too few
    failed = overall_estimate({"babyai": [0.0] * 5})  # every episode failed: still uncertain
    assert failed is not None and failed.interval().low == 0.0 and failed.interval().high > 0.1


def test_it_lists_entries_with_too_few_episodes_apart(client: Client) -> None:
    full_coverage(make_run("measured"), {"babyai": [0.5, 0.7], "crafter": [0.1, 0.2]})
    full_coverage(make_run("constant"), {"crafter": [0.3]})  # every Crafter episode 30 %: no variance to go on
    model_episodes(make_run("single"), "babyai", [0.4])
    entries = by_name(api(client))
    assert entries["measured"]["rank"] == 1 and entries["measured"]["interval95"] is not None
    constant = entries["constant"]
    assert constant["rank"] is None and not constant["ranked"] and constant["interval95"] is None
    assert constant["apart"] == "too few episodes for an interval" and constant["coverage"]["complete"]
    assert entries["single"]["interval95"] is None  # one episode
    html = client.get("/leaderboard/").content.decode()
    assert constant["key"] in html.split('id="apart"')[1]
    assert "too few episodes for an interval" in html


def test_it_stays_stable_across_loads(client: Client) -> None:
    model_episodes(make_run("alpha"), "babyai", [1.0, 0.0, 1.0, 0.0, 1.0])
    before = api(client)["entries"][0]["interval95"]
    assert before is not None and before[0] < before[1]
    cache.clear()
    assert api(client)["entries"][0]["interval95"] == before


def test_it_normalizes_by_human_and_random() -> None:
    assert normalized_score(0.5, 0.9, 0.1, 0.05).value == pytest.approx(0.5)
    assert normalized_score(0.5, 0.1, 0.1, 0.05).reason == "humans no better than random"
    assert normalized_score(0.5, 0.9, None, 0.05).value is None
    assert normalized_score(float("nan"), 0.9, 0.1, 0.05).reason == "no model score"
    assert normalized_score(0.5, None, 0.1, 0.05).reason == "no human baseline"
    # A gap within the humans' own standard error: the ratio would explode (0.4 / 1e-3 = 400).
    barely = normalized_score(0.5, 0.101, 0.1, 0.05)
    assert barely.value is None and "not clearly above random" in barely.reason
    assert normalized_score(0.5, 0.9, 0.1, None).reason == "one human episode: no standard error"


def test_it_shows_normalized_scores_on_the_entry_page(client: Client) -> None:
    run = make_run("alpha")
    model_episodes(run, "babyai", [1.0, 0.0])  # 0.5
    model_episodes(run, "crafter", [0.3])
    model_episodes(run, "nle", [0.3])
    user = player()
    human_episode("babyai", 1.0, seed=1, user=user)
    human_episode("babyai", 0.9, seed=2, user=user)  # 0.95, sample SE 0.05
    human_episode("nle", 0.2, seed=1, user=user)
    human_episode("nle", 0.0, seed=2, user=user)  # 0.1, sample SE 0.1: not clearly above a 0.05 floor
    random_episode("babyai", 0.0)
    random_episode("babyai", 0.5)  # floor 0.25: (0.5 - .25) / (.95 - .25) = 35.7 %
    random_episode("nle", 0.05)
    key = by_name(api(client))["alpha"]["key"]
    html = client.get(f"/leaderboard/entries/{key}/").content.decode()
    normalized = html.split('id="normalized"')[1].split("</table>")[0]
    assert "35.7" in normalized and "n/a" in normalized  # crafter: no human, no floor
    assert "no human baseline, no random floor" in normalized
    assert "humans not clearly above random" in normalized


def test_it_shows_each_games_interval_on_the_entry_page(client: Client) -> None:
    run = make_run("alpha")
    model_episodes(run, "babyai", [1.0, 0.0])  # success/fail: Wilson's interval for 1 of 2
    model_episodes(run, "crafter", [0.3])
    key = by_name(api(client))["alpha"]["key"]
    html = client.get(f"/leaderboard/entries/{key}/").content.decode()
    table = html.split('id="per-game"')[1].split("</table>")[0]
    assert "9.5–90.5" in table  # 0.5 ± 1.96 sqrt(.25 / 2) bent by Wilson: [.0945, .9055]
    assert "too few episodes" in table  # one Crafter episode: no interval, never [30, 30]
    assert "30.0–30.0" not in table


def test_it_reports_usage_and_links_replays(client: Client) -> None:
    run = make_run("alpha", endpoint=make_endpoint())
    (episode,) = model_episodes(run, "babyai", [1.0])
    add_steps(episode, ["d0", "d1", "d2", "d3"], invalid=1)
    key = by_name(api(client))["alpha"]["key"]
    html = client.get(f"/leaderboard/entries/{key}/").content.decode()
    assert f"/episodes/{episode.pk}/replay/" in html
    assert "1 (25.0 %)" in html  # invalid answers
    assert "0.0030" in html  # 1000 in x 2 $/M + 100 out x 10 $/M


def test_it_badges_verified_and_imported_rows(client: Client) -> None:
    model_episodes(make_run("checked"), "babyai", [1.0, 0.0], verified_ok=True)
    model_episodes(make_run("half"), "babyai", [1.0], verified_ok=True)
    model_episodes(make_run("half"), "crafter", [1.0])
    model_episodes(make_run("reference"), "babyai", [1.0], replayable=False)
    entries = by_name(api(client))
    assert entries["checked"]["verified"] and not entries["checked"]["imported"]
    assert not entries["half"]["verified"]
    assert entries["reference"]["imported"]


def test_it_shows_no_private_data(client: Client) -> None:
    run = make_run("alpha", endpoint=make_endpoint())
    model_episodes(run, "babyai", [1.0])
    model_episodes(make_run("unpublished", status=EvaluationRun.Status.RUNNING), "babyai", [1.0])
    human_episode("babyai", 1.0, user=player())
    key = by_name(api(client))["alpha"]["key"]
    pages = [
        "/leaderboard/", "/leaderboard/?tab=vlm", "/api/leaderboard", "/leaderboard/leaderboard.csv",
        f"/leaderboard/entries/{key}/", f"/leaderboard/entries/{key}/summary.json", "/leaderboard/entries/humans/",
    ]  # fmt: skip
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        for secret in (SECRET_ENV_VAR, SECRET_EMAIL, "unpublished", "api_key"):
            assert secret not in body, (url, secret)


def test_it_sorts_on_the_server(client: Client) -> None:
    run_a = make_run("aaa")
    model_episodes(run_a, "babyai", [0.0])
    model_episodes(run_a, "crafter", [0.9])
    model_episodes(make_run("bbb"), "babyai", [1.0])
    assert [e["name"] for e in api(client, sort="crafter")["entries"]] == ["aaa", "bbb"]  # missing last
    assert [e["name"] for e in api(client, sort="babyai")["entries"]] == ["bbb", "aaa"]
    assert [e["name"] for e in api(client, sort="name", dir="desc")["entries"]] == ["bbb", "aaa"]
    html = client.get("/leaderboard/?sort=name").content.decode()
    assert html.index(">aaa<") < html.index(">bbb<")


def test_it_exports_csv_and_the_reference_summary_layout(client: Client) -> None:
    run = make_run("alpha", endpoint=make_endpoint())
    model_episodes(run, "babyai", [1.0, 0.0])
    rows = list(csv.DictReader(io.StringIO(client.get("/leaderboard/leaderboard.csv").content.decode())))
    assert rows[0]["name"] == "alpha" and float(rows[0]["babyai"]) == 50.0 and rows[0]["babyai_n"] == "2"
    key = by_name(api(client))["alpha"]["key"]
    summary = json.loads(client.get(f"/leaderboard/entries/{key}/summary.json").content)
    se = 50 / math.sqrt(2)  # one env: the overall SE is the env's
    assert summary["average_progress"] == 50.0 and summary["standard_error"] == pytest.approx(se)
    assert summary["environments"]["babyai"] == pytest.approx(
        {"progression_percentage": 50.0, "standard_error": se, "episodes_played": 2}
    )
    assert summary["agent"]["strategy"] == "naive" and summary["client"]["model_id"] == "gpt-test-id"


def test_it_serves_an_openapi_document(client: Client) -> None:
    document = client.get("/api/leaderboard/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert "/api/leaderboard" in document["paths"]


def test_it_refreshes_when_the_data_changes(client: Client) -> None:
    run = make_run("alpha")
    model_episodes(run, "babyai", [1.0])
    assert api(client)["entries"][0]["episodes"] == 1
    model_episodes(run, "babyai", [0.0])
    assert api(client)["entries"][0]["episodes"] == 2


def test_it_aggregates_counted_groups_exactly_as_agents_summarize() -> None:
    from agents.aggregation import EpisodeScore, summarize
    from leaderboard.services import Group, summary_of_groups

    episodes = [("babyai", "goto", 1.0, 10), ("babyai", "goto", 1.0, 20), ("babyai", "open", 0.0, 30)]
    episodes += [("crafter", "default", 3 / 22, 100), ("crafter", "default", 5 / 22, 200)]
    reference = summarize(EpisodeScore(env, task, p, steps) for env, task, p, steps in episodes)
    groups = [
        Group("babyai", "goto", 1.0, 2, 30, 0, 0, 2, 0),
        Group("babyai", "open", 0.0, 1, 30, 0, 0, 1, 0),
        Group("crafter", "default", 3 / 22, 1, 100, 0, 0, 0, 0),
        Group("crafter", "default", 5 / 22, 1, 200, 0, 0, 0, 0),
    ]
    assert summary_of_groups(groups) == reference


def test_it_badges_synthetic_benchmark_rows(client: Client) -> None:
    model_episodes(make_run("synthetic:model-00"), "babyai", [1.0])
    model_episodes(make_run("real"), "babyai", [1.0])
    entries = by_name(api(client))
    assert entries["synthetic:model-00"]["synthetic"] and not entries["real"]["synthetic"]
    html = client.get("/leaderboard/").content.decode()
    assert html.count(">synthetic</span>") == 1


def test_it_shows_the_tab_rank_on_the_entry_page(client: Client) -> None:
    full_coverage(make_run("vision", images=1))
    full_coverage(make_run("text-strong"), {"babyai": [1.0]})  # another tab: does not outrank "vision"
    key = by_name(api(client, tab="vlm"))["vision"]["key"]
    html = " ".join(client.get(f"/leaderboard/entries/{key}/").content.decode().split())
    assert ">rank 1</span>" in html


def test_it_serves_the_previous_board_while_another_request_rebuilds(client: Client) -> None:
    from leaderboard.services import BUILDING_KEY

    run = make_run("alpha")
    model_episodes(run, "babyai", [1.0])
    assert api(client)["entries"][0]["episodes"] == 1
    model_episodes(run, "babyai", [0.0])
    cache.add(BUILDING_KEY, "someone else", 60)  # another request is rebuilding
    assert api(client)["entries"][0]["episodes"] == 1
    cache.delete(BUILDING_KEY)
    assert api(client)["entries"][0]["episodes"] == 2
