"""Small SVG charts rendered on the server: no script, no library, readable without colour
(every series also has a label)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    label: str
    values: tuple[int, ...]  # stacked parts, bottom first


def bars(series: list[Bar], parts: tuple[str, ...], height: int = 160, width: int = 720) -> dict:
    """Geometry for a stacked bar chart template: rectangles with their part's class."""
    top = max((sum(b.values) for b in series), default=0) or 1
    step = width / max(len(series), 1)
    rects = []
    for i, bar in enumerate(series):
        y = float(height)
        for part, value in zip(parts, bar.values, strict=True):
            h = value * (height - 20) / top
            y -= h
            rects.append({"x": round(i * step + 1, 1), "y": round(y, 1),
                          "w": round(max(step - 2, 1), 1), "h": round(h, 1),
                          "part": part, "title": f"{bar.label}: {value} {part}"})  # fmt: skip
    ticks = [series[i].label for i in range(0, len(series), max(len(series) // 6, 1))]
    return {"width": width, "height": height, "rects": rects, "top": top, "ticks": ticks,
            "step": step, "parts": parts, "count": len(series)}  # fmt: skip
