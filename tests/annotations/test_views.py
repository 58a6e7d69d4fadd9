"""Every annotation page and endpoint, for every persona: rita (reviewer),
anna (annotator), bob (another annotator), olaf (staff, no permission) and an
anonymous visitor. Plus CSRF on writes and inert model output."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from annotations import services
from annotations.filters import EpisodeFilter
from annotations.models import Assignment, FinalStepDecision, Queue, StepLabel
from annotations.services import QueueSpec
from games.models import Episode
from tests.support.annotation_world import XSS, World, make_annotation_persona
from tests.support.pages import streamed
from tests.support.personas import Persona

pytestmark = pytest.mark.django_db

DONE = {"failure-reason": "action-loop", "stuck-pattern": "oscillation", "quality": "2"}


def post_json(client: Client, url: str, body: Any) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


def page_config(page: str) -> Any:
    """The console's start data, as the browser reads it from the json_script element."""
    start = page.index('<script id="annotation-config" type="application/json">')
    body = page[page.index(">", start) + 1 : page.index("</script>", start)]
    return json.loads(body)


def submit_via_api(persona: Persona, assignment: Assignment, steps: dict[str, Any], values: dict[str, str]) -> None:
    url = f"/annotations/assignments/{assignment.pk}/"
    response = post_json(persona.client, url + "save/", {"steps": steps, "episode": {"values": values, "note": "n"}})
    assert response.status_code == 200, response.content
    assert persona.client.post(url + "submit/").status_code == 200


# ----- who reaches what --------------------------------------------------------------------------------
REVIEWER_PAGES = [
    "/annotations/queues/new/",
    "/annotations/queues/{queue}/",
    "/annotations/queues/{queue}/agreement/",
    "/annotations/queues/{queue}/disagreements/",
    "/annotations/episodes/{episode}/review/",
    "/annotations/export/",
]
REVIEWER_DATA = [
    "/annotations/export/annotations.jsonl",
    "/annotations/export/annotations.csv",
    "/annotations/api/episodes/",
]


def urls(world: World, templates: list[str]) -> list[str]:
    return [t.format(queue=world.queue.pk, episode=world.episode.pk, mine=world.annas.pk) for t in templates]


def test_it_sends_anonymous_visitors_to_the_login_page(world: World, anonymous: Client) -> None:
    for url in ["/annotations/", f"/annotations/assignments/{world.annas.pk}/", *urls(world, REVIEWER_PAGES)]:
        response = anonymous.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next="), url
    for url in [*urls(world, REVIEWER_DATA), f"/annotations/assignments/{world.annas.pk}/steps.json"]:
        assert anonymous.get(url).status_code == 401, url
    for url in ("save/", "submit/"):
        assert anonymous.post(f"/annotations/assignments/{world.annas.pk}/{url}").status_code == 401
    assert post_json(anonymous, f"/annotations/episodes/{world.episode.pk}/review/save/", {}).status_code == 401


def test_it_refuses_an_outsider_everything(world: World, olaf: Persona) -> None:
    mine = f"/annotations/assignments/{world.annas.pk}/"
    for url in ["/annotations/", mine, *urls(world, REVIEWER_PAGES), *urls(world, REVIEWER_DATA)]:
        assert olaf.client.get(url).status_code == 403, url
    assert olaf.client.get(mine + "steps.json").status_code == 403
    assert post_json(olaf.client, mine + "save/", {"steps": {}}).status_code == 403
    assert olaf.client.post(mine + "submit/").status_code == 403
    assert olaf.client.post(f"/annotations/queues/{world.queue.pk}/assign/").status_code == 403
    assert post_json(olaf.client, f"/annotations/episodes/{world.episode.pk}/review/save/", {}).status_code == 403


def test_it_needs_a_staff_account_even_in_the_group(world: World) -> None:
    intern = make_annotation_persona("ivan", ["annotators", "reviewers"], staff=False)
    assert intern.client.get("/annotations/").status_code == 403
    assert intern.client.get("/annotations/api/episodes/").status_code == 403


def test_it_keeps_annotators_out_of_reviewer_pages(world: World, anna: Persona) -> None:
    for url in urls(world, REVIEWER_PAGES) + urls(world, REVIEWER_DATA):
        assert anna.client.get(url).status_code == 403, url
    assert anna.client.post(f"/annotations/queues/{world.queue.pk}/assign/").status_code == 403
    assert anna.client.post(f"/annotations/assignments/{world.annas.pk}/reopen/").status_code == 403
    assert post_json(anna.client, f"/annotations/episodes/{world.episode.pk}/review/save/", {}).status_code == 403


