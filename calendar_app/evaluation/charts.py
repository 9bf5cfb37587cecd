"""Charts as SVG made on the server: no script, so they work under the strict CSP, in print and
in the PDF. Each chart is an image with a title for screen readers; the page puts the same
figures in a table right behind it (the chart is `aria-hidden` to avoid reading them twice)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

COLOURS = ("#1c7ed6", "#2f9e44", "#e67700", "#c92a2a")
WIDTH, HEIGHT = 640, 220
LEFT, BOTTOM, TOP = 40, 40, 12


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10.0 * magnitude


def bar_chart(title: str, categories: Sequence[str], series: Sequence[Series]) -> Markup:
    """Grouped vertical bars: one group per category, one bar per series, with a legend."""
    top_value = _nice_max(max((v for s in series for v in s.values), default=0))
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    group = plot_w / max(1, len(categories))
    bar = max(2.0, group * 0.8 / max(1, len(series)))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'class="chart" role="img" aria-hidden="true" focusable="false">'
        f"<title>{escape(title)}</title>"
    ]
    for fraction in (0, 0.5, 1):
        y = TOP + plot_h * (1 - fraction)
        label = f"{top_value * fraction:g}"
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ced4da"/>'
            f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10">{label}</text>'
        )
    label_every = max(1, len(categories) // 12)
    for index, category in enumerate(categories):
        x0 = LEFT + index * group + group * 0.1
        for number, one in enumerate(series):
            value = one.values[index] if index < len(one.values) else 0
            height = plot_h * (value / top_value)
            parts.append(
                f'<rect x="{x0 + number * bar:.1f}" y="{TOP + plot_h - height:.1f}" '
                f'width="{bar - 1:.1f}" height="{height:.1f}" '
                f'fill="{COLOURS[number % len(COLOURS)]}"/>'
            )
        if index % label_every == 0:
            parts.append(
                f'<text x="{x0 + group * 0.4:.1f}" y="{HEIGHT - BOTTOM + 14}" '
                f'text-anchor="middle" font-size="10">{escape(category)}</text>'
            )
    x = LEFT
    for number, one in enumerate(series):
        colour = COLOURS[number % len(COLOURS)]
        parts.append(
            f'<rect x="{x}" y="{HEIGHT - 16}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{HEIGHT - 7}" font-size="11">{escape(one.name)}</text>'
        )
        x += 24 + 7 * len(one.name)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text in it is escaped above


def progress_chart(title: str, rows: Sequence[tuple[str, float | None]]) -> Markup:
    """One horizontal bar per row: the share of its target reached (None: not measured)."""
    row_h = 26
    height = TOP + row_h * max(1, len(rows)) + 8
    label_w, plot_w = 220, WIDTH - 220 - 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'class="chart" role="img" aria-hidden="true" focusable="false">'
        f"<title>{escape(title)}</title>"
    ]
    for index, (label, share) in enumerate(rows):
        y = TOP + index * row_h
        text = label if len(label) <= 34 else label[:33] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="11">'
            f"{escape(text)}</text>"
            f'<rect x="{label_w}" y="{y + 4}" width="{plot_w}" height="14" fill="#e9ecef"/>'
        )
        if share is None:
            parts.append(
                f'<text x="{label_w + 4}" y="{y + 15}" font-size="10" fill="#5b6770">&#8211;</text>'
            )
            continue
        filled = plot_w * min(share, 1.0)
        colour = COLOURS[1] if share >= 1 else COLOURS[0]
        parts.append(
            f'<rect x="{label_w}" y="{y + 4}" width="{filled:.1f}" height="14" fill="{colour}"/>'
            f'<text x="{label_w + plot_w + 6}" y="{y + 15}" font-size="11">{share:.0%}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text in it is escaped above
