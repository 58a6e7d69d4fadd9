"""The data a console page starts with (rendered with json_script: escaped).

The annotate console gets the annotator's own work; the review console gets
every submitted annotator's work on the episode, the reviewer's decisions
and the disputes. Frames come later, in windows (annotations.replay).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.templatetags.static import static
from django.urls import reverse

from annotations.finals import CoderWork, EpisodeWork, disputed_episode_labels, disputed_steps, episode_work
from annotations.models import Assignment, EpisodeValue, FinalEpisodeValue, FinalStepDecision, StepLabel, StepNote
from annotations.replay import MAX_WINDOW_STEPS, step_cues
from annotations.taxonomy import Taxonomy
from games import catalogue
from games.models import Episode

WINDOW = 50


def _common(request: HttpRequest, episode: Episode, taxonomy: Taxonomy) -> dict[str, Any]:
    return {
        "episode": episode.pk,
        "env": episode.env,
        "total": episode.steps,
        "renderer": catalogue.renderer(episode.env),
        "renderers_module": static("play/js/renderers/index.js"),
        "hud_module": static("play/js/hud.js"),
        "assets": static("crafter/"),
        "window": min(WINDOW, MAX_WINDOW_STEPS),
        "csrf": get_token(request),
        "home": reverse("annotations:home"),
        "taxonomy": taxonomy.to_json(),
        "cues": step_cues(episode).to_json(),
    }


def annotate_config(request: HttpRequest, assignment: Assignment, taxonomy: Taxonomy) -> dict[str, Any]:
    episode = assignment.item.episode
    return {
        **_common(request, episode, taxonomy),
        "mode": "annotate",
        "assignment": assignment.pk,
        "submitted": assignment.is_submitted,
        "steps_url": reverse("annotations:assignment_steps", args=[assignment.pk]),
        "save_url": reverse("annotations:assignment_save", args=[assignment.pk]),
        "submit_url": reverse("annotations:assignment_submit", args=[assignment.pk]),
        # Unsaved edits wait in localStorage under this key until the server has them.
        "storage_key": f"balrog-annotations:{request.user.pk}:{assignment.pk}",
        "work": own_work(assignment),
    }


def own_work(assignment: Assignment) -> dict[str, Any]:
    steps: dict[int, dict[str, Any]] = {}
    for index, code in StepLabel.objects.filter(assignment=assignment).values_list("index", "label__code"):
        steps.setdefault(index, {"labels": [], "note": ""})["labels"].append(code)
    for index, text in StepNote.objects.filter(assignment=assignment).values_list("index", "text"):
        steps.setdefault(index, {"labels": [], "note": ""})["note"] = text
    values = dict(EpisodeValue.objects.filter(assignment=assignment).values_list("label__code", "value"))
    return {"steps": steps, "values": values, "note": assignment.note, "position": assignment.position}


def review_config(request: HttpRequest, episode: Episode, taxonomy: Taxonomy) -> dict[str, Any]:
    work = episode_work([episode.pk])[episode.pk]
    return {
        **_common(request, episode, taxonomy),
        "mode": "review",
        "submitted": False,
        "steps_url": reverse("annotations:review_steps", args=[episode.pk]),
        "save_url": reverse("annotations:review_save", args=[episode.pk]),
        "storage_key": f"balrog-review:{request.user.pk}:{episode.pk}",
        "review": review_state(work, taxonomy),
    }


def review_state(work: EpisodeWork, taxonomy: Taxonomy) -> dict[str, Any]:
    step_decisions: dict[int, dict[str, bool]] = {}
    decisions = FinalStepDecision.objects.filter(episode_id=work.episode_id)
    for index, code, present in decisions.values_list("index", "label__code", "present"):
        step_decisions.setdefault(index, {})[code] = present
    values = FinalEpisodeValue.objects.filter(episode_id=work.episode_id).values_list("label__code", "value")
    return {
        "complete": work.complete,
        "pending": work.pending,
        "coders": [_coder_json(c) for c in work.coders],
        "decisions": {"steps": step_decisions, "values": dict(values)},
        "disputed_steps": disputed_steps(work),
        "disputed_episode": disputed_episode_labels(work, [label.code for label in taxonomy.episode]),
    }


def _coder_json(coder: CoderWork) -> dict[str, Any]:
    return {
        "name": coder.annotator,
        "steps": {index: sorted(codes) for index, codes in coder.steps.items()},
        "notes": coder.notes,
        "values": coder.values,
        "note": coder.note,
    }
