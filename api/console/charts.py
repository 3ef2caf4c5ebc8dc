"""Small SVG charts rendered on the server: no script, no library, readable without colour
(every series also has a label).

Bars stand where their time is: an axis from the first bucket to the last, each bar as
wide as its bucket, so a quiet night is a gap, not a bar pushed against the evening. A y
axis with round figures says how many.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

LEFT = 34  # room for the y axis' figures


@dataclass(frozen=True)
class Bar:
    label: str
    values: tuple[int, ...]  # stacked parts, bottom first
    at: float  # where on the axis the bucket starts (hours, days: the caller's unit)


def nice_top(value: int) -> int:
    """The y axis' top: the next 1, 2 or 5 times a power of ten at or above the tallest bar."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def bars(
    series: list[Bar],
    parts: tuple[str, ...],
    *,
    span: float = 1.0,
    tick: Callable[[float], str] = lambda at: f"{at:g}",
    domain: tuple[float, float] | None = None,
    marks: dict[str, float] | None = None,
    height: int = 160,
    width: int = 720,
) -> dict:
    """Geometry for the stacked bar chart template: rectangles with their part's class, on
    an axis over `domain` (default: the first bar to the end of the last), each `span` wide;
    `marks` (name -> position) come back as x positions (a retention limit, say)."""
    start, end = domain or (
        min((b.at for b in series), default=0.0),
        max((b.at for b in series), default=0.0) + span,
    )
    end = max(end, start + span)
    plot = width - LEFT

    def x_of(at: float) -> float:
        return LEFT + (at - start) / (end - start) * plot

    top = nice_top(max((sum(b.values) for b in series), default=0))
    bar_width = max(span / (end - start) * plot - 1, 1)
    rects = []
    for bar in series:
        y = float(height)
        for part, value in zip(parts, bar.values, strict=True):
            h = value * (height - 20) / top
            y -= h
            rects.append({"x": round(x_of(bar.at) + 0.5, 1), "y": round(y, 1),
                          "w": round(bar_width, 1), "h": round(h, 1),
                          "part": part, "title": f"{bar.label}: {value} {part}"})  # fmt: skip
    ticks = [
        {"x": round(x_of(at), 1), "label": tick(at)}
        for at in (start + i * (end - start) / 6 for i in range(6))
    ]
    levels = [
        {"y": round(height - value * (height - 20) / top, 1), "label": f"{value:g}"}
        for value in (0, top / 2, top)
    ]
    return {
        "width": width, "height": height, "left": LEFT, "rects": rects, "top": top,
        "ticks": ticks, "levels": levels, "parts": parts, "count": len(series),
        "marks": {name: round(x_of(at), 1) for name, at in (marks or {}).items()},
    }  # fmt: skip
