"""Label shapes of meaningful locations: GeoJSON polygons in the (score_hour, score_dow) plane, checked in Python.

Each label is a GeoJSON `Polygon` or `MultiPolygon`. Two labels may not intersect (touching counts), so every
point gets at most one label; the label `unknown` is reserved for points in no shape (or on a boundary).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

from flowmachine.core.errors import InvalidSpecError

UNKNOWN_LABEL = "unknown"

Point = tuple[float, float]
Ring = list[Point]
Polygon = list[Ring]  # exterior ring, then holes


def _ring(coords: Any, label: str) -> Ring:
    if not isinstance(coords, list) or len(coords) < 4:
        raise InvalidSpecError(f"label {label!r}: a ring needs at least four positions")
    ring = []
    for p in coords:
        if (
            not isinstance(p, list | tuple)
            or len(p) < 2
            or not all(
                isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                for v in p[:2]
            )
        ):
            raise InvalidSpecError(f"label {label!r}: a position must be two finite numbers")
        ring.append((float(p[0]), float(p[1])))
    if ring[0] != ring[-1]:
        raise InvalidSpecError(f"label {label!r}: a ring must end where it starts")
    return ring


def polygons(label: str, geometry: Any) -> list[Polygon]:
    """The polygons of one label's GeoJSON geometry (Polygon or MultiPolygon), validated."""
    if not isinstance(geometry, Mapping):
        raise InvalidSpecError(f"label {label!r}: expected a GeoJSON geometry object")
    kind, coords = geometry.get("type"), geometry.get("coordinates")
    if kind == "Polygon" and isinstance(coords, list) and coords:
        return [[_ring(r, label) for r in coords]]
    if kind == "MultiPolygon" and isinstance(coords, list) and coords:
        out = []
        for poly in coords:
            if not isinstance(poly, list) or not poly:
                raise InvalidSpecError(f"label {label!r}: empty polygon")
            out.append([_ring(r, label) for r in poly])
        return out
    raise InvalidSpecError(f"label {label!r}: expected a GeoJSON Polygon or MultiPolygon")


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


def _edges(poly: Polygon):
    for ring in poly:
        yield from itertools.pairwise(ring)


def _polygons_intersect(a: Polygon, b: Polygon) -> bool:
    for (p, q), (r, s) in itertools.product(list(_edges(a)), list(_edges(b))):
        if _segments_touch(p, q, r, s):
            return True
    # no boundaries meet: one lies inside the other (tested with any vertex) or they are apart
    return _in_polygon(a[0][0], b) or _in_polygon(b[0][0], a)


def check_labels(labels: Mapping[str, Any]) -> dict[str, list[Polygon]]:
    """Every label's polygons; refuses `unknown`, bad geometries and intersecting (or touching) labels."""
    if not isinstance(labels, Mapping) or not labels:
        raise InvalidSpecError("labels must be a non-empty mapping of label to GeoJSON geometry")
    shapes = {}
    for label, geometry in labels.items():
        if not isinstance(label, str) or not label:
            raise InvalidSpecError("label names must be non-empty strings")
        if label == UNKNOWN_LABEL:
            raise InvalidSpecError(f"{UNKNOWN_LABEL!r} is reserved and cannot be a label")
        shapes[label] = polygons(label, geometry)
    for (la, pa), (lb, pb) in itertools.combinations(sorted(shapes.items()), 2):
        if any(_polygons_intersect(x, y) for x in pa for y in pb):
            raise InvalidSpecError(
                f"labels {la!r} and {lb!r} overlap; label shapes must be disjoint"
            )
    return shapes
