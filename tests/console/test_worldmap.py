"""The console's world map: land that crosses the antimeridian or goes round a pole is
drawn where it is, with no band across the map."""

from __future__ import annotations

import itertools
import re

from api.console.worldmap import HEIGHT, WIDTH, land_path, ring_paths


def _subpaths(path: str) -> list[list[tuple[float, float]]]:
    found = []
    for part in re.findall(r"M([^MZ]+)Z", path):
        pairs = (p.split(",") for p in part.split("L"))
        found.append([(float(x), float(y)) for x, y in pairs])
    return found


def _widest_step(path: str) -> float:
    """The longest edge across the map that does not run along a pole (y 0 or 360)."""
    return max(
        abs(b[0] - a[0])
        for points in _subpaths(path)
        for a, b in itertools.pairwise(points)
        if not (a[1] == b[1] and a[1] in (0.0, HEIGHT))
    )


def test_no_land_edge_runs_across_the_map() -> None:
    """A band across Siberia or a line at 17 degrees south is an edge from one side of the
    map to the other: no edge of the land is longer than a quarter of its width."""
    assert _widest_step(land_path()) < WIDTH / 4


def test_a_ring_over_the_antimeridian_is_drawn_on_both_sides() -> None:
    fiji = [(177.0, -17.0), (179.5, -16.5), (-179.5, -16.8), (-179.8, -17.5), (177.5, -18.0)]
    paths = ring_paths(fiji)
    assert len(paths) == 2  # the ring as it is, and again one world to the side
    assert all(_widest_step(p) < 10 for p in paths)


def test_a_ring_round_the_pole_is_closed_along_it() -> None:
    antarctica = [(-170.0, -70.0), *[(float(lon), -72.0) for lon in range(-150, 180, 30)]]
    (path, *_) = ring_paths(antarctica)
    points = _subpaths(path)[0]
    assert points[-1][1] == HEIGHT and points[-2][1] == HEIGHT  # along the south pole
    assert _widest_step(path) < WIDTH / 4


def test_numbers_of_places_close_together_do_not_overprint() -> None:
    from api.console.worldmap import label_spots, project

    cities = [(60.17, 24.94), (60.20, 24.90), (60.45, 22.27), (61.50, 23.76), (59.33, 18.07)]
    places = [dict(zip(("x", "y"), project(lat, lon), strict=True)) for lat, lon in cities]
    spots = label_spots(places)
    for i, a in enumerate(spots):
        for b in spots[:i]:
            assert abs(a[0] - b[0]) >= 11 or abs(a[1] - b[1]) >= 11
