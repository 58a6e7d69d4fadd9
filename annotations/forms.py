"""Forms of the reviewer pages: building a queue, assigning it, exporting."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model

from annotations.filters import OUTCOMES, EpisodeFilter
from annotations.services import MAX_QUEUE_ITEMS, QUEUE_ORDERS, QueueSpec, eligible_annotators
from balrogweb.ids import IdField
from games.models import Episode
from games.registry import ENVS


class EpisodeFilterForm(forms.Form):
    env = forms.ChoiceField(choices=[("", "any game"), *((e, e) for e in ENVS)], required=False)
    task = forms.CharField(
        max_length=128, required=False, help_text="exact task name, e.g. BabyAI-MixedTrainLocal-v0/goto"
    )
    player_kind = forms.ChoiceField(
        label="Player", choices=[("", "anyone"), *Episode.PlayerKind.choices], required=False
    )
    model = forms.CharField(max_length=128, required=False, help_text="the evaluation run's model name contains")
    agent = forms.CharField(max_length=128, required=False, help_text="the episode's agent contains")
    run = IdField(label="Evaluation run id", required=False)
    outcome = forms.ChoiceField(choices=list(OUTCOMES.items()), required=False)

    def episode_filter(self, **extra: Any) -> EpisodeFilter:
        return EpisodeFilter.from_mapping({**self.cleaned_data, **extra})


class QueueForm(EpisodeFilterForm):
    name = forms.CharField(max_length=128)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    unlabelled = forms.BooleanField(label="Not yet labelled (in no queue)", required=False, initial=True)
    order = forms.ChoiceField(choices=[(k, k) for k in QUEUE_ORDERS], initial="oldest")
    limit = forms.IntegerField(label="At most", min_value=1, max_value=MAX_QUEUE_ITEMS, initial=50)
    overlap = forms.IntegerField(label="Annotators per episode", min_value=1, max_value=20, initial=2)

    field_order = ["name", "description", "env", "task", "player_kind", "model", "agent", "run", "outcome"]

    def spec(self) -> QueueSpec:
        data = self.cleaned_data
        return QueueSpec(
            name=data["name"],
            description=data["description"],
            filter=self.episode_filter(),
            overlap=data["overlap"],
            limit=data["limit"],
            order=data["order"],
        )


class AssignForm(forms.Form):
    annotators: forms.ModelMultipleChoiceField[Any] = forms.ModelMultipleChoiceField(
        queryset=get_user_model().objects.none(), widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["annotators"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        field.queryset = eligible_annotators()  # read per form: group membership changes


class ExportForm(EpisodeFilterForm):
    queue = IdField(required=False, help_text="only episodes of this queue")
    labelled = forms.BooleanField(label="Only episodes with submitted work", required=False, initial=True)
