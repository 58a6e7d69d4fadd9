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


@register.filter
def interval_of(intervals: dict[str, Interval | None], key: str) -> str:
    """A game's or a task's interval from detail.game_intervals, as text."""
    return interval_range(intervals.get(key))


@register.filter
def interval_range(interval: Interval | None) -> str:
    return "too few episodes" if interval is None else f"{100 * interval.low:.1f}–{100 * interval.high:.1f}"
