"""Meaningful locations per region, and between two sets of meaningful locations (labels or periods).

- `MeaningfulLocationsAggregate`: `label, pcod, value` with value = Σ 1/n_clusters over the labelled clusters
  whose centroid the region strictly contains (clusters in no region, or on a border, go to a NULL pcod).
- `MeaningfulLocationsOD`: `label_from, label_to, pcod_from, pcod_to, value` with value = Σ 1/(n_from·n_to)
  over the pairs of clusters of the same subscriber in A and B.

The value is a fractional sum, so redaction counts what it protects: a row is kept only if more than 15
distinct subscribers are behind it (FlowKit thresholds the sum itself, and leaves the between-dates OD
matrix unredacted).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.query import Query
from flowmachine.core.redaction import having
from flowmachine.core.spatial_unit import GeomSpatialUnit, SpatialUnit
from flowmachine.features.subscriber.meaningful_locations import MeaningfulLocations

if TYPE_CHECKING:
    from flowmachine.core.context import Context


def _polygon_unit(spatial_unit: SpatialUnit) -> GeomSpatialUnit:
    if not getattr(spatial_unit, "is_polygon", False) or not isinstance(
        spatial_unit, GeomSpatialUnit
    ):  # (every polygon unit has a geometry)
        raise InvalidSpecError(
            "meaningful locations can only be aggregated to admin units, "
            f"not {getattr(spatial_unit, 'name', spatial_unit)!r}"
        )
    return spatial_unit


def _located(
    ctx: Context, unit: GeomSpatialUnit, alias: str, suffix: str
) -> tuple[sql.Composable, ...]:
    """The region column and LEFT JOIN placing the clusters of `alias` in `unit`."""
    region = sql.Identifier(f"g{alias}")
    column = sql.SQL("{}.pcod AS {}").format(region, sql.Identifier(f"pcod{suffix}"))
    join = sql.SQL(
        "LEFT JOIN ({geo}) {g} ON ST_Contains({g}.geom, ST_SetSRID(ST_MakePoint({a}.lon, {a}.lat), 4326))"
    ).format(geo=unit.geography_query(ctx), g=region, a=sql.Identifier(alias))
    return column, join


class MeaningfulLocationsAggregate(Query):
    """`label, pcod, value`: meaningful locations with one label per admin region (redacted)."""

    def __init__(
        self,
        meaningful_locations: MeaningfulLocations,
        spatial_unit: SpatialUnit,
        *,
        redact: bool = True,
    ) -> None:
        self.meaningful_locations = meaningful_locations
        self.spatial_unit = _polygon_unit(spatial_unit)
        self.redact = bool(redact)
        super().__init__()

    @property
    def column_names(self) -> list[str]:
        return ["label", "pcod", "value"]

    def _make_query(self, ctx: Context) -> sql.Composable:
        column, join = _located(ctx, self.spatial_unit, "m", "")
        return sql.SQL(
            """SELECT m.label, {column}, sum(1::float8 / m.n_clusters) AS value
               FROM ({ml}) m {join}
               GROUP BY m.label, gm.pcod{having}"""
        ).format(
            column=column,
            ml=self.meaningful_locations.get_query(ctx),
            join=join,
            having=having(self.redact, sql.SQL("count(DISTINCT m.subscriber)")),
        )


class MeaningfulLocationsOD(Query):
    """`label_from, label_to, pcod_from, pcod_to, value`: meaningful locations in A paired with those in B of
    the same subscribers, per pair of admin regions (redacted)."""

    def __init__(
        self,
        meaningful_locations_a: MeaningfulLocations,
        meaningful_locations_b: MeaningfulLocations,
        spatial_unit: SpatialUnit,
        *,
        redact: bool = True,
    ) -> None:
        self.meaningful_locations_a = meaningful_locations_a
        self.meaningful_locations_b = meaningful_locations_b
        self.spatial_unit = _polygon_unit(spatial_unit)
        self.redact = bool(redact)
        super().__init__()

    @property
    def column_names(self) -> list[str]:
        return ["label_from", "label_to", "pcod_from", "pcod_to", "value"]

    def _make_query(self, ctx: Context) -> sql.Composable:
        column_a, join_a = _located(ctx, self.spatial_unit, "a", "_from")
        column_b, join_b = _located(ctx, self.spatial_unit, "b", "_to")
        return sql.SQL(
            """SELECT a.label AS label_from, b.label AS label_to, {column_a}, {column_b},
                      sum(1::float8 / (a.n_clusters * b.n_clusters)) AS value
               FROM ({a}) a JOIN ({b}) b ON a.subscriber = b.subscriber
               {join_a} {join_b}
               GROUP BY a.label, b.label, ga.pcod, gb.pcod{having}"""
        ).format(
            column_a=column_a,
            column_b=column_b,
            a=self.meaningful_locations_a.get_query(ctx),
            b=self.meaningful_locations_b.get_query(ctx),
            join_a=join_a,
            join_b=join_b,
            having=having(self.redact, sql.SQL("count(DISTINCT a.subscriber)")),
        )