def test_it_keeps_an_annotator_out_of_anothers_assignment(world: World, anna: Persona, bob: Persona) -> None:
    theirs = f"/annotations/assignments/{world.bobs.pk}/"
    assert anna.client.get(theirs).status_code == 404
    assert anna.client.get(theirs + "steps.json").status_code == 404
    response = post_json(anna.client, theirs + "save/", {"steps": {"0": {"labels": ["good-move"]}}})
    assert response.status_code == 404
    assert anna.client.post(theirs + "submit/").status_code == 404
    assert not StepLabel.objects.exists()
    world.bobs.refresh_from_db()
    assert world.bobs.status == Assignment.Status.ASSIGNED


def test_it_keeps_a_reviewer_out_of_annotators_consoles(world: World, rita: Persona) -> None:
    mine = f"/annotations/assignments/{world.annas.pk}/"
    assert rita.client.get(mine).status_code == 403  # reviewers see submitted work in the review console
    assert post_json(rita.client, mine + "save/", {"steps": {}}).status_code == 403


# ----- annotator pages -----------------------------------------------------------------------------------
def test_it_lists_an_annotators_own_assignments(world: World, anna: Persona, bob: Persona) -> None:
    page = anna.client.get("/annotations/").content.decode()
    anna_ids = Assignment.objects.filter(annotator=anna.user).values_list("pk", flat=True)
    for pk in Assignment.objects.values_list("pk", flat=True):
        assert (f'data-assignment="{pk}"' in page) == (pk in anna_ids)
    assert "Queues" not in page


def test_it_serves_the_console_with_the_annotators_work(world: World, anna: Persona) -> None:
    submit_url = f"/annotations/assignments/{world.annas.pk}/"
    post_json(anna.client, submit_url + "save/", {"steps": {"1": {"labels": ["repeated-loop"], "note": XSS}}})
    response = anna.client.get(submit_url)
    assert response.status_code == 200
    page = response.content.decode()
    config = page_config(page)
    assert config["work"]["steps"]["1"] == {"labels": ["repeated-loop"], "note": XSS}
    assert config["cues"] == {"invalid": [2, 4], "repeated": [1, 3, 4], "cycle": []}
    assert config["renderer"] == "grid" and config["total"] == 6
    assert [label["code"] for label in config["taxonomy"]["step"]][:2] == ["invalid-format", "repeated-loop"]
    # The note is in the page only as escaped JSON: no live tag.
    assert XSS not in page and "<script>alert(2)" not in page
    assert "\\u003Cscript\\u003Ealert(2)" in page


@pytest.mark.django_db(transaction=True)  # the steps are replayed in a worker thread
def test_it_serves_step_windows_to_the_assignments_annotator(
    rita: Persona, anna: Persona, bob: Persona, episodes: list[Episode]
) -> None:
    spec = QueueSpec("failed", "", EpisodeFilter(player_kind="model"), overlap=1, limit=10)
    queue = services.do_create_queue(spec, rita.user)
    services.do_assign(queue, [anna.user])
    mine = Assignment.objects.get(annotator=anna.user, item__episode=episodes[0])
    response = anna.client.get(f"/annotations/assignments/{mine.pk}/steps.json?start=0&count=3")
    assert response.status_code == 200
    data = response.json()
    assert (data["start"], data["total"], [s["index"] for s in data["steps"]], data["final"]) == (0, 6, [0, 1, 2], None)
    # The model's view: the reference's current-observation message (new episodes play its protocol).
    assert data["steps"][0]["observation"].startswith("Current Observation:\na wall")
    end = anna.client.get(f"/annotations/assignments/{mine.pk}/steps.json?start=3&count=50").json()
    assert end["steps"][1]["raw_input"] == XSS and end["final"]["index"] == 6
    assert anna.client.get(f"/annotations/assignments/{mine.pk}/steps.json?start=x").status_code == 400
    assert bob.client.get(f"/annotations/assignments/{mine.pk}/steps.json").status_code == 404
    assert rita.client.get(f"/annotations/assignments/{mine.pk}/steps.json").status_code == 403
    review = rita.client.get(f"/annotations/episodes/{episodes[0].pk}/review/steps.json?start=4&count=1")
    assert review.status_code == 200 and review.json()["steps"][0]["raw_input"] == XSS
    assert anna.client.get(f"/annotations/episodes/{episodes[0].pk}/review/steps.json").status_code == 403
    assert anna.client.post(f"/annotations/assignments/{mine.pk}/steps.json").status_code == 405


