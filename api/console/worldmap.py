"""A world map drawn by vahti itself: Natural Earth land (world-atlas, ISC licence) decoded
from TopoJSON into one SVG path, equirectangular, plus the places of an alert."""

from __future__ import annotations

import itertools
from functools import cache
from importlib.resources import files
from typing import Any

import orjson
import polars as pl

from analytics.detectors.geo import haversine_km

WIDTH, HEIGHT = 720, 360


def project(lat: float, lon: float) -> tuple[float, float]:
    return (lon + 180) * WIDTH / 360, (90 - lat) * HEIGHT / 180


def _arcs(topology: dict[str, Any]) -> list[list[tuple[float, float]]]:
    """Delta-decoded, transformed arcs as (lon, lat) points."""
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    decoded = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        decoded.append(points)
    return decoded


def _ring(arcs: list[list[tuple[float, float]]], indexes: list[int]) -> str:
    points: list[tuple[float, float]] = []
    for index in indexes:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        points += arc[1:] if points else arc
    projected = (project(lat, lon) for lon, lat in points)
    return "M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in projected) + "Z"


@cache
def land_path() -> str:
    topology = orjson.loads(files("api.console").joinpath("static/land-110m.json").read_bytes())
    arcs = _arcs(topology)
    rings = []
    for geometry in topology["objects"]["land"]["geometries"]:
        polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        for polygon in polygons:
            rings += [_ring(arcs, ring) for ring in polygon]
    return "".join(rings)


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """The distance impossible_travel measures (one haversine, one earth radius)."""
    km = pl.select(haversine_km(*(pl.lit(float(x)) for x in (*a, *b)))).item()
    return float(km)


def legs(places: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive places of an alert with the distance and the speed it would take."""
    out = []
    for a, b in itertools.pairwise(places):
        km = distance_km((a["lat"], a["lon"]), (b["lat"], b["lon"]))
        hours = max((b["at"] - a["at"]).total_seconds() / 3600, 1 / 3600)
        out.append(
            {"from": a["label"], "to": b["label"], "km": round(km), "kmh": round(km / hours)}
        )
    return out
