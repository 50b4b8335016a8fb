"""Label shapes of meaningful locations: GeoJSON polygons in the (score_hour, score_dow) plane, checked in Python.

Each label is a GeoJSON `Polygon` or `MultiPolygon`. As in FlowKit (whose PostGIS `ST_GeomFromGeoJSON` closes
them), a ring whose last position does not repeat its first is accepted and closed; `closed_labels` gives the
geometries with every ring closed, which is what queries use (so a label given either way is the same query).

Refused: rings with fewer than three distinct points or no area, rings that cross or touch themselves, holes
not strictly inside their shell or meeting one another, parts of a MultiPolygon that meet, positions that are
not two (or three) finite numbers, and labels that intersect one another (touching counts), so every point
gets at most one label; the label `unknown` is reserved for points in no shape (or on a boundary). The number
of labels, the length of their names and the positions in all of them are bounded (`MAX_*` below), which
also bounds the quadratic checks.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping
from typing import Any

from flowmachine.core.errors import InvalidSpecError

UNKNOWN_LABEL = "unknown"
MAX_LABELS = 32
MAX_LABEL_NAME_LENGTH = 100
MAX_LABEL_POSITIONS = 500  # over all labels' rings
# Scores lie in [-1, 1]; far larger coordinates mean nothing and would overflow the geometry arithmetic.
MAX_COORDINATE = 1e6

Point = tuple[float, float]
Ring = list[Point]
Polygon = list[Ring]  # exterior ring, then holes


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _position(p: Any, label: str) -> Point:
    if (
        not isinstance(p, list | tuple)
        or len(p) not in (2, 3)
        or not all(_is_number(v) and abs(v) <= MAX_COORDINATE for v in p)
    ):
        raise InvalidSpecError(
            f"label {label!r}: a position must be two (or three) numbers "
            f"within ±{MAX_COORDINATE:g}, not {p!r}"
        )
    return float(p[0]), float(p[1])


def _closed(coords: list[Any]) -> list[Any]:
    """The ring's positions, the first repeated at the end if it is not already there."""

    def same(p: Any) -> Any:
        return list(p) if isinstance(p, list | tuple) else p

    if coords and same(coords[0]) != same(coords[-1]):
        return [*coords, coords[0]]
    return list(coords)


def _orientation(a: Point, b: Point, c: Point) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _on_segment(a: Point, b: Point, p: Point) -> bool:
    return min(a[0], b[0]) <= p[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])


def _segments_touch(a: Point, b: Point, c: Point, d: Point) -> bool:
    o1, o2, o3, o4 = (
        _orientation(a, b, c),
        _orientation(a, b, d),
        _orientation(c, d, a),
        _orientation(c, d, b),
    )
    if ((o1 > 0 and o2 < 0) or (o1 < 0 and o2 > 0)) and (
        (o3 > 0 and o4 < 0) or (o3 < 0 and o4 > 0)
    ):
        return True
    return (
        (o1 == 0 and _on_segment(a, b, c))
        or (o2 == 0 and _on_segment(a, b, d))
        or (o3 == 0 and _on_segment(c, d, a))
        or (o4 == 0 and _on_segment(c, d, b))
    )


def _check_simple(ring: Ring, label: str) -> None:
    """Refuse a ring (closed, no repeated consecutive points) with no area or meeting itself."""
    distinct = set(ring)
    if len(distinct) < 3:
        raise InvalidSpecError(f"label {label!r}: a ring needs at least three distinct points")
    area = sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in itertools.pairwise(ring))
    if area == 0:
        raise InvalidSpecError(f"label {label!r}: a ring must enclose an area")
    edges = list(itertools.pairwise(ring))
    n = len(edges)
    for i, j in itertools.combinations(range(n), 2):
        (a, b), (c, d) = edges[i], edges[j]
        if j == i + 1 or (i == 0 and j == n - 1):
            # neighbours share one end; they meet elsewhere only if one doubles back along the other
            shared, p, q = (b, a, d) if j == i + 1 else (a, b, c)
            if _orientation(p, shared, q) == 0 and (
                (p[0] - shared[0]) * (q[0] - shared[0]) + (p[1] - shared[1]) * (q[1] - shared[1])
                > 0
            ):
                raise InvalidSpecError(f"label {label!r}: a ring must not cross or touch itself")
        elif _segments_touch(a, b, c, d):
            raise InvalidSpecError(f"label {label!r}: a ring must not cross or touch itself")


def _ring(coords: Any, label: str) -> Ring:
    if not isinstance(coords, list) or not coords:
        raise InvalidSpecError(f"label {label!r}: a ring must be a list of positions")
    points = [_position(p, label) for p in _closed(coords)]
    ring = [p for i, p in enumerate(points) if i == 0 or p != points[i - 1]]
    if len(ring) < 4:
        raise InvalidSpecError(f"label {label!r}: a ring needs at least three distinct points")
    _check_simple(ring, label)
    return ring


def _in_ring(p: Point, ring: Ring) -> bool:
    """Even-odd rule (the point is known not to be on the ring)."""
    inside = False
    for (x1, y1), (x2, y2) in itertools.pairwise(ring):
        if (y1 > p[1]) != (y2 > p[1]):
            x = x1 + (p[1] - y1) * (x2 - x1) / (y2 - y1)
            if x > p[0]:
                inside = not inside
    return inside


def _in_polygon(p: Point, poly: Polygon) -> bool:
    return _in_ring(p, poly[0]) and not any(_in_ring(p, hole) for hole in poly[1:])


