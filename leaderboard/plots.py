"""Charts as inline SVG, drawn on the server (no chart library, works
offline). Every chart has its data in a table beside it (the templates show
it), so the SVG itself is marked decorative with a title for context."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 560, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 34
COLOURS = ("#f0a43c", "#5b8def", "#53c26b", "#e05a5a", "#b58cf0", "#4fc6c6")


@dataclass(frozen=True)
class Bar:
    label: str
    mean: float  # 0..1
    se: float
    series: int = 0  # colour index


@dataclass(frozen=True)
class Series:
    name: str
    points: tuple[tuple[float, float], ...]  # (step, progression 0..1)


def _y(value: float) -> float:
    return TOP + (1 - max(0.0, min(1.0, value))) * (HEIGHT - TOP - BOTTOM)


def _frame(title: str, body: list[str]) -> SafeString:
    grid = []
    for tick in (0, 25, 50, 75, 100):
        y = _y(tick / 100)
        grid.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        grid.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{tick}</text>')
    svg = (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-label="{escape(title)} (data in the table below)"><title>{escape(title)}</title>'
        + "".join(grid + body)
        + "</svg>"
    )
    return mark_safe(svg)


def bar_chart(title: str, bars: list[Bar]) -> SafeString:
    """Bars of mean progression with ± 1 SE error bars, grouped by label."""
    if not bars:
        return _frame(title, [])
    slot = (WIDTH - LEFT - RIGHT) / len(bars)
    body = []
    for i, bar in enumerate(bars):
        x, width = LEFT + i * slot + slot * 0.15, slot * 0.7
        top, colour = _y(bar.mean), COLOURS[bar.series % len(COLOURS)]
        body.append(f'<rect x="{x:.1f}" y="{top:.1f}" width="{width:.1f}" height="{_y(0) - top:.1f}" fill="{colour}"/>')
        centre, low, high = x + width / 2, _y(bar.mean - bar.se), _y(bar.mean + bar.se)
        body.append(f'<line x1="{centre:.1f}" x2="{centre:.1f}" y1="{low:.1f}" y2="{high:.1f}" class="err"/>')
        label = escape(bar.label[:14])
        body.append(f'<text x="{centre:.1f}" y="{HEIGHT - 14}" text-anchor="middle" class="tick">{label}</text>')
    return _frame(title, body)


def line_chart(title: str, series: list[Series]) -> SafeString:
    """Progression against step, one polyline per series, shared axes."""
    last = max((x for s in series for x, _ in s.points), default=0.0) or 1.0
    span = WIDTH - LEFT - RIGHT
    body = []
    for i, line in enumerate(series):
        points = " ".join(f"{LEFT + x / last * span:.1f},{_y(y):.1f}" for x, y in line.points)
        colour = COLOURS[i % len(COLOURS)]
        body.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        body.append(
            f'<text x="{WIDTH - RIGHT}" y="{TOP + 12 + 14 * i}" text-anchor="end" fill="{colour}" class="tick">'
        )
        body.append(f"{escape(line.name)}</text>")
    body.append(f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 14}" text-anchor="end" class="tick">step {last:.0f}</text>')
    body.append(f'<text x="{LEFT}" y="{HEIGHT - 14}" class="tick">step 0</text>')
    return _frame(title, body)
