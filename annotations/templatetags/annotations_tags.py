from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def figure(value: float | None) -> str:
    """An agreement figure with three decimals; "n/a" when undefined."""
    return "n/a" if value is None else f"{value:.3f}"
