"""Submitted work per episode, its consensus, and the final labels.

The final value of a label on an episode (or a step) is, in order:

1. the reviewer's decision, when there is one;
2. otherwise the annotators' answer when it is unanimous, once the episode's
   work is complete (at least one submitted assignment and none pending —
   with one annotator, their answer stands);
3. otherwise nothing: the label is disputed (or still being worked on).

A step flag nobody set on a complete episode is a unanimous "no". An
annotator who worked on the episode in several queues counts once, with
their latest submission.

``final_episode_labels`` and ``final_step_labels`` are what the leaderboard
reads.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from django.db.models import QuerySet

from annotations.models import Assignment, EpisodeValue, FinalEpisodeValue, FinalStepDecision, StepLabel, StepNote

Source = Literal["reviewer", "agreement"]


@dataclass
class CoderWork:
    """One annotator's submitted (or draft) work on one episode."""

    assignment_id: int
    annotator_id: int
    annotator: str
    item_id: int
    episode_id: int
    submitted_at: datetime | None
    note: str = ""
    steps: dict[int, set[str]] = field(default_factory=dict)  # index -> flagged label codes
    notes: dict[int, str] = field(default_factory=dict)  # index -> note
    values: dict[str, str] = field(default_factory=dict)  # episode label code -> value


@dataclass
class EpisodeWork:
    episode_id: int
    coders: list[CoderWork] = field(default_factory=list)  # submitted, one per annotator
    pending: int = 0  # assignments not yet submitted

    @property
    def complete(self) -> bool:
        return bool(self.coders) and self.pending == 0


@dataclass(frozen=True)
class FinalLabel:
    value: str  # an option code, or a rating as text ("4")
    source: Source
    annotators: int  # submitted annotators behind it


def load_work(assignments: QuerySet[Assignment], with_steps: bool = True) -> list[CoderWork]:
    """The work of these assignments: episode values and notes, and (with_steps)
    step labels and notes. Four queries at most."""
    rows = list(assignments.select_related("annotator", "item"))
    works = {a.pk: _coder(a) for a in rows}
    if with_steps:
        _load_steps(works)
    for assignment_id, code, value in EpisodeValue.objects.filter(assignment_id__in=works).values_list(
        "assignment_id", "label__code", "value"
    ):
        works[assignment_id].values[code] = value
    return list(works.values())


def _load_steps(works: dict[int, CoderWork]) -> None:
    labels = StepLabel.objects.filter(assignment_id__in=works)
    for assignment_id, index, code in labels.values_list("assignment_id", "index", "label__code"):
        works[assignment_id].steps.setdefault(index, set()).add(code)
    notes = StepNote.objects.filter(assignment_id__in=works)
    for assignment_id, index, text in notes.values_list("assignment_id", "index", "text"):
        works[assignment_id].notes[index] = text


def _coder(assignment: Assignment) -> CoderWork:
    return CoderWork(
        assignment_id=assignment.pk,
        annotator_id=assignment.annotator_id,
        annotator=assignment.annotator.get_username(),
        item_id=assignment.item_id,
        episode_id=assignment.item.episode_id,
        submitted_at=assignment.submitted_at,
        note=assignment.note,
    )


def episode_work(episode_ids: Iterable[int], with_steps: bool = True) -> dict[int, EpisodeWork]:
    """Submitted work per episode (latest per annotator) and pending counts."""
    ids = list(episode_ids)
    result = {eid: EpisodeWork(eid) for eid in ids}
    assignments = Assignment.objects.filter(item__episode_id__in=ids)
    for eid in assignments.exclude(status=Assignment.Status.SUBMITTED).values_list("item__episode_id", flat=True):
        result[eid].pending += 1
    latest: dict[tuple[int, int], CoderWork] = {}
    submitted = assignments.filter(status=Assignment.Status.SUBMITTED).order_by("submitted_at", "pk")
    for work in load_work(submitted, with_steps):
        latest[(work.episode_id, work.annotator_id)] = work  # later submissions replace earlier ones
    for work in sorted(latest.values(), key=lambda w: (w.annotator, w.assignment_id)):
        result[work.episode_id].coders.append(work)
    return result


# ----- consensus -----------------------------------------------------------------------------
def episode_consensus(work: EpisodeWork, code: str) -> str | None:
    """The unanimous value of an episode label on complete work, else None."""
    if not work.complete:
        return None
    values = {coder.values.get(code) for coder in work.coders}
    return next(iter(values)) if len(values) == 1 else None


def step_flag_counts(work: EpisodeWork) -> dict[int, dict[str, int]]:
    """index -> label code -> how many submitted annotators flagged it."""
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for coder in work.coders:
        for index, codes in coder.steps.items():
            for code in codes:
                counts[index][code] += 1
    return counts


def disputed_episode_labels(work: EpisodeWork, codes: Iterable[str]) -> list[str]:
    if len(work.coders) < 2:
        return []
    return [code for code in codes if len({coder.values.get(code) for coder in work.coders}) > 1]


def disputed_steps(work: EpisodeWork) -> dict[int, list[str]]:
    """index -> label codes some but not all submitted annotators flagged."""
    m = len(work.coders)
    disputed: dict[int, list[str]] = {}
    for index, counts in step_flag_counts(work).items():
        codes = sorted(code for code, n in counts.items() if 0 < n < m)
        if codes:
            disputed[index] = codes
    return dict(sorted(disputed.items()))


# ----- final labels (what the leaderboard uses) ------------------------------------------------------
def final_episode_labels(episode_ids: Iterable[int]) -> dict[int, dict[str, FinalLabel]]:
    """episode id -> episode label code -> its final value. Undecided labels are absent."""
    ids = list(episode_ids)
    works = episode_work(ids, with_steps=False)
    result: dict[int, dict[str, FinalLabel]] = {eid: {} for eid in ids}
    for eid, work in works.items():
        codes = {code for coder in work.coders for code in coder.values}
        for code in sorted(codes):
            value = episode_consensus(work, code)
            if value is not None:
                result[eid][code] = FinalLabel(value, "agreement", len(work.coders))
    decisions = FinalEpisodeValue.objects.filter(episode_id__in=ids).values_list("episode_id", "label__code", "value")
    for eid, code, value in decisions:
        result[eid][code] = FinalLabel(value, "reviewer", len(works[eid].coders))
    return result


def final_step_labels(episode_ids: Iterable[int]) -> dict[int, dict[int, list[str]]]:
    """episode id -> step index -> the label codes finally present on that step
    (sorted; steps without any are absent)."""
    ids = list(episode_ids)
    present: dict[int, dict[int, set[str]]] = {eid: defaultdict(set) for eid in ids}
    for eid, work in episode_work(ids).items():
        if not work.complete:
            continue
        m = len(work.coders)
        for index, counts in step_flag_counts(work).items():
            present[eid][index].update(code for code, n in counts.items() if n == m)
    decisions = FinalStepDecision.objects.filter(episode_id__in=ids)
    for eid, index, code, flag in decisions.values_list("episode_id", "index", "label__code", "present"):
        if flag:
            present[eid][index].add(code)
        else:
            present[eid][index].discard(code)
    return {
        eid: {index: sorted(codes) for index, codes in sorted(steps.items()) if codes} for eid, steps in present.items()
    }
