"""A small bar chart drawn on the server as SVG shapes (no script; the template draws them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

WIDTH, HEIGHT, GAP, LABEL = 560, 160, 4, 18


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    width: int
    height: int
    day: date
    count: int


def bars(points: list[tuple[date, int]]) -> list[Bar]:
    """One bar per day, scaled so the highest fills the chart's height."""
    if not points:
        return []
    top = max(count for _, count in points) or 1
    width = max(2, (WIDTH - GAP * (len(points) - 1)) // len(points))
    usable = HEIGHT - LABEL
    out = []
    for n, (day, count) in enumerate(points):
        height = round(usable * count / top)
        out.append(Bar(x=n * (width + GAP), y=usable - height, width=width,
                       height=height, day=day, count=count))
    return out
