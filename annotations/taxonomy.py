"""The taxonomy as the console and the services use it (read from the database)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from annotations.models import Label


@dataclass(frozen=True)
class LabelView:
    id: int
    code: str
    name: str
    description: str
    scope: str
    kind: str
    hotkey: str
    required: bool
    active: bool
    values: tuple[tuple[str, str], ...] = ()  # (value, name) of a choice or a rating

    def accepts(self, value: str) -> bool:
        return any(value == v for v, _ in self.values)

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "description": self.description,
            "kind": self.kind,
            "hotkey": self.hotkey,
            "required": self.required,
            "values": [{"value": v, "name": n} for v, n in self.values],
        }


@dataclass(frozen=True)
class Taxonomy:
    step: tuple[LabelView, ...]
    episode: tuple[LabelView, ...]
    by_code: dict[str, LabelView] = field(default_factory=dict)

    def step_codes(self) -> frozenset[str]:
        return frozenset(label.code for label in self.step if label.active)

    def to_json(self) -> dict[str, Any]:
        return {
            "step": [label.to_json() for label in self.step if label.active],
            "episode": [label.to_json() for label in self.episode if label.active],
        }


def load_taxonomy() -> Taxonomy:
    """Every label (inactive ones too: old work may use them), in display order."""
    views = [_view(label) for label in Label.objects.prefetch_related("options")]
    step = tuple(v for v in views if v.scope == Label.Scope.STEP)
    episode = tuple(v for v in views if v.scope == Label.Scope.EPISODE)
    return Taxonomy(step, episode, {v.code: v for v in views})


def _view(label: Label) -> LabelView:
    if label.kind == Label.Kind.RATING:
        values = tuple((v, v) for v in label.rating_values())
    else:
        values = tuple((option.code, option.name) for option in label.options.all())
    return LabelView(
        id=label.pk,
        code=label.code,
        name=label.name,
        description=label.description,
        scope=label.scope,
        kind=label.kind,
        hotkey=label.hotkey,
        required=label.required,
        active=label.active,
        values=values,
    )
