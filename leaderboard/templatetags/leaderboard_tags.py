from __future__ import annotations

from django import template

from agents.aggregation import Stat
from leaderboard.stats import TOO_FEW, Interval

register = template.Library()


@register.filter
def pm(stat: Stat | None) -> str:
    """A cell as BALROG shows it: mean ± SE, percent, one decimal."""
    if stat is None or stat.n == 0:
        return "–"
    return f"{100 * stat.mean:.1f} ± {100 * stat.se:.1f}"


@register.filter
def interval_text(interval: Interval | None) -> str:
    """An interval never shows zero-width: below the minimum data there is none."""
    if interval is None:
        return TOO_FEW
    return f"95% interval {100 * interval.low:.1f}–{100 * interval.high:.1f}"


@register.filter
def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"


@register.filter
def sort_num(stat: Stat | None) -> str:
    """data-value for the client-side sort ('' sorts last)."""
    return "" if stat is None or stat.n == 0 else f"{stat.mean:.6f}"
