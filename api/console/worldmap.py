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
Point = tuple[float, float]  # (lon, lat)


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


def _ring_points(arcs: list[list[tuple[float, float]]], indexes: list[int]) -> list[Point]:
    points: list[Point] = []
    for index in indexes:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        points += arc[1:] if points else arc
    return points


def _unwrapped(points: list[Point]) -> list[Point]:
    """Longitudes made continuous: a ring that crosses the antimeridian (Chukotka, Fiji)
    goes on past 180 degrees instead of jumping back across the whole map."""
    out = [points[0]]
    offset = 0.0
    for (lon0, _), (lon1, lat1) in itertools.pairwise(points):
        if lon1 - lon0 > 180:
            offset -= 360
        elif lon1 - lon0 < -180:
            offset += 360
        out.append((lon1 + offset, lat1))
    return out


def ring_paths(points: list[Point]) -> list[str]:
    """One ring of land as SVG subpaths: unwrapped, closed along the pole if it goes round
    the world (Antarctica), and drawn again one world to the side where it runs over the
    edge; the map's viewport clips what lies outside (no band across Siberia, no line at
    17 degrees south)."""
    ring = _unwrapped(points)
    if abs(ring[-1][0] - ring[0][0]) > 180:  # round the world: close along the pole
        pole = -90.0 if sum(lat for _, lat in ring) < 0 else 90.0
        ring += [(ring[-1][0], pole), (ring[0][0], pole)]
    lons = [lon for lon, _ in ring]
    shifts = [0.0]
    if min(lons) < -180:
        shifts.append(360.0)
    if max(lons) > 180:
        shifts.append(-360.0)
    return [_svg(ring, shift) for shift in shifts]


def _svg(ring: list[Point], shift: float) -> str:
    projected = (project(lat, lon + shift) for lon, lat in ring)
    return "M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in projected) + "Z"


@cache
def land_path() -> str:
    topology = orjson.loads(files("api.console").joinpath("static/land-110m.json").read_bytes())
    arcs = _arcs(topology)
    rings = []
    for geometry in topology["objects"]["land"]["geometries"]:
        polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        for polygon in polygons:
            for ring in polygon:
                rings += ring_paths(_ring_points(arcs, ring))
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


# Where a place's number may go beside its marker, tried in turn (x, y offsets).
_SPOTS = ((6.0, -6.0), (6.0, 12.0), (-14.0, -6.0), (-14.0, 12.0), (6.0, 3.0), (-14.0, 3.0))
_CLEAR = 11.0  # how far apart two numbers must stand to be read


def label_spots(places: list[dict[str, Any]]) -> list[tuple[float, float]]:
    """A spot for each place's number that does not sit on an earlier one (numbers, not
    names, go on the map; the names are listed under it)."""
    taken: list[tuple[float, float]] = []
    for place in places:
        options = [(place["x"] + dx, place["y"] + dy) for dx, dy in _SPOTS]
        free = [
            spot
            for spot in options
            if all(abs(spot[0] - x) >= _CLEAR or abs(spot[1] - y) >= _CLEAR for x, y in taken)
        ]
        taken.append(free[0] if free else options[0])
    return taken
