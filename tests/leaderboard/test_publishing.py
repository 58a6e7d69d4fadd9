"""Only published runs reach the public leaderboard; staff with the publish
permission publish and unpublish them from the run page."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from agents.models import EvaluationRun
from agents.publishing import PublishError, do_set_published
from tests.support.leaderboard_data import human_episode, make_run, model_episodes, player

pytestmark = pytest.mark.django_db


def names(client: Client, **params: str) -> list[str]:
    return [entry["name"] for entry in client.get("/api/leaderboard", params).json()["entries"]]


def publisher(name: str = "pat") -> User:
    user = User.objects.create_user(name, password="pw-123456789", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="publish_evaluationrun"))
    return user


def logged_in(user: User) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def post_publish(client: Client, run: EvaluationRun, published: str) -> Any:
    page = client.get(f"/agents/runs/{run.pk}/")
    token = page.cookies["csrftoken"].value if "csrftoken" in page.cookies else client.cookies["csrftoken"].value
    return client.post(f"/agents/runs/{run.pk}/publish/", {"published": published, "csrfmiddlewaretoken": token})


def test_it_hides_unpublished_runs_everywhere(client: Client) -> None:
    hidden = make_run("hidden-model", published=False)
    episodes = model_episodes(hidden, "babyai", [1.0, 0.0], seeds=[7, 8])
    model_episodes(make_run("shown"), "babyai", [0.5])
    human = human_episode("babyai", 1.0, seed=7, user=player())
    assert sorted(names(client)) == ["Humans (all)", "shown"]
    for url in ("/leaderboard/", "/api/leaderboard", "/leaderboard/leaderboard.csv", "/api/leaderboard?tab=vlm"):
        assert "hidden-model" not in client.get(url).content.decode(), url
    # its episodes are not public either: no comparison page for them
    assert client.get(f"/leaderboard/compare/{episodes[0].pk}/{human.pk}/").status_code == 404


def test_it_shows_a_run_once_published_and_hides_it_again(client: Client) -> None:
    run = make_run("fresh", published=False)
    model_episodes(run, "babyai", [1.0])
    assert "fresh" not in names(client)
    do_set_published(run.pk, True)
    assert "fresh" in names(client)
    run.refresh_from_db()
    assert run.published and run.published_at is not None
    do_set_published(run.pk, False)
    assert "fresh" not in names(client)
    run.refresh_from_db()
    assert run.published_at is None


def test_it_refuses_to_publish_a_run_that_has_not_finished() -> None:
    run = make_run("busy", status=EvaluationRun.Status.RUNNING)
    with pytest.raises(PublishError):
        do_set_published(run.pk, True)
    run.refresh_from_db()
    assert not run.published


def test_it_publishes_from_the_run_page_with_the_permission(client: Client) -> None:
    run = make_run("staffpick", published=False)
    model_episodes(run, "babyai", [1.0])
    pat = logged_in(publisher())
    page = pat.get(f"/agents/runs/{run.pk}/").content.decode()
    assert "Publish on the leaderboard" in page
    response = post_publish(pat, run, "1")
    assert response.status_code == 302
    assert "staffpick" in names(client)
    assert "Unpublish" in pat.get(f"/agents/runs/{run.pk}/").content.decode()
    post_publish(pat, run, "0")
    assert "staffpick" not in names(client)


def test_it_refuses_staff_without_the_permission_and_anonymous_visitors(client: Client) -> None:
    run = make_run("guarded", published=False)
    sam = logged_in(User.objects.create_user("sam", password="pw-123456789", is_staff=True))
    assert "Publish on the leaderboard" not in sam.get(f"/agents/runs/{run.pk}/").content.decode()
    assert post_publish(sam, run, "1").status_code == 403
    anonymous = client.post(f"/agents/runs/{run.pk}/publish/", {"published": "1"})
    assert anonymous.status_code == 302 and "/login" in anonymous["Location"]
    run.refresh_from_db()
    assert not run.published


def test_it_requires_a_csrf_token_to_publish() -> None:
    run = make_run("csrf", published=False)
    pat = logged_in(publisher())
    assert pat.post(f"/agents/runs/{run.pk}/publish/", {"published": "1"}).status_code == 403
    run.refresh_from_db()
    assert not run.published


def test_it_only_accepts_post_to_publish() -> None:
    run = make_run("get", published=False)
    assert logged_in(publisher()).get(f"/agents/runs/{run.pk}/publish/").status_code == 405


def test_it_publishes_runs_already_finished_when_migrating() -> None:
    """The data migration (run here on the current models) publishes finished runs only."""
    from importlib import import_module

    from django.apps import apps

    migration = import_module("agents.migrations.0003_evaluationrun_published")
    done = make_run("done", published=False)
    busy = make_run("busy", status=EvaluationRun.Status.RUNNING)
    migration.publish_finished_runs(apps, None)
    done.refresh_from_db()
    busy.refresh_from_db()
    assert done.published and done.published_at == done.finished_at
    assert not busy.published
