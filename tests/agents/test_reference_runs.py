"""Model runs on the "balrog" protocol, end to end against the development server:
the reference's instruction, parser, exact validity and feedback line, and what
the model was sent made visible (the episode's prompt page, show_prompt)."""

from __future__ import annotations

import json
from io import StringIO
from itertools import pairwise
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from agents.episodes import rebuild_messages
from agents.models import EvaluationRun, RunEpisode
from agents.prompts import prompt_digest
from agents.runner import run_model_episode
from agents.sent import message_text
from games.models import Episode, Step
from games.registry import make_adapter
from reference.prompts import feedback_prefix, instruction, valid_actions
from tests.support.games import BABYAI_TASK
from tests.support.profile import use_profile
from tests.support.runs import slots

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def personas() -> dict[str, Client]:
    """A visitor (anonymous) and a researcher (logged in, no permission): the pages are public."""
    researcher = Client()
    researcher.force_login(User.objects.create_user("researcher", password="pw-12345678"))
    return {"visitor": Client(), "researcher": researcher}


def played(make_endpoint: Any, make_run: Any, model: str = "drift", **config: Any) -> RunEpisode:
    run = make_run(make_endpoint(model), protocol="balrog", seed_base=11, **config)
    slot = slots(run)[0]
    run_model_episode(slot.pk)
    return RunEpisode.objects.select_related("episode", "run").get(pk=slot.pk)


def steps_of(slot: RunEpisode) -> list[Step]:
    assert slot.episode_id is not None
    return list(Step.objects.filter(episode_id=slot.episode_id).order_by("index"))


def mission_of(episode: Episode) -> str | None:
    adapter = make_adapter(episode.env, episode.task, episode.options)
    try:
        adapter.reset(episode.seed)
        return adapter.mission()
    finally:
        adapter.close()


def test_it_plays_the_reference_protocol_with_its_instruction_parser_and_feedback(make_endpoint, make_run) -> None:
    slot = played(make_endpoint, make_run, strategy="naive")
    episode = slot.episode
    assert episode is not None and episode.status == "finished"
    assert slot.run.protocol == episode.protocol == episode.options["protocol"] == "balrog"
    assert slot.meta["instructions"] == instruction("babyai", BABYAI_TASK, mission_of(episode))
    steps = steps_of(slot)
    accepted = set(valid_actions("babyai", BABYAI_TASK) or [])
    assert any(not step.valid for step in steps) and any(step.valid for step in steps)
    for before, step in pairwise(steps):
        model = step.meta["model"]
        # validity is the reference's: the parsed output, exactly (case-sensitive)
        assert before.valid == (before.meta["model"]["candidate"] in accepted)
        feedback = feedback_prefix(before.action)
        assert model["obs"].startswith(feedback) == (not before.valid), step.index
    for step in steps:
        messages = rebuild_messages(slot, step.index)
        assert prompt_digest(messages) == step.meta["model"]["prompt"], step.index
        assert "system" not in {m["role"] for m in messages}
        assert message_text(messages[0]) == slot.meta["instructions"]
    # a past answer is replayed as the parsed output, as the reference does
    last = steps[-1]
    sent = rebuild_messages(slot, last.index)
    previous_output = steps[-2].meta["model"]["candidate"]
    if previous_output:
        assert sent[-2] == {"role": "assistant", "content": [{"type": "text", "text": previous_output}]}


def test_cot_runs_show_the_previous_plan(make_endpoint, make_run) -> None:
    slot = played(make_endpoint, make_run, model="solver", strategy="cot")
    assert slot.episode is not None and slot.episode.progression == 1.0
    steps = steps_of(slot)
    assert len(steps) >= 2 and all(step.valid for step in steps)
    messages = rebuild_messages(slot, steps[1].index)
    assert message_text(messages[-2]) == "Previous plan:\n" + steps[0].raw_input


