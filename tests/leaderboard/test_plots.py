"""Server-side SVG charts and the progression-against-step curve."""

from __future__ import annotations

import pytest
from django.test import Client

from games.models import Episode
from leaderboard.detail import progression_curve
from leaderboard.plots import Bar, Series, bar_chart, line_chart
from tests.support.leaderboard_data import human_episode, make_run, model_episodes, player

pytestmark = pytest.mark.django_db


def set_progress(episode: Episode, values: list[float]) -> None:
    from games.models import Step

    Step.objects.bulk_create(
        Step(episode=episode, index=i, action="a", executed=[0], digest=f"d{i}", progression=v)
        for i, v in enumerate(values)
    )
    episode.steps, episode.progression = len(values), values[-1]
    episode.save(update_fields=["steps", "progression"])


def test_it_averages_progression_by_step_carrying_final_scores() -> None:
    run = make_run("alpha")
    short, long = model_episodes(run, "babyai", [0.0, 0.0])
    set_progress(short, [1.0])  # done after one step with 1.0
    set_progress(long, [0.0, 0.0, 0.5, 0.5])
    curve = progression_curve(Episode.objects.filter(pk__in=[short.pk, long.pk]), "babyai", points=5)
    assert curve == ((0.0, 0.0), (1.0, 0.5), (2.0, 0.5), (3.0, 0.75), (4.0, 0.75))


def test_it_draws_bars_and_lines_as_escaped_svg() -> None:
    svg = bar_chart("t <b>", [Bar("<x>", 0.5, 0.1)])
    assert svg.startswith("<svg") and "<rect" in svg and "&lt;x&gt;" in svg and "<b>" not in svg
    lines = line_chart("t", [Series("a", ((0.0, 0.0), (10.0, 0.5))), Series("b", ((0.0, 0.0), (5.0, 1.0)))])
    assert lines.count("<polyline") == 2


def test_it_puts_charts_and_their_tables_on_the_entry_page(client: Client) -> None:
    run = make_run("alpha")
    (model,) = model_episodes(run, "babyai", [0.0])
    set_progress(model, [0.0, 1.0])
    human = human_episode("babyai", 0.0, user=player())
    set_progress(human, [1.0])
    key = next(e["key"] for e in client.get("/api/leaderboard").json()["entries"] if e["name"] == "alpha")
    html = client.get(f"/leaderboard/entries/{key}/").content.decode()
    assert 'id="bars"><svg' in html
    curve = html.split('data-env="babyai"')[1].split("</figure>")[0]
    assert curve.count("<polyline") == 2 and '<th scope="col">Humans (all)</th>' in curve
