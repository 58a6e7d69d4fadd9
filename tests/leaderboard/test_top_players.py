"""Optional "top players" rows: the best logged-in players with enough
counted baseline episodes, each a row labelled by username, aggregated like
every other row."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from agents.aggregation import EpisodeScore, summarize
from games.models import Episode
from leaderboard import detail, services
from play.models import PlayRecord
from tests.support.leaderboard_data import SECRET_EMAIL, TASKS, human_episode, player

pytestmark = pytest.mark.django_db


def entries(client: Client, **params: str) -> dict[str, dict[str, Any]]:
    data = client.get("/api/leaderboard", params).json()
    return {entry["name"]: entry for entry in data["entries"]}


def played(user: User, scores: list[float], env: str = "babyai") -> list[Episode]:
    return [human_episode(env, score, seed=i, user=user) for i, score in enumerate(scores)]


def anonymous_counted(nickname: str, scores: list[float]) -> None:
    """An anonymous player's episodes counted by an override (they count for
    the Humans row, but a nickname never gets a row of its own)."""
    for i, score in enumerate(scores):
        episode = Episode.objects.create(
            env="babyai", task=TASKS["babyai"], seed=i, engine_version="test", progression=score, steps=3,
            status=Episode.Status.FINISHED, player_kind=Episode.PlayerKind.HUMAN, nickname=nickname,
        )  # fmt: skip
        PlayRecord.objects.create(
            episode=episode, owner="a:x", env="babyai", task=episode.task, live=False, baseline_override=True
        )


def test_it_adds_the_best_players_with_enough_episodes(client: Client, settings: Any) -> None:
    settings.BALROG_LEADERBOARD_TOP_PLAYERS = 2
    settings.BALROG_LEADERBOARD_TOP_PLAYER_MIN_EPISODES = 5
    played(player("alice"), [1.0] * 5)
    bob = played(player("bob"), [1.0, 1.0, 0.0, 0.0, 0.5])
    played(player("bob2"), [1.0, 0.0, 0.0, 0.0, 0.0])  # third best: over the limit of 2
    played(player("carol"), [1.0] * 4)  # one episode short
    played(player("crafty"), [1.0] * 5, env="crafter")
    board = entries(client)
    # alice and crafty both score 100: ties by username
    players = [name for name, entry in board.items() if entry["kind"] == "player"]
    assert sorted(players) == ["alice", "crafty"]
    assert board["Humans (all)"]["episodes"] == 4 * 5 + 4
    settings.BALROG_LEADERBOARD_TOP_PLAYERS = 3
    board = entries(client)
    assert "bob" in board and "bob2" not in board and "carol" not in board
    reference = summarize(EpisodeScore(e.env, e.task, e.progression, e.steps) for e in bob)
    assert board["bob"]["overall"] == pytest.approx(
        {"mean": 100 * reference.overall.mean, "se": 100 * reference.overall.se, "episodes": 1}
    )
    assert board["bob"]["games"]["babyai"]["episodes"] == 5
    # One game of 58 tasks: listed apart from the main ranking, with its coverage.
    assert board["bob"]["modality"] == "human" and board["bob"]["rank"] is None
    assert board["bob"]["coverage"]["tasks"] == 0 and "0/58 tasks" in board["bob"]["apart"]


def test_it_never_gives_an_anonymous_nickname_a_row(client: Client, settings: Any) -> None:
    settings.BALROG_LEADERBOARD_TOP_PLAYER_MIN_EPISODES = 2
    anonymous_counted("ghost", [1.0, 1.0, 1.0])
    board = entries(client)
    assert board["Humans (all)"]["episodes"] == 3
    assert [entry["kind"] for entry in board.values()] == ["human"]
    assert "ghost" not in client.get("/leaderboard/").content.decode()


def test_it_can_be_switched_off(client: Client, settings: Any) -> None:
    settings.BALROG_LEADERBOARD_TOP_PLAYERS = 0
    played(player("alice"), [1.0] * 5)
    assert list(entries(client)) == ["Humans (all)"]


def test_it_shows_usernames_never_emails(client: Client, settings: Any) -> None:
    settings.BALROG_LEADERBOARD_TOP_PLAYER_MIN_EPISODES = 1
    played(player("dana"), [0.5])
    played(User.objects.create_user("erin@example.com", email=SECRET_EMAIL, password="pw-123456789"), [0.5])
    board = entries(client)
    assert "dana" in board and "erin@…" in board
    key = board["dana"]["key"]
    for url in ("/leaderboard/", "/api/leaderboard", "/leaderboard/leaderboard.csv", f"/leaderboard/entries/{key}/"):
        body = client.get(url).content.decode()
        assert SECRET_EMAIL not in body and "example.com" not in body, url
    page = client.get(f"/leaderboard/entries/{key}/").content.decode()
    assert "dana" in page and "<tr" in page


def test_it_lists_only_the_players_episodes_on_their_entry_page(client: Client, settings: Any) -> None:
    settings.BALROG_LEADERBOARD_TOP_PLAYER_MIN_EPISODES = 1
    mine = played(player("fay"), [1.0, 0.0])
    played(player("gus"), [0.5, 0.5, 0.5])
    key = entries(client)["fay"]["key"]
    page = client.get(f"/leaderboard/entries/{key}/").content.decode()
    assert "fay" in page
    entry = services.find_entry(key)
    assert entry is not None
    assert sorted(e.pk for e in detail.entry_episodes(entry)) == sorted(e.pk for e in mine)