def test_show_prompt_prints_the_messages_sent(make_endpoint, make_run) -> None:
    slot = played(make_endpoint, make_run, strategy="robust_naive")
    assert slot.episode_id is not None
    out = StringIO()
    call_command("show_prompt", str(slot.episode_id), "1", "--json", stdout=out)
    shown = json.loads(out.getvalue())
    assert shown["verified"] and shown["protocol"] == "balrog"
    assert shown["messages"] == rebuild_messages(slot, 1)
    readable = StringIO()
    call_command("show_prompt", str(slot.episode_id), "1", stdout=readable)
    text = readable.getvalue()
    assert "identical to what was sent" in text and "----- [0] user -----" in text
    assert slot.meta["instructions"] in text and "<|ACTION|>YOUR_CHOSEN_ACTION<|END|>" in text
    with pytest.raises(CommandError, match="has no step 9999"):
        call_command("show_prompt", str(slot.episode_id), "9999")


def test_it_shows_every_persona_the_messages_of_any_step(make_endpoint, make_run, personas) -> None:
    slot = played(make_endpoint, make_run, strategy="naive")
    assert slot.episode_id is not None
    turns = personas["visitor"].get(reverse("agents:turns", args=[slot.episode_id])).json()["turns"]
    link = turns[2]["prompt"]
    assert link == reverse("agents:prompt", args=[slot.episode_id, 2])
    for name, client in personas.items():
        page = client.get(reverse("agents:episode", args=[slot.episode_id])).content.decode()
        assert reverse("agents:prompt", args=[slot.episode_id, 0]) in page, name
        response = client.get(link)
        assert response.status_code == 200, name
        html = response.content.decode()
        assert 'id="prompt-verified"' in html and "balrog protocol" in html
        assert "Current Observation:" in html and "You always have to output one of the above actions" in html
        data = client.get(reverse("agents:prompt_json", args=[slot.episode_id, 2])).json()
        assert data["messages"] == rebuild_messages(slot, 2) and data["verified"]
    assert personas["visitor"].get(reverse("agents:prompt", args=[slot.episode_id, 9999])).status_code == 404
    assert personas["visitor"].get(reverse("agents:prompt", args=[123456, 0])).status_code == 404


def test_the_protocol_is_chosen_on_the_form_and_shown_on_the_run_page(make_endpoint, personas) -> None:
    endpoint = make_endpoint("random")
    manager = Client()
    user = User.objects.create_superuser("manager", password="pw-12345678")
    manager.force_login(user)
    form = {"endpoint": endpoint.pk, "strategy": "few_shot", "protocol": "balrog", "envs": ["babyai"],
            "tasks": BABYAI_TASK, "episodes_per_task": 1, "seed_base": 0, "max_text_history": 16,
            "max_image_history": 0, "max_cot_history": 1}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("agents.evaluation.do_dispatch_after_commit", lambda run, ids: None)
        manager.post(reverse("agents:new_run"), form)
        manager.post(reverse("agents:new_run"), {**form, "protocol": "balrogweb", "strategy": "naive"})
    own, legacy = EvaluationRun.objects.order_by("pk")
    assert (own.protocol, own.meta, legacy.protocol, legacy.meta) == (
        "balrog", {"own_demonstrations": True}, "balrogweb", {})
    html = personas["visitor"].get(reverse("agents:run", args=[own.pk])).content.decode()
    assert "balrog protocol" in html and 'id="run-own-demos"' in html
    html = personas["researcher"].get(reverse("agents:run", args=[legacy.pk])).content.decode()
    assert "balrogweb protocol" in html and 'id="run-own-demos"' not in html


def test_evaluate_takes_the_protocol(make_endpoint, settings) -> None:
    use_profile(settings, redis_url="")  # the local runner plays, on either profile
    endpoint = make_endpoint("solver")
    out = StringIO()
    call_command("evaluate", "--endpoint", endpoint.name, "--env", "babyai", "--task", BABYAI_TASK,
                 "--episodes", "1", "--protocol", "balrogweb", "--poll", "0.2", stdout=out)
    run = EvaluationRun.objects.get()
    assert run.protocol == "balrogweb" and "(balrogweb protocol)" in out.getvalue()
    episode = slots(run)[0].episode
    assert episode is not None and episode.protocol == "balrogweb"
