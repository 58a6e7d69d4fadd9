"""Annotation services: queues, assignment, saving and submitting work, reviewing.

``check_*`` validate (raise ``AnnotationError`` with a message for the user),
``do_*`` write. Views stay thin: authorize (annotations.access), check, do.

The final labels the leaderboard reads are ``final_episode_labels`` and
``final_step_labels`` (defined in annotations.finals, re-exported here).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from annotations.filters import EpisodeFilter, filter_episodes
from annotations.finals import FinalLabel, final_episode_labels, final_step_labels
from annotations.models import (
    NOTE_MAX_CHARS,
    Assignment,
    EpisodeValue,
    FinalEpisodeValue,
    FinalStepDecision,
    Label,
    Queue,
    QueueItem,
    StepLabel,
    StepNote,
)
from annotations.taxonomy import Taxonomy
from balrogweb.errors import ServiceError
from games.models import Episode

__all__ = ["FinalLabel", "final_episode_labels", "final_step_labels"]

MAX_QUEUE_ITEMS = 5000
MAX_STEPS_PER_SAVE = 2000
QUEUE_ORDERS = {"oldest": ("pk",), "newest": ("-pk",), "random": ("?",)}


class AnnotationError(ServiceError):
    """Bad input or a state that forbids the change; ``message`` is for the user."""

    code = "invalid"


class AssignmentClosed(AnnotationError):
    code = "closed"
    http_status = 409


# ----- queues ------------------------------------------------------------------------------
@dataclass(frozen=True)
class QueueSpec:
    name: str
    description: str
    filter: EpisodeFilter
    overlap: int
    limit: int
    order: str = "oldest"


def check_queue_spec(spec: QueueSpec) -> None:
    if not spec.name.strip():
        raise AnnotationError("a queue needs a name")
    if not 1 <= spec.overlap <= 20:
        raise AnnotationError("overlap must be between 1 and 20 annotators per episode")
    if not 1 <= spec.limit <= MAX_QUEUE_ITEMS:
        raise AnnotationError(f"a queue holds 1 to {MAX_QUEUE_ITEMS} episodes")
    if spec.order not in QUEUE_ORDERS:
        raise AnnotationError(f"unknown order {spec.order!r}")


def candidate_episodes(spec: QueueSpec) -> QuerySet[Episode]:
    return filter_episodes(spec.filter).order_by(*QUEUE_ORDERS[spec.order])


def do_create_queue(spec: QueueSpec, created_by: Any) -> Queue:
    check_queue_spec(spec)
    episode_ids = list(candidate_episodes(spec).values_list("pk", flat=True)[: spec.limit])
    if not episode_ids:
        raise AnnotationError("no ended, replayable episode matches these filters")
    with transaction.atomic():
        queue = Queue.objects.create(
            name=spec.name.strip()[:128],
            description=spec.description,
            filters={**spec.filter.to_json(), "order": spec.order, "limit": spec.limit},
            overlap=spec.overlap,
            created_by=created_by,
        )
        QueueItem.objects.bulk_create(
            QueueItem(queue=queue, episode_id=eid, position=i) for i, eid in enumerate(episode_ids)
        )
    return queue


# ----- assignment ----------------------------------------------------------------------------
def eligible_annotators() -> QuerySet[Any]:
    """Active staff who hold the annotate permission (through a group, directly, or as superuser)."""
    perm = Permission.objects.filter(content_type__app_label="annotations", codename="annotate")
    holds = Q(groups__permissions__in=perm) | Q(user_permissions__in=perm) | Q(is_superuser=True)
    users = get_user_model().objects.filter(holds, is_staff=True, is_active=True)
    return users.distinct().order_by("username")


def check_annotators(annotators: Sequence[Any]) -> None:
    eligible = set(eligible_annotators().values_list("pk", flat=True))
    strangers = [user.get_username() for user in annotators if user.pk not in eligible]
    if strangers:
        raise AnnotationError(f"not annotators (staff with the annotate permission): {', '.join(strangers)}")
    if not annotators:
        raise AnnotationError("choose at least one annotator")


def do_assign(queue: Queue, annotators: Sequence[Any]) -> int:
    """Give each item of the queue to more annotators until it has ``overlap``
    of them (or every chosen annotator has it), least-loaded first. Returns
    the number of assignments created; existing ones are kept."""
    check_annotators(annotators)
    with transaction.atomic():
        Queue.objects.select_for_update().filter(pk=queue.pk).first()  # one assigner at a time per queue
        existing = Assignment.objects.filter(item__queue=queue).values_list("item_id", "annotator_id")
        holders: dict[int, set[int]] = {}
        load: Counter[int] = Counter({user.pk: 0 for user in annotators})
        for item_id, user_id in existing:
            holders.setdefault(item_id, set()).add(user_id)
            if user_id in load:
                load[user_id] += 1
        order = {user.pk: user.get_username() for user in annotators}
        new: list[Assignment] = []
        for item_id in queue.items.values_list("pk", flat=True):
            held = holders.setdefault(item_id, set())
            free = sorted((uid for uid in load if uid not in held), key=lambda uid: (load[uid], order[uid]))
            for uid in free[: max(0, queue.overlap - len(held))]:
                new.append(Assignment(item_id=item_id, annotator_id=uid))
                held.add(uid)
                load[uid] += 1
        Assignment.objects.bulk_create(new)
    return len(new)


def do_reopen(assignment: Assignment) -> None:
    """Send a submitted assignment back to its annotator (a reviewer's call)."""
    updated = Assignment.objects.filter(pk=assignment.pk, status=Assignment.Status.SUBMITTED).update(
        status=Assignment.Status.IN_PROGRESS, submitted_at=None
    )
    if not updated:
        raise AnnotationError("only a submitted assignment can be reopened")


# ----- saving an annotator's work --------------------------------------------------------------
@dataclass(frozen=True)
class StepPatch:
    index: int
    labels: frozenset[str]  # the step's complete set of (active) flags
    note: str


@dataclass(frozen=True)
class SavePatch:
    steps: tuple[StepPatch, ...]
    values: dict[str, str | None]  # episode label code -> value (None clears it)
    note: str | None  # the episode note (None: unchanged)
    position: int | None


def check_save(assignment: Assignment, data: Any, taxonomy: Taxonomy) -> SavePatch:
    """Validate a console save: ``{"steps": {"<index>": {"labels": [...], "note": ""}},
    "episode": {"values": {code: value|null}, "note": str}, "position": int}``."""
    if assignment.is_submitted:
        raise AssignmentClosed("this assignment was submitted; it can no longer change")
    if not isinstance(data, dict):
        raise AnnotationError("expected a JSON object")
    n_steps = assignment.item.episode.steps
    steps = _check_steps(data.get("steps") or {}, n_steps, taxonomy.step_codes())
    episode = data.get("episode") or {}
    if not isinstance(episode, dict):
        raise AnnotationError("episode must be an object")
    values = _check_values(episode.get("values") or {}, taxonomy)
    note = episode.get("note")
    if note is not None:
        note = _check_note(note)
    return SavePatch(steps, values, note, _check_position(data.get("position"), n_steps))


def _check_position(position: Any, n_steps: int) -> int | None:
    # bool is an int in Python: {"position": true} must not be read as position 1.
    if position is None:
        return None
    if isinstance(position, bool) or not isinstance(position, int):
        raise AnnotationError(f"position must be a whole number from 0 to {n_steps}")
    if not 0 <= position <= n_steps:
        raise AnnotationError(f"position {position} is out of range (0 to {n_steps})")
    return position


def _check_steps(raw: Any, n_steps: int, codes: frozenset[str]) -> tuple[StepPatch, ...]:
    if not isinstance(raw, dict) or len(raw) > MAX_STEPS_PER_SAVE:
        raise AnnotationError(f"steps must be an object of at most {MAX_STEPS_PER_SAVE} steps")
    patches = []
    for key, value in raw.items():
        index = _step_index(key, n_steps)
        if not isinstance(value, dict):
            raise AnnotationError(f"step {index}: expected an object")
        labels = value.get("labels") or []
        if not isinstance(labels, list) or not all(isinstance(code, str) for code in labels):
            raise AnnotationError(f"step {index}: labels must be a list of label codes")
        unknown = set(labels) - codes
        if unknown:
            raise AnnotationError(f"step {index}: unknown step labels {sorted(unknown)}")
        patches.append(StepPatch(index, frozenset(labels), _check_note(value.get("note") or "")))
    return tuple(sorted(patches, key=lambda p: p.index))


def _step_index(key: Any, n_steps: int) -> int:
    # Digits only: int() would also take " 1", "+1" and "1_0" (step 10).
    if not isinstance(key, str) or not key.isascii() or not key.isdigit():
        raise AnnotationError(f"{str(key)[:20]!r} is not a step index")
    index = int(key)
    if not 0 <= index < n_steps:
        raise AnnotationError(f"step {index} is not in this episode (it has {n_steps} steps)")
    return index


def _check_values(raw: Any, taxonomy: Taxonomy) -> dict[str, str | None]:
    if not isinstance(raw, dict):
        raise AnnotationError("episode values must be an object")
    values: dict[str, str | None] = {}
    for code, value in raw.items():
        label = taxonomy.by_code.get(code)
        if label is None or label.scope != Label.Scope.EPISODE or not label.active:
            raise AnnotationError(f"unknown episode label {str(code)[:48]!r}")
        if value is not None and (not isinstance(value, str) or not label.accepts(value)):
            raise AnnotationError(f"{label.name}: {str(value)[:48]!r} is not one of its values")
        values[code] = value
    return values


def _check_note(note: Any) -> str:
    if not isinstance(note, str):
        raise AnnotationError("a note must be text")
    if len(note) > NOTE_MAX_CHARS:
        raise AnnotationError(f"a note holds at most {NOTE_MAX_CHARS} characters")
    return note


def do_save(assignment: Assignment, patch: SavePatch, taxonomy: Taxonomy) -> None:
    """Apply a patch. Each step in it is replaced whole (its flags and note),
    so re-sending the same patch is harmless."""
    with transaction.atomic():
        locked = Assignment.objects.select_for_update().get(pk=assignment.pk)
        if locked.is_submitted:
            raise AssignmentClosed("this assignment was submitted; it can no longer change")
        _save_steps(locked, patch.steps, taxonomy)
        _save_values(locked, patch.values, taxonomy)
        now = timezone.now()
        fields = {"saved_at": now, "status": Assignment.Status.IN_PROGRESS}
        if patch.note is not None:
            fields["note"] = patch.note
        if patch.position is not None:
            fields["position"] = patch.position
        Assignment.objects.filter(pk=locked.pk).update(**fields)


def _save_steps(assignment: Assignment, steps: Sequence[StepPatch], taxonomy: Taxonomy) -> None:
    if not steps:
        return
    indexes = [p.index for p in steps]
    active = {code: taxonomy.by_code[code].id for code in taxonomy.step_codes()}
    # Inactive labels set earlier stay: the console no longer shows them, so it cannot mean to remove them.
    StepLabel.objects.filter(assignment=assignment, index__in=indexes, label_id__in=active.values()).delete()
    StepLabel.objects.bulk_create(
        StepLabel(assignment=assignment, index=p.index, label_id=active[code]) for p in steps for code in p.labels
    )
    StepNote.objects.filter(assignment=assignment, index__in=indexes).delete()
    StepNote.objects.bulk_create(StepNote(assignment=assignment, index=p.index, text=p.note) for p in steps if p.note)


def _save_values(assignment: Assignment, values: Mapping[str, str | None], taxonomy: Taxonomy) -> None:
    for code, value in values.items():
        label_id = taxonomy.by_code[code].id
        if value is None:
            EpisodeValue.objects.filter(assignment=assignment, label_id=label_id).delete()
        else:
            EpisodeValue.objects.update_or_create(assignment=assignment, label_id=label_id, defaults={"value": value})


def check_submit(assignment: Assignment, taxonomy: Taxonomy) -> None:
    if assignment.is_submitted:
        raise AssignmentClosed("this assignment was already submitted")
    set_codes = set(EpisodeValue.objects.filter(assignment=assignment).values_list("label__code", flat=True))
    required = [label for label in taxonomy.episode if label.active and label.required]
    missing = [label.name for label in required if label.code not in set_codes]
    if missing:
        raise AnnotationError(f"set these episode labels before submitting: {', '.join(missing)}")


def do_submit(assignment: Assignment) -> None:
    now = timezone.now()
    updated = Assignment.objects.filter(pk=assignment.pk).exclude(status=Assignment.Status.SUBMITTED)
    if not updated.update(status=Assignment.Status.SUBMITTED, submitted_at=now, saved_at=now):
        raise AssignmentClosed("this assignment was already submitted")


def my_assignments(user: Any) -> QuerySet[Assignment]:
    return Assignment.objects.filter(annotator=user).select_related("item__episode", "item__queue")


# ----- reviewing -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ReviewPatch:
    steps: dict[tuple[int, str], bool | None]  # (index, label code) -> present, or None: drop the decision
    values: dict[str, str | None]  # episode label code -> value, or None: drop the decision


def check_review(episode: Episode, data: Any, taxonomy: Taxonomy) -> ReviewPatch:
    """Validate ``{"steps": {"<index>": {code: true|false|null}}, "episode": {code: value|null}}``."""
    if not isinstance(data, dict):
        raise AnnotationError("expected a JSON object")
    raw_steps = data.get("steps") or {}
    if not isinstance(raw_steps, dict) or len(raw_steps) > MAX_STEPS_PER_SAVE:
        raise AnnotationError(f"steps must be an object of at most {MAX_STEPS_PER_SAVE} steps")
    steps: dict[tuple[int, str], bool | None] = {}
    codes = taxonomy.step_codes()
    for key, flags in raw_steps.items():
        index = _step_index(key, episode.steps)
        if not isinstance(flags, dict):
            raise AnnotationError(f"step {index}: expected an object of label codes")
        for code, present in flags.items():
            if code not in codes or not (present is None or isinstance(present, bool)):
                raise AnnotationError(f"step {index}: bad decision {str(code)[:48]!r}")
            steps[(index, code)] = present
    return ReviewPatch(steps, _check_values(data.get("episode") or {}, taxonomy))


def do_review(episode: Episode, patch: ReviewPatch, reviewer: Any, taxonomy: Taxonomy) -> None:
    with transaction.atomic():
        for (index, code), present in patch.steps.items():
            label_id = taxonomy.by_code[code].id
            if present is None:
                FinalStepDecision.objects.filter(episode=episode, index=index, label_id=label_id).delete()
            else:
                decision = {"present": present, "decided_by": reviewer}
                FinalStepDecision.objects.update_or_create(
                    episode=episode, index=index, label_id=label_id, defaults=decision
                )
        for code, value in patch.values.items():
            label_id = taxonomy.by_code[code].id
            if value is None:
                FinalEpisodeValue.objects.filter(episode=episode, label_id=label_id).delete()
            else:
                FinalEpisodeValue.objects.update_or_create(
                    episode=episode, label_id=label_id, defaults={"value": value, "decided_by": reviewer}
                )
