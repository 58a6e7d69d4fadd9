from __future__ import annotations

import secrets
from typing import Any

from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.models import User

from balrogweb.ids import IdField
from games.base import TaskInfo
from play.services import NICKNAME_MAX

NICKNAME_WORDS = (
    ("brave", "quiet", "lucky", "clever", "swift", "curious", "patient", "bold", "gentle", "wily"),
    ("gnome", "kobold", "newt", "wizard", "valkyrie", "samurai", "explorer", "crafter", "baba", "keeper"),
)


def suggest_nickname(previous: str = "") -> str:
    """The nickname an anonymous player used last, else a fresh one ("swift-newt-42")."""
    if previous:
        return previous[:NICKNAME_MAX]
    adjectives, nouns = NICKNAME_WORDS
    return f"{secrets.choice(adjectives)}-{secrets.choice(nouns)}-{secrets.randbelow(90) + 10}"


class StartForm(forms.Form):
    """Start (or resume) an episode of one task."""

    SEED_CHOICES = [("random", "A random seed"), ("model", "The same seed as model episode…")]

    # The task is a hidden field (chosen on the home page): its errors say what to do instead.
    task = forms.ChoiceField(
        widget=forms.HiddenInput,
        error_messages={
            "required": "No task was chosen: pick one from the list of games.",
            "invalid_choice": "This game does not offer the task %(value)s (any more): pick one from the games.",
        },
    )
    nickname = forms.CharField(max_length=NICKNAME_MAX, required=False, strip=True)
    seed = forms.ChoiceField(
        choices=SEED_CHOICES,
        initial="random",
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": "Choose a random seed or the seed of a model episode."},
    )
    model_episode = IdField(
        required=False,
        label="Model episode number",
        error_messages={"max_value": "There is no model episode with this number."},
    )

    def __init__(self, *args: Any, tasks: list[TaskInfo], anonymous: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        task_field = self.fields["task"]
        assert isinstance(task_field, forms.ChoiceField)
        task_field.choices = [(info.task, info.title) for info in tasks]
        self.anonymous = anonymous
        if anonymous:
            self.fields["nickname"].required = True
            self.fields["nickname"].help_text = "Shown with your score. Log in for your games to count as baselines."
        else:
            del self.fields["nickname"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("seed") == "model" and not data.get("model_episode"):
            self.add_error("model_episode", "Give the number of the model episode whose seed you want to play.")
        return data

    @property
    def seed_from(self) -> int | None:
        if self.cleaned_data.get("seed") != "model":
            return None
        value = self.cleaned_data.get("model_episode")
        return int(value) if value else None


class SignupForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username",)
