from __future__ import annotations

from typing import Any

from django import template

from agents.aggregation import Stat, Summary
from leaderboard.stats import TOO_FEW, Interval

register = template.Library()


@register.filter
def pm(stat: Stat | None) -> str:
    """A cell as BALROG shows it: mean ± SE, percent, one decimal (one episode has no SE to show)."""
    if stat is None or stat.n == 0:
        return "–"
    if stat.n == 1:
        return f"{100 * stat.mean:.1f}"
    return f"{100 * stat.mean:.1f} ± {100 * stat.se:.1f}"


@register.filter
def overall_pm(summary: Summary) -> str:
    """The overall (its n counts games, not episodes): no ± while a game has a single
    episode, whose standard error is not defined (BALROG's 0 would read as certainty)."""
    overall = summary.overall
    if overall.n == 0:
        return "–"
    if any(env.stat.n < 2 for env in summary.envs.values()):
        return f"{100 * overall.mean:.1f}"
    return f"{100 * overall.mean:.1f} ± {100 * overall.se:.1f}"


@register.filter
def game_name(env: str) -> str:
    """A game's display name ("BabyAI", "NetHack"), not its key."""
    from games.catalogue import game_title

    return game_title(env)


@register.filter
def task_name(task: str, env: str) -> str:
    """A task's display name, its key when the game does not know it."""
    from games.registry import task_info

    try:
        return task_info(env, task).title or task
    except Exception:  # a task this server's games no longer list (imported results)
        return task


@register.filter
def apart_short(entry: Any) -> str:
    """Why an entry is not ranked, in a few words (the full list of what is short is the
    title; the Coverage column has the count)."""
    coverage = entry.coverage
    if coverage is not None and not coverage.complete and entry.apart == coverage.text():
        return f"not ranked: incomplete coverage ({coverage.envs}/6 games complete)"
    return f"not ranked: {entry.apart}"


@register.filter
def coverage_text(entry: Any) -> str:
    coverage = entry.coverage
    if coverage is None:
        return "–"
    return f"{coverage.tasks}/{coverage.total_tasks}"


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