def test_it_saves_and_submits_through_the_endpoints(world: World, anna: Persona) -> None:
    url = f"/annotations/assignments/{world.annas.pk}/"
    bad = post_json(anna.client, url + "save/", {"steps": {"0": {"labels": ["nope"]}}})
    assert bad.status_code == 400 and "unknown step labels" in bad.json()["error"]
    assert anna.client.post(url + "save/", "{not json", content_type="application/json").status_code == 400
    early = anna.client.post(url + "submit/")
    assert early.status_code == 400 and "Main failure reason" in early.json()["error"]
    assert anna.client.get(url + "save/").status_code == 405
    submit_via_api(anna, world.annas, {"2": {"labels": ["invalid-format"], "note": ""}}, DONE)
    world.annas.refresh_from_db()
    assert world.annas.is_submitted
    again = post_json(anna.client, url + "save/", {"steps": {"2": {"labels": []}}})
    assert again.status_code == 409
    assert anna.client.post(url + "submit/").status_code == 409
    assert anna.client.get(url).status_code == 200  # still readable, read-only
    assert anna.client.get(url).context["config"]["submitted"] is True


def test_it_points_to_the_next_assignment_after_submitting(world: World, anna: Persona) -> None:
    url = f"/annotations/assignments/{world.annas.pk}/"
    post_json(anna.client, url + "save/", {"episode": {"values": DONE}})
    answer = anna.client.post(url + "submit/").json()
    following = Assignment.objects.filter(annotator=anna.user).exclude(pk=world.annas.pk).order_by("item__position")
    assert answer == {"ok": True, "next": f"/annotations/assignments/{following[0].pk}/"}


# ----- CSRF ----------------------------------------------------------------------------------------------
def test_it_requires_the_csrf_token_on_every_write(world: World, anna: Persona, rita: Persona) -> None:
    def strict(persona: Persona) -> Client:
        client = Client(enforce_csrf_checks=True)
        client.force_login(persona.user)
        return client

    a, r = strict(anna), strict(rita)
    url = f"/annotations/assignments/{world.annas.pk}/"
    assert post_json(a, url + "save/", {"steps": {"0": {"labels": ["good-move"]}}}).status_code == 403
    assert a.post(url + "submit/").status_code == 403
    assert post_json(r, f"/annotations/episodes/{world.episode.pk}/review/save/", {}).status_code == 403
    assert r.post(f"/annotations/queues/{world.queue.pk}/assign/").status_code == 403
    assert r.post("/annotations/queues/new/", {"name": "x"}).status_code == 403
    assert r.post(f"/annotations/assignments/{world.annas.pk}/reopen/").status_code == 403
    assert not StepLabel.objects.exists()
    # With the token the console sends (X-CSRFToken, from its page), the same save goes through.
    token = a.get(url).context["config"]["csrf"]
    body = json.dumps({"steps": {"0": {"labels": ["good-move"]}}})
    ok = a.post(url + "save/", body, content_type="application/json", headers={"X-CSRFToken": token})
    assert ok.status_code == 200 and StepLabel.objects.count() == 1


# ----- reviewer pages ------------------------------------------------------------------------------------
def test_it_builds_a_queue_from_the_form(
    rita: Persona, anna: Persona, episodes: list[Episode], human_episode: Episode
) -> None:
    form = {
        "name": "failed models",
        "player_kind": "model",
        "outcome": "failed",
        "unlabelled": "on",
        "order": "oldest",
        "limit": "50",
        "overlap": "2",
    }
    preview = rita.client.post("/annotations/queues/new/", {**form, "preview": "1"})
    assert preview.status_code == 200 and preview.context["preview"]["count"] == 3
    assert not Queue.objects.exists()
    created = rita.client.post("/annotations/queues/new/", form)
    queue = Queue.objects.get()
    assert created.status_code == 302 and created["Location"] == f"/annotations/queues/{queue.pk}/"
    assert set(queue.items.values_list("episode_id", flat=True)) == {e.pk for e in episodes}
    empty = rita.client.post("/annotations/queues/new/", form)  # all already queued
    assert empty.status_code == 200 and "no ended, replayable episode" in empty.content.decode()
    page = rita.client.get(f"/annotations/queues/{queue.pk}/")
    assert page.status_code == 200 and list(page.context["assign_form"].fields["annotators"].queryset) == [anna.user]
    assigned = rita.client.post(f"/annotations/queues/{queue.pk}/assign/", {"annotators": [anna.user.pk]})
    assert assigned.status_code == 302 and Assignment.objects.filter(annotator=anna.user).count() == 3
    refused = rita.client.post(f"/annotations/queues/{queue.pk}/assign/", {"annotators": [rita.user.pk]})
    assert refused.status_code == 302 and Assignment.objects.count() == 3


def test_it_shows_a_reviewer_the_queues_and_reopens_work(world: World, rita: Persona, anna: Persona) -> None:
    home = rita.client.get("/annotations/")
    assert home.status_code == 200 and world.queue.name in home.content.decode()
    submit_via_api(anna, world.annas, {}, DONE)
    assert rita.client.post(f"/annotations/assignments/{world.annas.pk}/reopen/").status_code == 302
    world.annas.refresh_from_db()
    assert world.annas.status == Assignment.Status.IN_PROGRESS
    assert rita.client.get("/annotations/queues/999999/").status_code == 404


