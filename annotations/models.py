"""Annotations: staff explain, step by step, why models (and people) fail.

- The taxonomy (``Label``, ``LabelOption``) is data, edited in the admin:
  step labels are flags an annotator toggles on a step; episode labels are a
  choice among options or a rating.
- A ``Queue`` is a filtered set of episodes (``QueueItem``); each item is
  given to ``overlap`` annotators as ``Assignment`` rows. An assignment holds
  its annotator's work: ``StepLabel`` flags, ``StepNote`` texts,
  ``EpisodeValue`` choices and an episode note. Work is private to its
  annotator until submitted; only submitted work enters agreement figures,
  reviews and final labels.
- Final labels live per episode: a reviewer's decisions
  (``FinalEpisodeValue``, ``FinalStepDecision``) override the annotators'
  unanimous answer (computed in ``annotations.finals``).

Permissions (granted through the groups "annotators" and "reviewers", see the
migrations): ``annotations.annotate`` and ``annotations.review``; both also
require ``is_staff``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from games.models import Episode

# Keys the console keeps for itself; a label's hotkey must be none of these.
RESERVED_HOTKEYS = frozenset("jknpcC?/. 0123456789")
NOTE_MAX_CHARS = 10_000


def validate_hotkey(value: str) -> None:
    if value and (len(value) != 1 or not value.isprintable() or value in RESERVED_HOTKEYS):
        raise ValidationError(
            f"{value!r} cannot be a hotkey: use one printable character other than digits, space and "
            f"the console's own keys ({' '.join(sorted(RESERVED_HOTKEYS - set('0123456789 ')))})"
        )


class Label(models.Model):
    class Scope(models.TextChoices):
        STEP = "step", "per step"
        EPISODE = "episode", "per episode"

    class Kind(models.TextChoices):
        FLAG = "flag", "flag (present or not)"
        CHOICE = "choice", "one option"
        RATING = "rating", "rating"

    code = models.SlugField(max_length=48, unique=True, help_text="stable identifier used in exports")
    name = models.CharField(max_length=80)
    description = models.TextField(help_text="when to apply it; shown to annotators")
    scope = models.CharField(max_length=8, choices=Scope.choices)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    hotkey = models.CharField(
        max_length=1, blank=True, default="", validators=[validate_hotkey], help_text="one key; case-sensitive"
    )
    order = models.PositiveSmallIntegerField(default=0, help_text="position; step labels also get number keys 1-9")
    active = models.BooleanField(default=True, help_text="inactive labels are hidden from new work")
    required = models.BooleanField(default=False, help_text="episode labels: must be set before submitting")
    rating_min = models.PositiveSmallIntegerField(default=1)
    rating_max = models.PositiveSmallIntegerField(default=5)

    class Meta:
        ordering = ["scope", "order", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["hotkey"], condition=~models.Q(hotkey=""), name="unique_label_hotkey"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_scope_display()})"

    def clean(self) -> None:
        if self.scope == self.Scope.STEP and self.kind != self.Kind.FLAG:
            raise ValidationError({"kind": "step labels are flags"})
        if self.scope == self.Scope.EPISODE and self.kind == self.Kind.FLAG:
            raise ValidationError({"kind": "episode labels are a choice or a rating"})
        if self.kind == self.Kind.RATING and not self.rating_min < self.rating_max <= self.rating_min + 9:
            raise ValidationError({"rating_max": "a rating needs 2 to 10 values (number keys pick them)"})

    def rating_values(self) -> list[str]:
        return [str(v) for v in range(self.rating_min, self.rating_max + 1)]


class LabelOption(models.Model):
    label = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="options")
    code = models.SlugField(max_length=48)
    name = models.CharField(max_length=80)
    description = models.TextField(blank=True, default="")
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["label_id", "order", "pk"]
        constraints = [models.UniqueConstraint(fields=["label", "code"], name="unique_option_code")]

    def __str__(self) -> str:
        return f"{self.label.code}: {self.name}"


class Queue(models.Model):
    name = models.CharField(max_length=128)
    description = models.TextField(blank=True, default="")
    filters = models.JSONField(default=dict, blank=True)  # the EpisodeFilter it was built from
    overlap = models.PositiveSmallIntegerField(
        default=2, validators=[MinValueValidator(1), MaxValueValidator(20)], help_text="annotators per episode"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        permissions = [
            ("annotate", "Can annotate episodes (own assignments)"),
            ("review", "Can build queues, assign, review and export annotations"),
        ]

    def __str__(self) -> str:
        return f"queue {self.pk}: {self.name}"


class QueueItem(models.Model):
    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="items")
    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="annotation_items")
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["queue_id", "position"]
        constraints = [models.UniqueConstraint(fields=["queue", "episode"], name="unique_queue_episode")]

    def __str__(self) -> str:
        return f"queue {self.queue_id} item {self.position}: episode {self.episode_id}"


class Assignment(models.Model):
    class Status(models.TextChoices):
        ASSIGNED = "assigned"
        IN_PROGRESS = "in_progress", "in progress"
        SUBMITTED = "submitted"

    item = models.ForeignKey(QueueItem, on_delete=models.CASCADE, related_name="assignments")
    # PROTECT: an annotator's work is data; deactivate the account instead of deleting it.
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="annotations")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ASSIGNED)
    note = models.TextField(blank=True, default="")  # the episode note
    position = models.PositiveIntegerField(default=0)  # the step the annotator was on (resume there)
    created_at = models.DateTimeField(auto_now_add=True)
    saved_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["item__queue_id", "item__position", "annotator_id"]
        constraints = [models.UniqueConstraint(fields=["item", "annotator"], name="unique_item_annotator")]
        indexes = [models.Index(fields=["annotator", "status"])]

    def __str__(self) -> str:
        return f"assignment {self.pk}: {self.annotator} on episode {self.item.episode_id}"

    @property
    def is_submitted(self) -> bool:
        return self.status == self.Status.SUBMITTED


class StepLabel(models.Model):
    """A step flag set by an annotator (its absence on a submitted assignment means "no")."""

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="step_labels")
    index = models.PositiveIntegerField()  # Step.index
    label = models.ForeignKey(Label, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["assignment", "index", "label"], name="unique_step_label")]

    def __str__(self) -> str:
        return f"assignment {self.assignment_id} step {self.index}: label {self.label_id}"


class StepNote(models.Model):
    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="step_notes")
    index = models.PositiveIntegerField()
    text = models.TextField(max_length=NOTE_MAX_CHARS)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["assignment", "index"], name="unique_step_note")]

    def __str__(self) -> str:
        return f"assignment {self.assignment_id} step {self.index}: note"


class EpisodeValue(models.Model):
    """An episode label's value by one annotator: an option code or a rating."""

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="episode_values")
    label = models.ForeignKey(Label, on_delete=models.PROTECT, related_name="+")
    value = models.CharField(max_length=48)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["assignment", "label"], name="unique_episode_value")]

    def __str__(self) -> str:
        return f"assignment {self.assignment_id}: label {self.label_id} = {self.value}"


class FinalEpisodeValue(models.Model):
    """A reviewer's decision on an episode label (overrides the annotators)."""

    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="final_label_values")
    label = models.ForeignKey(Label, on_delete=models.PROTECT, related_name="+")
    value = models.CharField(max_length=48)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["episode", "label"], name="unique_final_episode_value")]

    def __str__(self) -> str:
        return f"episode {self.episode_id}: label {self.label_id} = {self.value} (final)"


class FinalStepDecision(models.Model):
    """A reviewer's decision on one step flag: present or not (overrides the annotators)."""

    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="final_step_decisions")
    index = models.PositiveIntegerField()
    label = models.ForeignKey(Label, on_delete=models.PROTECT, related_name="+")
    present = models.BooleanField()
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["episode", "index", "label"], name="unique_final_step_decision")
        ]

    def __str__(self) -> str:
        return f"episode {self.episode_id} step {self.index}: label {self.label_id} {'yes' if self.present else 'no'}"
