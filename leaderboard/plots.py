"""Charts as inline SVG, drawn on the server (no chart library, works
offline). Every chart has its data in a table beside it (the templates show
it), so the SVG itself is marked decorative with a title for context."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 560, 240
LEFT, RIGHT, TOP, BOTTOM = 58, 12, 30, 34
Y_LABEL = "progression (%)"
COLOURS = ("#f0a43c", "#5b8def", "#53c26b", "#e05a5a", "#b58cf0", "#4fc6c6")


@dataclass(frozen=True)
class Bar:
    label: str
    mean: float  # 0..1
    se: float
    series: int = 0  # colour index


@dataclass(frozen=True)
class Whisker:
    """One entry's overall: its mean and its 95% interval (None: too few episodes)."""

    label: str
    mean: float  # 0..1
    low: float | None
    high: float | None
    series: int = 0


@dataclass(frozen=True)
class Series:
    name: str
    points: tuple[tuple[float, float], ...]  # (step, progression 0..1)


def _y(value: float) -> float:
    return TOP + (1 - max(0.0, min(1.0, value))) * (HEIGHT - TOP - BOTTOM)


def _frame(title: str, body: list[str], legend: list[tuple[str, int]] | None = None) -> SafeString:
    grid = []
    for tick in (0, 25, 50, 75, 100):
        y = _y(tick / 100)
        grid.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        grid.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{tick}</text>')
    middle = (TOP + HEIGHT - BOTTOM) / 2
    grid.append(
        f'<text x="14" y="{middle:.1f}" transform="rotate(-90 14 {middle:.1f})" text-anchor="middle" class="tick">'
        f"{Y_LABEL}</text>"
    )
    return _svg(title, WIDTH, HEIGHT, grid + body + _legend(legend or []))


def _svg(title: str, width: int, height: int, body: list[str]) -> SafeString:
    svg = (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)} (data in the table below)"><title>{escape(title)}</title>'
        + "".join(body)
        + "</svg>"
    )
    return mark_safe(svg)


def _legend(items: list[tuple[str, int]]) -> list[str]:
    """Colour swatches and names in a row along the top."""
    body, x = [], float(LEFT)
    for name, series in items:
        colour = COLOURS[series % len(COLOURS)]
        body.append(f'<rect x="{x:.1f}" y="8" width="12" height="12" fill="{colour}"/>')
        body.append(f'<text x="{x + 16:.1f}" y="18" class="tick legend">{escape(name[:40])}</text>')
        x += 30 + 7 * min(len(name), 40)
    return body


def bar_chart(title: str, bars: list[Bar], legend: list[tuple[str, int]] | None = None) -> SafeString:
    """Bars of mean progression with ± 1 SE error bars, grouped by label (a bar
    with an empty label continues the group before it)."""
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
        if bar.label:
            group = 1 + next((n for n, later in enumerate(bars[i + 1 :]) if later.label), len(bars) - i - 1)
            middle = LEFT + (i + group / 2) * slot
            label = escape(bar.label[:16])
            body.append(f'<text x="{middle:.1f}" y="{HEIGHT - 14}" text-anchor="middle" class="tick">{label}</text>')
    return _frame(title, body, legend)


def _segment(x1: float, y1: float, x2: float, y2: float) -> str:
    return f'<line x1="{x1:.1f}" x2="{x2:.1f}" y1="{y1:.1f}" y2="{y2:.1f}" class="err"/>'


def interval_chart(title: str, rows: list[Whisker]) -> SafeString:
    """Each entry's overall as a dot with its 95% interval as a whisker, one line per entry,
    on a 0-100 axis."""
    row_height, left, top = 22, 190, 34
    height = top + row_height * len(rows) + 30
    span = WIDTH + 160 - left - RIGHT

    def x_of(value: float) -> float:
        return left + max(0.0, min(1.0, value)) * span

    body = []
    for tick in (0, 25, 50, 75, 100):
        x = x_of(tick / 100)
        body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 6}" y2="{height - 26}" class="grid"/>')
        body.append(f'<text x="{x:.1f}" y="{height - 12}" text-anchor="middle" class="tick">{tick}</text>')
    body.append(f'<text x="{left - 8}" y="{height - 12}" text-anchor="end" class="tick">overall {Y_LABEL}</text>')
    for i, row in enumerate(rows):
        y, colour = top + row_height * i + row_height / 2, COLOURS[row.series % len(COLOURS)]
        label = escape(row.label[:30])
        body.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" class="tick">{label}</text>')
        if row.low is not None and row.high is not None:
            body.append(_segment(x_of(row.low), y, x_of(row.high), y))
            body += [_segment(x_of(end), y - 5, x_of(end), y + 5) for end in (row.low, row.high)]
        body.append(f'<circle cx="{x_of(row.mean):.1f}" cy="{y:.1f}" r="5" fill="{colour}"/>')
    body.append(f'<circle cx="{left}" cy="14" r="5" fill="{COLOURS[0]}"/>')
    body.append(f'<text x="{left + 10}" y="18" class="tick legend">model (mean)</text>')
    body.append(f'<circle cx="{left + 120}" cy="14" r="5" fill="{COLOURS[1]}"/>')
    body.append(f'<text x="{left + 130}" y="18" class="tick legend">human (mean)</text>')
    body.append(f'<line x1="{left + 240}" x2="{left + 270}" y1="14" y2="14" class="err"/>')
    body.append(f'<text x="{left + 276}" y="18" class="tick legend">95% interval</text>')
    return _svg(title, WIDTH + 160, height, body)


def line_chart(title: str, series: list[Series]) -> SafeString:
    """Progression against step, one polyline per series, shared axes."""
    last = max((x for s in series for x, _ in s.points), default=0.0) or 1.0
    span = WIDTH - LEFT - RIGHT
    body = []
    for i, line in enumerate(series):
        points = " ".join(f"{LEFT + x / last * span:.1f},{_y(y):.1f}" for x, y in line.points)
        colour = COLOURS[i % len(COLOURS)]
        body.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
    body.append(f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 14}" text-anchor="end" class="tick">step {last:.0f}</text>')
    body.append(f'<text x="{LEFT}" y="{HEIGHT - 14}" class="tick">step 0</text>')
    body.append(f'<text x="{(LEFT + WIDTH) / 2:.0f}" y="{HEIGHT - 2}" text-anchor="middle" class="tick">steps</text>')
    return _frame(title, body, [(line.name, i) for i, line in enumerate(series)])
