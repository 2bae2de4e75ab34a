"""The SVG bar charts: well-formed, accessible, bars to scale, labels escaped."""

from __future__ import annotations

import re

from defusedxml import ElementTree

from controller.charts import Bar, bar_chart, tick_texts

SVG = "{http://www.w3.org/2000/svg}"


def test_bar_chart_is_well_formed_accessible_and_to_scale() -> None:
    bars = [Bar("01/03", 10.0, "10"), Bar("<b>&", 5.0, "5"), Bar("03/03", 0.0, "0")]
    svg = bar_chart(bars, chart_id="c1", title="Phút phát sóng", desc="Biểu đồ <cột>", top=20.0)
    root = ElementTree.fromstring(str(svg))
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "c1-title c1-desc"
    assert root.find(f"{SVG}title").text == "Phút phát sóng"
    assert root.find(f"{SVG}desc").text == "Biểu đồ <cột>"
    rects = root.findall(f"{SVG}rect")
    heights = [float(r.get("height")) for r in rects]
    assert len(rects) == 3
    assert heights[0] == 2 * heights[1] and heights[2] == 0.0
    assert heights[0] == (240 - 16 - 40) / 2  # 10 of an axis topped at 20
    assert [r.find(f"{SVG}title").text for r in rects][1] == "<b>&: 5"
    assert "<b>" not in str(svg)


def test_axis_rounds_up_and_many_bars_thin_their_labels() -> None:
    bars = [Bar(f"{d:02d}", float(d), str(d)) for d in range(1, 32)]
    root = ElementTree.fromstring(str(bar_chart(bars, chart_id="c2", title="t", desc="d")))
    labels = [t.text for t in root.findall(f"{SVG}text")]
    assert "50" in labels  # 31 rounds up to 50
    day_labels = [
        t
        for t in labels
        if t and len(t) == 2 and t.isdigit() and int(t) <= 31 and t.startswith(("0", "1", "2", "3"))
    ]
    assert 1 < len(day_labels) <= 12
    assert len(root.findall(f"{SVG}rect")) == 31


def test_empty_chart_still_draws_an_axis() -> None:
    root = ElementTree.fromstring(str(bar_chart([], chart_id="c3", title="t", desc="d")))
    assert root.findall(f"{SVG}rect") == []
    assert len(root.findall(f"{SVG}line")) == 5


def test_small_axis_values_are_written_distinctly() -> None:
    assert tick_texts([0, 0.05, 0.1, 0.15, 0.2]) == ["0", "0.05", "0.1", "0.15", "0.2"]
    assert tick_texts([0, 250, 500, 750, 1000]) == ["0", "250", "500", "750", "1000"]
    assert tick_texts([0, 12.5, 25, 37.5, 50]) == ["0", "12.5", "25", "37.5", "50"]
    svg = bar_chart([Bar("a", 0.2, "0.2")], chart_id="c", title="t", desc="d")
    assert re.findall(r'text-anchor="end">([^<]+)<', svg) == ["0", "0.05", "0.1", "0.15", "0.2"]
