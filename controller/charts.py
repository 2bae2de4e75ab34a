"""Server-rendered SVG charts for the report pages (no JavaScript): vertical bars with a title and a
description for screen readers; the page shows the same numbers as a table next to each chart."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 16, 40
MAX_LABELS = 12  # x labels shown at most; the others are in the table


@dataclass(frozen=True)
class Bar:
    """One bar: its label under the axis, its value, and the value as the reader writes it."""

    label: str
    value: float
    text: str


def nice_max(value: float) -> float:
    """A round top for the axis (1, 2, 5 × 10ⁿ) at or above ``value``."""
    if value <= 0:
        return 1.0
    step = 1.0
    while step * 10 <= value:
        step *= 10
    while step > value:
        step /= 10
    for factor in (1, 2, 5, 10):
        if step * factor >= value:
            return step * factor
    return step * 10


def tick_texts(values: Sequence[float]) -> list[str]:
    """The axis values with the decimals each needs, at most 4: 0, 0.05, 0.1 … (not 0, 0.1, 0.1 …)."""
    return [f"{v:.4f}".rstrip("0").rstrip(".") for v in values]


def bar_chart(
    bars: Sequence[Bar],
    *,
    chart_id: str,
    title: str,
    desc: str,
    top: float | None = None,
    axis_text: str = "",
) -> Markup:
    """An accessible SVG bar chart; ``top`` fixes the axis maximum (100 for percentages)."""
    peak = top if top is not None else nice_max(max((b.value for b in bars), default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(bars))
    every = max(1, -(-len(bars) // MAX_LABELS))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" preserveAspectRatio="xMidYMid meet">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
    ]
    for step, text in enumerate(tick_texts([peak * step / 4 for step in range(5)])):  # grid lines, values
        y = TOP + plot_h - plot_h * step / 4
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{text}</text>')
    if axis_text:
        parts.append(f'<text class="axis" x="2" y="{TOP - 4}">{escape(axis_text)}</text>')
    for i, bar in enumerate(bars):
        height = plot_h * min(max(bar.value, 0.0), peak) / peak
        x = LEFT + i * slot + slot * 0.15
        y = TOP + plot_h - height
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{height:.1f}">'
            f"<title>{escape(bar.label)}: {escape(bar.text)}</title></rect>"
        )
        if i % every == 0:
            cx = LEFT + i * slot + slot / 2
            parts.append(
                f'<text class="axis" x="{cx:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">'
                f"{escape(bar.label)}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))
