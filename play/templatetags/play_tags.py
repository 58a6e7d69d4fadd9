from __future__ import annotations

from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse

register = template.Library()

# URL names a leaderboard app may register; the first that resolves is linked.
LEADERBOARD_URL_NAMES = ("leaderboard", "leaderboard:index", "leaderboard:home")

KEY_NAMES = {
    " ": "Space",
    "ArrowUp": "↑",
    "ArrowDown": "↓",
    "ArrowLeft": "←",
    "ArrowRight": "→",
    "Escape": "Esc",
    "Enter": "Enter",
}


@register.simple_tag
def leaderboard_url() -> str:
    """The leaderboard's URL, or '' while no leaderboard exists."""
    for name in LEADERBOARD_URL_NAMES:
        url = optional_url(name)
        if url:
            return url
    return ""


@register.simple_tag
def optional_url(name: str) -> str:
    """The URL of a named page, or '' when no app provides it (yet)."""
    try:
        return reverse(name)
    except NoReverseMatch:
        return ""


@register.filter
def percent(value: float | None) -> str:
    """BALROG's progression (0..1) as shown: x100, one decimal."""
    if value is None:
        return "–"
    return f"{float(value) * 100:.1f}"


@register.filter
def key_name(key: str) -> str:
    return KEY_NAMES.get(key, key)


@register.filter
def ending(episode: Any) -> str:
    """An episode's status with its end reason when that says more ("finished (won)"),
    never twice the same word ("abandoned", not "abandoned (abandoned)")."""
    status, reason = str(episode.status), str(episode.end_reason or "")
    return f"{status} ({reason})" if reason and reason != status else status
