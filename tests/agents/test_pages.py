"""The agents pages: lists, runs with progress, the live episode page and its JSON."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from agents.models import EvaluationRun
from agents.runner import run_model_episode
from tests.support.runs import slots

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff() -> Client:
    client = Client()
    user = User.objects.create_user("staff", password="pw-12345678", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="manage_evaluationrun"))
    client.force_login(user)
    return client


def test_the_index_lists_runs_and_endpoints_but_never_a_key(client: Client, make_endpoint, make_run,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_TEST_KEY", "sk-very-secret")
    endpoint = make_endpoint("random", api_key_env="SECRET_TEST_KEY")
    run = make_run(endpoint)
    html = client.get(reverse("agents:index")).content.decode()
    assert endpoint.name in html and reverse("agents:run", args=[run.pk]) in html
    assert "sk-very-secret" not in html and "SECRET_TEST_KEY" not in html


def test_a_finished_run_shows_its_results(client: Client, make_endpoint, make_run) -> None:
    run = make_run(make_endpoint("solver"), episodes=2)
    for slot in slots(run):
        run_model_episode(slot.pk)
    html = client.get(reverse("agents:run", args=[run.pk])).content.decode()
    assert "Overall: <strong>100.0</strong>" in html and "finished" in html
    progress = client.get(reverse("agents:run_progress", args=[run.pk])).json()
    assert progress["status"] == "finished" and progress["done"] == progress["planned"] == 2
    assert progress["envs"][0]["percent_done"] == 100.0 and progress["overall"]["mean"] == 1.0


def test_the_episode_page_and_its_turns(client: Client, make_endpoint, make_run) -> None:
    run = make_run(make_endpoint("solver", input_price_per_mtok=1.0, output_price_per_mtok=2.0), strategy="cot")
    slot = slots(run)[0]
    run_model_episode(slot.pk)
    slot.refresh_from_db()
    html = client.get(reverse("agents:episode", args=[slot.episode_id])).content.decode()
    assert f"/ws/episodes/{slot.episode_id}/" in html and "agents/live.js" in html
    data = client.get(reverse("agents:turns", args=[slot.episode_id]), {"since": 1}).json()
    assert data["status"] == "finished" and data["turns"][0]["index"] == 1
    assert len(data["turns"]) == data["steps"] - 1
    turn = data["turns"][0]
    assert "ACTION:" in turn["answer"] and turn["action"] == turn["candidate"] and turn["valid"]
    expected_cost = (slot.input_tokens * 1.0 + slot.output_tokens * 2.0) / 1e6
    assert data["totals"]["cost"] == pytest.approx(expected_cost, abs=1e-6)
    assert client.get(reverse("agents:episode", args=[999999])).status_code == 404


def test_only_run_managers_start_and_cancel_runs(client: Client, staff: Client, make_endpoint) -> None:
    endpoint = make_endpoint("random")
    form = {"endpoint": endpoint.pk, "strategy": "naive", "envs": ["babyai"],
            "tasks": "BabyAI-MixedTrainLocal-v0/goto", "episodes_per_task": 1, "seed_base": 3,
            "max_text_history": 16, "max_image_history": 0, "max_cot_history": 1}
    assert client.post(reverse("agents:new_run"), form).status_code == 302  # to the login page
    assert not EvaluationRun.objects.exists()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("agents.evaluation.do_dispatch_after_commit", lambda run, ids: None)
        response = staff.post(reverse("agents:new_run"), form)
    run = EvaluationRun.objects.get()
    assert response.url == reverse("agents:run", args=[run.pk])  # type: ignore[attr-defined]
    assert [(s.task, s.seed) for s in slots(run)] == [("BabyAI-MixedTrainLocal-v0/goto", 3)]
    client.post(reverse("agents:cancel", args=[run.pk]))
    run.refresh_from_db()
    assert run.status == "running"
    staff.post(reverse("agents:cancel", args=[run.pk]))
    run.refresh_from_db()
    assert run.status == "cancelled"


def test_the_new_run_form_rejects_a_vlm_run_on_a_text_endpoint(staff: Client, make_endpoint) -> None:
    endpoint = make_endpoint("random")
    form = {"endpoint": endpoint.pk, "strategy": "naive", "envs": ["babyai"], "seed_base": 0,
            "max_text_history": 16, "max_image_history": 2, "max_cot_history": 1}
    html = staff.post(reverse("agents:new_run"), form).content.decode()
    assert "text-only" in html and not EvaluationRun.objects.exists()