def _rings_touch(a: Ring, b: Ring) -> bool:
    return any(
        _segments_touch(p, q, r, s)
        for (p, q), (r, s) in itertools.product(itertools.pairwise(a), itertools.pairwise(b))
    )


def _edges(poly: Polygon) -> Iterator[tuple[Point, Point]]:
    for ring in poly:
        yield from itertools.pairwise(ring)


def _polygons_intersect(a: Polygon, b: Polygon) -> bool:
    for (p, q), (r, s) in itertools.product(list(_edges(a)), list(_edges(b))):
        if _segments_touch(p, q, r, s):
            return True
    # no boundaries meet: one lies inside the other (tested with any vertex) or they are apart
    return _in_polygon(a[0][0], b) or _in_polygon(b[0][0], a)


def _polygon(rings: Any, label: str) -> Polygon:
    if not isinstance(rings, list) or not rings:
        raise InvalidSpecError(f"label {label!r}: empty polygon")
    shell, *holes = (_ring(r, label) for r in rings)
    for hole in holes:
        if _rings_touch(shell, hole) or not _in_ring(hole[0], shell):
            raise InvalidSpecError(f"label {label!r}: a hole must lie strictly inside its polygon")
    for h1, h2 in itertools.combinations(holes, 2):
        if _rings_touch(h1, h2) or _in_ring(h1[0], h2) or _in_ring(h2[0], h1):
            raise InvalidSpecError(f"label {label!r}: the holes of a polygon must not meet")
    return [shell, *holes]


def _rings_of(geometry: Any) -> Iterator[Any]:
    """Every ring's raw coordinates in a (shape-checked) Polygon or MultiPolygon."""
    if geometry["type"] == "Polygon":
        yield from geometry["coordinates"]
    else:
        for poly in geometry["coordinates"]:
            yield from poly


def _checked_shape(label: str, geometry: Any) -> None:
    """Refuse anything but a GeoJSON Polygon or MultiPolygon of lists of rings of lists."""
    if not isinstance(geometry, Mapping):
        raise InvalidSpecError(f"label {label!r}: expected a GeoJSON geometry object")
    kind, coords = geometry.get("type"), geometry.get("coordinates")
    if kind not in ("Polygon", "MultiPolygon") or not isinstance(coords, list) or not coords:
        raise InvalidSpecError(f"label {label!r}: expected a GeoJSON Polygon or MultiPolygon")
    polys = [coords] if kind == "Polygon" else coords
    for poly in polys:
        if not isinstance(poly, list) or not poly or not all(isinstance(r, list) for r in poly):
            raise InvalidSpecError(f"label {label!r}: a polygon must be a list of rings")


def polygons(label: str, geometry: Any) -> list[Polygon]:
    """The polygons of one label's GeoJSON geometry (Polygon or MultiPolygon), validated, rings closed."""
    _checked_shape(label, geometry)
    coords = geometry["coordinates"]
    if geometry["type"] == "Polygon":
        return [_polygon(coords, label)]
    parts = [_polygon(poly, label) for poly in coords]
    for a, b in itertools.combinations(parts, 2):
        if _polygons_intersect(a, b):
            raise InvalidSpecError(f"label {label!r}: the parts of a MultiPolygon must not meet")
    return parts


def check_labels(labels: Mapping[str, Any]) -> dict[str, list[Polygon]]:
    """Every label's polygons; refuses `unknown`, bad geometries and intersecting (or touching) labels."""
    if not isinstance(labels, Mapping) or not labels:
        raise InvalidSpecError("labels must be a non-empty mapping of label to GeoJSON geometry")
    if len(labels) > MAX_LABELS:
        raise InvalidSpecError(f"at most {MAX_LABELS} labels")
    positions = 0
    for label, geometry in labels.items():
        if not isinstance(label, str) or not label:
            raise InvalidSpecError("label names must be non-empty strings")
        if len(label) > MAX_LABEL_NAME_LENGTH:
            raise InvalidSpecError(
                f"label names must be at most {MAX_LABEL_NAME_LENGTH} characters"
            )
        if label == UNKNOWN_LABEL:
            raise InvalidSpecError(f"{UNKNOWN_LABEL!r} is reserved and cannot be a label")
        _checked_shape(label, geometry)
        positions += sum(len(r) for r in _rings_of(geometry))
        if positions > MAX_LABEL_POSITIONS:
            raise InvalidSpecError(f"at most {MAX_LABEL_POSITIONS} positions over all labels")
    shapes = {label: polygons(label, geometry) for label, geometry in labels.items()}
    for (la, pa), (lb, pb) in itertools.combinations(sorted(shapes.items()), 2):
        if any(_polygons_intersect(x, y) for x in pa for y in pb):
            raise InvalidSpecError(
                f"labels {la!r} and {lb!r} overlap; label shapes must be disjoint"
            )
    return shapes


def closed_labels(labels: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """`labels` checked (`check_labels`), in name order, each geometry with every ring closed (other members
    and already-closed rings as given)."""
    check_labels(labels)
    out = {}
    for label in sorted(labels):
        geometry = dict(labels[label])
        if geometry["type"] == "Polygon":
            geometry["coordinates"] = [_closed(r) for r in geometry["coordinates"]]
        else:
            geometry["coordinates"] = [[_closed(r) for r in p] for p in geometry["coordinates"]]
        out[label] = geometry
    return out
