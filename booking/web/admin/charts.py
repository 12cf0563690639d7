"""Server-drawn charts for the admin pages: the geometry of simple bar charts as plain numbers,
which ``templates/admin/_chart.html`` draws as SVG (no script, no inline styles, so the CSP
holds) next to a table of the same numbers for screen readers and for reading exact values."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

# The drawing's own units: the SVG scales to its box, about 300 CSS pixels in the dashboard's
# two columns, so a unit is about a pixel and 12-unit text stays readable.
WIDTH = 360
COLUMN_HEIGHT = 200
ROW_HEIGHT = 26
LABEL_WIDTH = 140
VALUE_WIDTH = 95
AXIS_BOTTOM = 30
TOP = 18


@dataclass(frozen=True)
class Item:
    """One thing a chart shows: its label, its number and that number in words ('Rs 930.00')."""

    label: str
    value: Decimal | int
    text: str
    tone: str = "main"
    href: str | None = None


@dataclass(frozen=True)
class Bar:
    item: Item
    x: float
    y: float
    width: float
    height: float
    show_label: bool
    label_x: float
    label_y: float
    value_x: float
    value_y: float


@dataclass(frozen=True)
class Chart:
    """A drawn chart: ``columns`` (upright bars along time) or ``rows`` (one bar a line)."""

    id: str
    title: str
    kind: str
    value_heading: str
    bars: list[Bar]
    width: int
    height: int
    baseline: float
    unit_note: str = ""

    @property
    def empty(self) -> bool:
        """Whether every value is zero (the chart says so instead of drawing nothing)."""
        return not any(bar.item.value for bar in self.bars)


def columns(chart_id: str, title: str, value_heading: str, items: list[Item]) -> Chart:
    """Upright bars side by side (days of a period); at most about six labels are written."""
    top = max((Decimal(item.value) for item in items), default=Decimal(0)) or Decimal(1)
    count = max(len(items), 1)
    slot = (WIDTH - 20) / count
    plot = COLUMN_HEIGHT - AXIS_BOTTOM - TOP
    every = max(1, -(-count // 6))
    bars = []
    for index, item in enumerate(items):
        height = float(Decimal(item.value) / top) * plot
        x = 10 + index * slot + slot * 0.15
        width = max(slot * 0.7, 1.0)
        y = TOP + plot - height
        bars.append(
            Bar(
                item,
                round(x, 2),
                round(y, 2),
                round(width, 2),
                round(height, 2),
                index % every == 0,
                round(x + width / 2, 2),
                COLUMN_HEIGHT - AXIS_BOTTOM + 16,
                round(x + width / 2, 2),
                round(max(y - 4, 12), 2),
            )
        )
    return Chart(chart_id, title, "columns", value_heading, bars, WIDTH, COLUMN_HEIGHT, TOP + plot)


def rows(
    chart_id: str,
    title: str,
    value_heading: str,
    items: list[Item],
    scale_to: Decimal | int | None = None,
    unit_note: str = "",
) -> Chart:
    """One horizontal bar per item, scaled to ``scale_to`` (100 for percentages) or the largest."""
    top = Decimal(scale_to) if scale_to else None
    top = top or max((Decimal(item.value) for item in items), default=Decimal(0)) or Decimal(1)
    plot = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    bars = []
    for index, item in enumerate(items):
        y = TOP / 2 + index * ROW_HEIGHT
        width = float(min(Decimal(item.value), top) / top) * plot
        bars.append(
            Bar(
                item,
                LABEL_WIDTH,
                round(y + 4, 2),
                round(width, 2),
                ROW_HEIGHT - 8,
                True,
                LABEL_WIDTH - 8,
                round(y + ROW_HEIGHT / 2 + 4, 2),
                round(LABEL_WIDTH + width + 6, 2),
                round(y + ROW_HEIGHT / 2 + 4, 2),
            )
        )
    height = int(TOP + max(len(items), 1) * ROW_HEIGHT)
    return Chart(chart_id, title, "rows", value_heading, bars, WIDTH, height, 0, unit_note)