def test_it_resolves_disagreements_and_shows_agreement(
    world: World, rita: Persona, anna: Persona, bob: Persona
) -> None:
    submit_via_api(anna, world.annas, {"1": {"labels": ["repeated-loop"], "note": XSS}}, DONE)
    submit_via_api(
        bob, world.bobs, {"1": {"labels": ["repeated-loop", "spatial-error"], "note": ""}}, {**DONE, "quality": "4"}
    )
    listing = rita.client.get(f"/annotations/queues/{world.queue.pk}/disagreements/")
    assert listing.status_code == 200
    (row,) = listing.context["rows"]
    assert (row["item"].episode_id, row["steps"], row["labels"]) == (world.episode.pk, 1, ["quality"])

    review = rita.client.get(f"/annotations/episodes/{world.episode.pk}/review/")
    assert review.status_code == 200
    state = review.context["config"]["review"]
    assert [c["name"] for c in state["coders"]] == ["anna", "bob"]
    assert state["disputed_steps"] == {1: ["spatial-error"]} and state["disputed_episode"] == ["quality"]
    assert XSS not in review.content.decode()  # anna's note travels as escaped JSON only

    body = {"steps": {"1": {"spatial-error": True}}, "episode": {"quality": "3"}}
    assert post_json(rita.client, f"/annotations/episodes/{world.episode.pk}/review/save/", body).status_code == 200
    assert FinalStepDecision.objects.get().present is True
    finals = services.final_episode_labels([world.episode.pk])[world.episode.pk]
    assert finals["quality"].value == "3" and finals["quality"].source == "reviewer"
    bad = post_json(
        rita.client, f"/annotations/episodes/{world.episode.pk}/review/save/", {"episode": {"quality": "8"}}
    )
    assert bad.status_code == 400

    agreement = rita.client.get(f"/annotations/queues/{world.queue.pk}/agreement/")
    assert agreement.status_code == 200
    figures = {f.label.code: f for f in agreement.context["figures"]}
    assert figures["repeated-loop"].alpha_nominal == pytest.approx(1.0)
    assert 'data-pair="anna|bob"' in agreement.content.decode()


def test_it_reviews_only_queued_episodes(world: World, rita: Persona, human_episode: Episode) -> None:
    assert rita.client.get(f"/annotations/episodes/{human_episode.pk}/review/").status_code == 404
    response = post_json(rita.client, f"/annotations/episodes/{human_episode.pk}/review/save/", {})
    assert response.status_code == 404


# ----- exports -------------------------------------------------------------------------------------------
def test_it_exports_for_reviewers(world: World, rita: Persona, anna: Persona, bob: Persona) -> None:
    submit_via_api(anna, world.annas, {"2": {"labels": ["invalid-format"], "note": ""}}, DONE)
    submit_via_api(bob, world.bobs, {"2": {"labels": ["invalid-format"], "note": ""}}, DONE)
    page = rita.client.get("/annotations/export/?labelled=on")
    assert page.status_code == 200 and page.context["count"] == 1
    jsonl = rita.client.get("/annotations/export/annotations.jsonl?labelled=on")
    assert jsonl.status_code == 200 and jsonl["Content-Type"].startswith("application/x-ndjson")
    lines = streamed(jsonl).splitlines()
    (record,) = [json.loads(line) for line in lines]
    assert record["episode"]["id"] == world.episode.pk
    assert record["steps"][2]["final_labels"] == ["invalid-format"]
    assert record["final"]["quality"]["value"] == "2"
    csv_text = streamed(rita.client.get("/annotations/export/annotations.csv?labelled=1"))
    assert csv_text.startswith("episode_id,") and ",step,2,anna,annotator,invalid-format,1," in csv_text
    api = rita.client.get(f"/annotations/api/episodes/?queue={world.queue.pk}&limit=2&steps=annotated")
    data = api.json()
    assert (data["count"], data["next_offset"], len(data["results"])) == (3, 2, 2)
    assert [s["index"] for s in data["results"][0]["steps"]] == [2]
    last = rita.client.get(f"/annotations/api/episodes/?queue={world.queue.pk}&limit=2&offset=2").json()
    assert (last["next_offset"], len(last["results"])) == (None, 1)
    assert rita.client.get("/annotations/api/episodes/?limit=500").status_code == 400
    assert rita.client.get("/annotations/api/episodes/?outcome=exploded").status_code == 400
    assert rita.client.get("/annotations/api/episodes/?run=x").status_code == 400


def test_it_lets_reviewers_edit_the_taxonomy_in_the_admin(world: World, rita: Persona, anna: Persona) -> None:
    assert rita.client.get("/admin/annotations/label/").status_code == 200
    assert anna.client.get("/admin/annotations/label/").status_code == 403
    assert Group.objects.get(name="reviewers").permissions.filter(codename="change_label").exists()
