"""Queues, assignment, saving and submitting, final labels, agreement, exports
(services, on real BabyAI episodes played as a model would)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from django.contrib.auth.models import Group

from annotations import services
from annotations.exports import csv_lines, episode_records, export_episodes, jsonl_lines
from annotations.filters import EpisodeFilter, filter_episodes
from annotations.finals import disputed_episode_labels, disputed_steps, episode_work, load_work
from annotations.models import Assignment, Label, QueueItem
from annotations.replay import step_cues, step_window
from annotations.reports import queue_agreement
from annotations.services import AnnotationError, AssignmentClosed, QueueSpec
from annotations.taxonomy import load_taxonomy
from games.models import Episode
from tests.support.annotation_world import XSS, make_annotation_persona, play_model_episode
from tests.support.personas import Persona

pytestmark = pytest.mark.django_db

DONE = {"failure-reason": "action-loop", "stuck-pattern": "oscillation", "quality": "2"}


def make_queue(rita: Persona, overlap: int = 2, **filters: Any) -> Any:
    spec = QueueSpec(
        name="failed model episodes",
        description="",
        filter=EpisodeFilter(**{"player_kind": "model", "outcome": "failed", **filters}),
        overlap=overlap,
        limit=50,
    )
    return services.do_create_queue(spec, rita.user)


def save(assignment: Assignment, data: dict[str, Any]) -> None:
    taxonomy = load_taxonomy()
    services.do_save(assignment, services.check_save(assignment, data, taxonomy), taxonomy)


def label_and_submit(assignment: Assignment, steps: dict[int, list[str]], values: dict[str, str]) -> None:
    body = {"steps": {str(i): {"labels": codes, "note": ""} for i, codes in steps.items()}}
    save(assignment, {**body, "episode": {"values": values, "note": "ok"}})
    services.check_submit(assignment, load_taxonomy())
    services.do_submit(assignment)


def assignment_of(persona: Persona, episode: Episode) -> Assignment:
    return Assignment.objects.select_related("item__episode").get(annotator=persona.user, item__episode=episode)


# ----- the default taxonomy and groups -------------------------------------------------------------
def test_it_ships_the_default_taxonomy_and_groups() -> None:
    taxonomy = load_taxonomy()
    assert [label.code for label in taxonomy.step] == [
        "invalid-format",
        "repeated-loop",
        "spatial-error",
        "ignored-rules",
        "menu-trap",
        "good-move",
    ]
    assert [label.code for label in taxonomy.episode] == ["failure-reason", "stuck-pattern", "quality"]
    assert all(label.description and label.hotkey for label in (*taxonomy.step, *taxonomy.episode))
    assert "--More--" in taxonomy.by_code["menu-trap"].description
    assert [v for v, _ in taxonomy.by_code["quality"].values] == ["1", "2", "3", "4", "5"]
    assert ("none", "None: succeeded or no clear failure") in taxonomy.by_code["failure-reason"].values
    perms = {g.name: {p.codename for p in g.permissions.all()} for g in Group.objects.all()}
    assert perms["annotators"] == {"annotate"}
    assert {"review", "change_label", "add_labeloption"} <= perms["reviewers"]
    assert "annotate" not in perms["reviewers"]  # a reviewer who also annotates joins both groups


def test_it_validates_hotkeys_and_kinds() -> None:
    from django.core.exceptions import ValidationError

    for key in ("j", "k", "n", "3", " "):
        with pytest.raises(ValidationError):
            Label(code="x", name="x", description="x", scope="step", kind="flag", hotkey=key).full_clean()
    with pytest.raises(ValidationError):
        Label(code="x2", name="x", description="x", scope="step", kind="rating", hotkey="z").full_clean()
    with pytest.raises(ValidationError):
        Label(code="x3", name="x", description="x", scope="episode", kind="flag", hotkey="Z").full_clean()
    Label(code="x4", name="x", description="x", scope="step", kind="flag", hotkey="z").full_clean()


# ----- filters and queues --------------------------------------------------------------------------
def test_it_filters_episodes_like_a_queue_does(episodes: list[Episode], human_episode: Episode) -> None:
    ids = [e.pk for e in episodes]
    assert set(filter_episodes(EpisodeFilter(player_kind="model")).values_list("pk", flat=True)) == set(ids)
    assert filter_episodes(EpisodeFilter(player_kind="human")).get() == human_episode
    assert filter_episodes(EpisodeFilter(env="crafter")).count() == 0
    Episode.objects.filter(pk=ids[0]).update(end_reason="won")
    assert ids[0] not in filter_episodes(EpisodeFilter(outcome="failed")).values_list("pk", flat=True)
    assert list(filter_episodes(EpisodeFilter(outcome="won")).values_list("pk", flat=True)) == [ids[0]]
    assert filter_episodes(EpisodeFilter(agent="test-mod")).count() == 3
    with pytest.raises(ValueError):
        EpisodeFilter.from_mapping({"outcome": "exploded"})


def test_it_leaves_running_and_imported_episodes_out(episodes: list[Episode]) -> None:
    running = play_model_episode(9, ["go forward"])
    Episode.objects.filter(pk=running.pk).update(status=Episode.Status.RUNNING)
    Episode.objects.filter(pk=episodes[0].pk).update(replayable=False)
    found = set(filter_episodes(EpisodeFilter()).values_list("pk", flat=True))
    assert found == {episodes[1].pk, episodes[2].pk}


def test_it_filters_by_evaluation_run(episodes: list[Episode]) -> None:
    from agents.models import EvaluationRun, RunEpisode

    run = EvaluationRun.objects.create(model_name="gpt-test", envs=["babyai"])
    RunEpisode.objects.create(run=run, env="babyai", task="t", index=0, seed=1, episode=episodes[1])
    assert list(filter_episodes(EpisodeFilter(run=run.pk)).values_list("pk", flat=True)) == [episodes[1].pk]
    assert list(filter_episodes(EpisodeFilter(model="gpt")).values_list("pk", flat=True)) == [episodes[1].pk]


def test_it_builds_a_queue_of_not_yet_labelled_failed_model_episodes(
    rita: Persona, episodes: list[Episode], human_episode: Episode
) -> None:
    queue = make_queue(rita, unlabelled=True)
    assert list(queue.items.values_list("episode_id", flat=True)) == [e.pk for e in episodes]
    assert queue.filters["player_kind"] == "model" and queue.filters["unlabelled"] is True
    with pytest.raises(AnnotationError, match="no ended"):
        make_queue(rita, unlabelled=True)  # all of them are queued now
    with pytest.raises(AnnotationError, match="overlap"):
        services.do_create_queue(QueueSpec("x", "", EpisodeFilter(), overlap=0, limit=5), rita.user)


def test_it_assigns_each_episode_to_overlap_annotators_least_loaded_first(
    rita: Persona, anna: Persona, bob: Persona, episodes: list[Episode]
) -> None:
    carl = make_annotation_persona("carl", ["annotators"])
    queue = make_queue(rita, overlap=2)
    assert services.do_assign(queue, [anna.user, bob.user, carl.user]) == 6
    per_item = {item.pk: {a.annotator.username for a in item.assignments.all()} for item in queue.items.all()}
    assert all(len(names) == 2 for names in per_item.values())
    load = {p: Assignment.objects.filter(annotator__username=p).count() for p in ("anna", "bob", "carl")}
    assert sorted(load.values()) == [2, 2, 2]
    assert services.do_assign(queue, [anna.user, bob.user, carl.user]) == 0  # already full


def test_it_refuses_to_assign_to_non_annotators(rita: Persona, olaf: Persona, episodes: list[Episode]) -> None:
    queue = make_queue(rita)
    with pytest.raises(AnnotationError, match="olaf"):
        services.do_assign(queue, [olaf.user])
    with pytest.raises(AnnotationError, match="rita"):
        services.do_assign(queue, [rita.user])  # a reviewer without the annotate permission
    assert not Assignment.objects.exists()


# ----- saving and submitting ---------------------------------------------------------------------------
@pytest.fixture
def assigned(rita: Persona, anna: Persona, bob: Persona, episodes: list[Episode]) -> Any:
    queue = make_queue(rita, overlap=2)
    services.do_assign(queue, [anna.user, bob.user])
    return queue


def test_it_saves_step_labels_notes_and_episode_values(assigned: Any, anna: Persona, episodes: list[Episode]) -> None:
    a = assignment_of(anna, episodes[0])
    save(a, {"steps": {"2": {"labels": ["invalid-format", "spatial-error"], "note": "answered <b>fly</b>"}}})
    save(a, {"steps": {"2": {"labels": ["invalid-format"], "note": "fly is no action"}}, "position": 2})
    save(a, {"episode": {"values": {"quality": "2", "failure-reason": "invalid-actions"}, "note": "bad"}})
    save(a, {"episode": {"values": {"failure-reason": None}}})
    a.refresh_from_db()
    assert (a.status, a.position, a.note) == (Assignment.Status.IN_PROGRESS, 2, "bad")
    work = {w.assignment_id: w for w in load_work(Assignment.objects.filter(pk=a.pk))}[a.pk]
    assert work.steps == {2: {"invalid-format"}}
    assert work.notes == {2: "fly is no action"}
    assert work.values == {"quality": "2"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"steps": {"99": {"labels": []}}}, "not in this episode"),
        ({"steps": {"x": {"labels": []}}}, "not a step index"),
        ({"steps": {"0": {"labels": ["no-such-label"]}}}, "unknown step labels"),
        ({"steps": {"0": {"labels": ["quality"]}}}, "unknown step labels"),
        ({"steps": {"0": {"labels": [], "note": "x" * 10_001}}}, "at most"),
        ({"episode": {"values": {"quality": "7"}}}, "not one of its values"),
        ({"episode": {"values": {"invalid-format": "1"}}}, "unknown episode label"),
        ({"position": 999}, "out of range"),
        ({"position": True}, "position must be a whole number"),  # not position 1
        ({"position": 1.0}, "position must be a whole number"),
        ({"position": "1"}, "position must be a whole number"),
        ({"steps": {"1_0": {"labels": []}}}, "not a step index"),  # int() would read step 10
        ({"steps": {" 1": {"labels": []}}}, "not a step index"),
        ([], "expected a JSON object"),
    ],
)
def test_it_rejects_bad_saves(assigned: Any, anna: Persona, episodes: list[Episode], body: Any, message: str) -> None:
    with pytest.raises(AnnotationError, match=message):
        services.check_save(assignment_of(anna, episodes[0]), body, load_taxonomy())


def test_it_requires_the_episode_labels_then_locks_the_submission(
    assigned: Any, anna: Persona, episodes: list[Episode]
) -> None:
    a = assignment_of(anna, episodes[0])
    with pytest.raises(AnnotationError, match="Main failure reason"):
        services.check_submit(a, load_taxonomy())
    label_and_submit(a, {1: ["repeated-loop"]}, DONE)
    a.refresh_from_db()
    assert a.is_submitted and a.submitted_at is not None
    with pytest.raises(AssignmentClosed):
        services.check_save(a, {"steps": {}}, load_taxonomy())
    with pytest.raises(AssignmentClosed):
        services.check_submit(a, load_taxonomy())
    services.do_reopen(a)
    a.refresh_from_db()
    assert a.status == Assignment.Status.IN_PROGRESS


def test_it_keeps_labels_an_admin_deactivated(assigned: Any, anna: Persona, episodes: list[Episode]) -> None:
    a = assignment_of(anna, episodes[0])
    save(a, {"steps": {"1": {"labels": ["good-move", "repeated-loop"]}}})
    Label.objects.filter(code="good-move").update(active=False)
    save(a, {"steps": {"1": {"labels": []}}})
    assert set(a.step_labels.values_list("label__code", flat=True)) == {"good-move"}


# ----- final labels ----------------------------------------------------------------------------------
def test_it_finalizes_unanimous_labels_and_the_reviewers_decisions(
    assigned: Any, rita: Persona, anna: Persona, bob: Persona, episodes: list[Episode]
) -> None:
    e = episodes[0]
    label_and_submit(assignment_of(anna, e), {1: ["repeated-loop"], 2: ["invalid-format"]}, DONE)
    partial = services.final_episode_labels([e.pk])
    assert partial == {e.pk: {}}  # bob has not submitted: nothing is final yet
    label_and_submit(assignment_of(bob, e), {2: ["invalid-format", "spatial-error"]}, {**DONE, "quality": "3"})

    finals = services.final_episode_labels([e.pk])[e.pk]
    assert {code: f.value for code, f in finals.items()} == {
        "failure-reason": "action-loop",
        "stuck-pattern": "oscillation",
    }
    assert finals["failure-reason"].source == "agreement" and finals["failure-reason"].annotators == 2
    assert services.final_step_labels([e.pk]) == {e.pk: {2: ["invalid-format"]}}

    taxonomy = load_taxonomy()
    body = {"steps": {"1": {"repeated-loop": True}, "2": {"spatial-error": False}}, "episode": {"quality": "3"}}
    services.do_review(e, services.check_review(e, body, taxonomy), rita.user, taxonomy)
    finals = services.final_episode_labels([e.pk])[e.pk]
    assert (finals["quality"].value, finals["quality"].source) == ("3", "reviewer")
    assert services.final_step_labels([e.pk]) == {e.pk: {1: ["repeated-loop"], 2: ["invalid-format"]}}

    # Dropping a decision falls back to the annotators; a "no" decision removes an agreed flag.
    body = {"steps": {"1": {"repeated-loop": None}, "2": {"invalid-format": False}}, "episode": {"quality": None}}
    services.do_review(e, services.check_review(e, body, taxonomy), rita.user, taxonomy)
    assert services.final_step_labels([e.pk]) == {e.pk: {}}
    assert "quality" not in services.final_episode_labels([e.pk])[e.pk]


def test_it_rejects_bad_review_decisions(assigned: Any, episodes: list[Episode]) -> None:
    taxonomy = load_taxonomy()
    for body in (
        {"steps": {"0": {"quality": True}}},
        {"steps": {"0": {"good-move": "yes"}}},
        {"episode": {"quality": "9"}},
    ):
        with pytest.raises(AnnotationError):
            services.check_review(episodes[0], body, taxonomy)


def test_it_lists_disputes(assigned: Any, anna: Persona, bob: Persona, episodes: list[Episode]) -> None:
    e = episodes[0]
    label_and_submit(assignment_of(anna, e), {1: ["repeated-loop"], 3: ["good-move"]}, DONE)
    label_and_submit(assignment_of(bob, e), {1: ["repeated-loop", "spatial-error"]}, {**DONE, "quality": "4"})
    work = episode_work([e.pk])[e.pk]
    assert disputed_steps(work) == {1: ["spatial-error"], 3: ["good-move"]}
    assert disputed_episode_labels(work, ["failure-reason", "quality"]) == ["quality"]


# ----- agreement figures -----------------------------------------------------------------------------
def test_it_computes_a_queues_agreement_by_label(
    assigned: Any, anna: Persona, bob: Persona, episodes: list[Episode]
) -> None:
    # Episode steps: 6, 4, 4 = 14 step units per step label.
    assert [e.steps for e in episodes] == [6, 4, 4]
    e0, e1, e2 = episodes
    label_and_submit(assignment_of(anna, e0), {2: ["invalid-format"], 4: ["invalid-format"]}, DONE)
    label_and_submit(assignment_of(bob, e0), {2: ["invalid-format"]}, DONE)
    label_and_submit(assignment_of(anna, e1), {3: ["invalid-format"]}, {**DONE, "quality": "1"})
    label_and_submit(assignment_of(bob, e1), {3: ["invalid-format"]}, {**DONE, "quality": "2"})
    label_and_submit(assignment_of(anna, e2), {}, {**DONE, "quality": "3", "failure-reason": "spatial"})
    label_and_submit(assignment_of(bob, e2), {}, {**DONE, "quality": "3"})
    figures = {f.label.code: f for f in queue_agreement(assigned)}

    invalid = figures["invalid-format"]
    # Units: 14 steps; anna flags 3, bob 2, both 2. Table: yy 2, yn 1, ny 0, nn 11.
    # kappa: p_o = 13/14, p_e = (3*2 + 11*12) / 196 = 138/196; kappa = (13/14 - 138/196) / (58/196) = 44/58.
    assert invalid.units == 14
    (pair,) = invalid.pairs
    assert (pair.a, pair.b, pair.units) == ("anna", "bob", 14)
    assert pair.kappa == pytest.approx(44 / 58)
    # alpha: o_yy = 4, o_yn = o_ny = 1, o_nn = 22; n_y = 5, n_n = 23, n = 28: 1 - 27 * 2 / (2 * 5 * 23) = 1 - 54/230.
    assert invalid.alpha_nominal == pytest.approx(1 - 54 / 230)
    assert invalid.prevalence == pytest.approx(5 / 28)

    assert figures["good-move"].alpha_nominal is None  # nobody ever flagged it: undefined
    quality = figures["quality"]
    # Ratings (1,2), (2,2) wait: per episode (anna, bob) = (2,2), (1,2), (3,3).
    # Interval alpha: o_22 = 2, o_12 = o_21 = 1, o_33 = 2; n_1 = 1, n_2 = 3, n_3 = 2, n = 6;
    # D_o sum = 2 * 1 = 2; D_e sum = 2 * (1*3*1 + 1*2*4 + 3*2*1) = 34; alpha = 1 - 5 * 2 / 34.
    assert quality.units == 3
    assert quality.alpha_interval == pytest.approx(1 - 10 / 34)
    # Nominal: D_e sum = 2 * (1*3 + 1*2 + 3*2) = 22; alpha = 1 - 5 * 2 / 22.
    assert quality.alpha_nominal == pytest.approx(1 - 10 / 22)
    failure = figures["failure-reason"]
    # (action-loop, action-loop) x2, (spatial, action-loop): kappa p_o = 2/3,
    # p_e = (2/3 * 3/3) = 2/3 -> kappa 0.
    assert failure.pairs[0].kappa == pytest.approx(0.0)


# ----- replay windows ---------------------------------------------------------------------------------
def test_it_shows_each_step_with_the_observation_the_model_saw(episodes: list[Episode]) -> None:
    e = episodes[0]
    window = step_window(e, 0, 50)
    assert [s["index"] for s in window["steps"]] == list(range(6))
    assert window["final"]["index"] == 6
    assert window["steps"][2]["raw_input"] == "I think\nfly away"
    assert window["steps"][2]["valid"] is False and window["steps"][2]["action"] == "go forward"
    assert window["steps"][4]["raw_input"] == XSS
    # Step i shows the state *before* it: the text equals a fresh replay up to i.
    from games.services import rebuild_adapter
    from reference.view import model_view

    for index in (0, 3, 5):
        adapter = rebuild_adapter(e, upto=index)
        assert window["steps"][index]["observation"] == model_view(adapter)
        assert window["steps"][index]["frame"] == json.loads(json.dumps(adapter.frame()))
    assert json.loads(window["steps"][1]["meta"]) == {"tokens": 11}
    later = step_window(e, 4, 1)
    assert [s["index"] for s in later["steps"]] == [4] and later["final"] is None


def test_it_marks_invalid_and_repeated_steps(episodes: list[Episode]) -> None:
    cues = step_cues(episodes[0])
    # Answers: turn left, turn left, (invalid -> go forward), go forward, (XSS invalid -> go forward), turn right.
    assert cues.invalid == [2, 4]
    assert cues.repeated == [1, 3, 4]
    assert cues.cycle == []
    assert step_cues(episodes[2]).cycle == [3]  # right, left, right, left: the cycle's second round ends at 3
    assert step_cues(episodes[2]).repeated == []


# ----- exports -----------------------------------------------------------------------------------------
def test_it_exports_jsonl_and_csv(
    assigned: Any, rita: Persona, anna: Persona, bob: Persona, episodes: list[Episode]
) -> None:
    e = episodes[0]
    label_and_submit(assignment_of(anna, e), {2: ["invalid-format"]}, DONE)
    label_and_submit(assignment_of(bob, e), {2: ["invalid-format"], 5: ["good-move"]}, DONE)
    records = list(episode_records(export_episodes(EpisodeFilter(labelled=True))))
    assert [r["episode"]["id"] for r in records] == [e.pk]
    (record,) = records
    assert [a["annotator"] for a in record["annotators"]] == ["anna", "bob"]
    assert record["annotators"][0]["labels"] == DONE and record["annotators"][0]["note"] == "ok"
    assert record["final"]["failure-reason"] == {"value": "action-loop", "source": "agreement", "annotators": 2}
    assert len(record["steps"]) == 6 and record["steps"][4]["raw_input"] == XSS
    assert record["steps"][2]["final_labels"] == ["invalid-format"]
    assert [a["annotator"] for a in record["steps"][5]["annotations"]] == ["bob"]
    line = "".join(jsonl_lines(records))
    assert line.endswith("\n") and json.loads(line) == json.loads(json.dumps(record))

    annotated_only = next(episode_records(export_episodes(EpisodeFilter(labelled=True)), all_steps=False))
    assert [s["index"] for s in annotated_only["steps"]] == [2, 5]
    everything = list(episode_records(export_episodes(EpisodeFilter())))
    assert len(everything) == 3 and everything[1]["annotators"] == []  # queued, nothing submitted yet

    rows = list(csv.DictReader(io.StringIO("".join(csv_lines(records)))))
    assert {(r["annotator"], r["scope"], r["step_index"], r["label"]) for r in rows if r["value"] == "1"} >= {
        ("anna", "step", "2", "invalid-format"),
        ("bob", "step", "5", "good-move"),
        ("", "step", "2", "invalid-format"),
    }
    assert any(r["source"] == "agreement" and r["label"] == "quality" and r["value"] == "2" for r in rows)
    assert next(iter(csv.reader(io.StringIO("".join(csv_lines([]))))))[0] == "episode_id"


def test_it_never_exports_drafts(assigned: Any, anna: Persona, episodes: list[Episode]) -> None:
    save(assignment_of(anna, episodes[0]), {"steps": {"1": {"labels": ["good-move"], "note": "secret draft"}}})
    record = next(episode_records(export_episodes(EpisodeFilter(queue=assigned.pk))))
    assert "secret draft" not in json.dumps(record) and record["annotators"] == []
    assert QueueItem.objects.filter(queue=assigned).count() == 3
