from __future__ import annotations

from typing import Any

from django import forms

from agents.config import STRATEGIES, AgentConfig, AgentConfigError
from agents.evaluation import RunRequest
from agents.models import ModelEndpoint
from games.registry import DEFAULT_PROTOCOL, ENVS, PROTOCOLS


class NewRunForm(forms.Form):
    """An evaluation run (or, with one task and one episode, a single model episode to watch)."""

    endpoint = forms.ModelChoiceField(queryset=ModelEndpoint.objects.order_by("name"))
    strategy = forms.ChoiceField(choices=[(s, s) for s in STRATEGIES], initial="naive")
    protocol = forms.ChoiceField(
        choices=[(p, p) for p in PROTOCOLS],
        initial=DEFAULT_PROTOCOL,
        required=False,
        help_text="balrog: the reference evaluator's prompts, texts and parsing (comparable with BALROG's "
        "results); balrogweb: this project's earlier prompts and texts",
    )
    envs = forms.MultipleChoiceField(choices=[(env, env) for env in ENVS], widget=forms.CheckboxSelectMultiple)
    tasks = forms.CharField(
        required=False,
        help_text="only these tasks, one per line (blank: every task)",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    episodes_per_task = forms.IntegerField(
        min_value=1, max_value=1000, required=False, help_text="blank: BALROG's count for each env"
    )
    seed_base = forms.IntegerField(initial=0, help_text="episode i of a task plays seed SEED_BASE + i")
    max_text_history = forms.IntegerField(min_value=1, max_value=1000, initial=16)
    max_image_history = forms.IntegerField(min_value=0, max_value=1000, initial=0)
    max_cot_history = forms.IntegerField(min_value=0, max_value=1000, initial=1)
    feedback_on_invalid = forms.BooleanField(required=False, initial=True)
    name = forms.CharField(max_length=128, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            self.agent_config = AgentConfig(
                strategy=data.get("strategy", "naive"),
                max_text_history=data.get("max_text_history") or 16,
                max_image_history=data.get("max_image_history") or 0,
                max_cot_history=data.get("max_cot_history") or 0,
                feedback_on_invalid=bool(data.get("feedback_on_invalid")),
            )
        except AgentConfigError as exc:
            raise forms.ValidationError(str(exc)) from None
        return data

    def request(self, user: Any) -> RunRequest:
        data = self.cleaned_data
        return RunRequest(
            endpoint=data["endpoint"],
            config=self.agent_config,
            envs=tuple(data["envs"]),
            tasks=tuple(line.strip() for line in data.get("tasks", "").splitlines() if line.strip()),
            episodes_per_task=data.get("episodes_per_task"),
            seed_base=data.get("seed_base") or 0,
            name=data.get("name", ""),
            user=user,
            protocol=data.get("protocol") or DEFAULT_PROTOCOL,
        )
