"""The keys a differentially private release publishes, chosen without looking at the events.

Every unit of the aggregation unit comes from the geography (the admin tables) or the network (the cell
mapping), and every period of the window from its dates, so the set of published rows is the same whatever the
data hold: a row appearing or missing says nothing about anyone.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.dates import timestamp_literal
from flowmachine.core.spatial_unit import GeomSpatialUnit, SpatialUnit
from flowmachine.core.sql_parts import identifiers

if TYPE_CHECKING:
    from flowmachine.core.context import Context

# date_trunc units and their interval steps.
PERIOD_STEPS = {
    "second": "1 second",
    "minute": "1 minute",
    "hour": "1 hour",
    "day": "1 day",
    "week": "1 week",
    "month": "1 month",
    "year": "1 year",
}


def unit_keys(ctx: Context, unit: SpatialUnit) -> sql.Composable:
    """`<location columns>` of every unit: the regions of a polygon unit (an admin level, a loaded layer) from
    its geography, else the distinct locations of the unit's cell mapping (from `infrastructure`), or every
    cell."""
    columns = identifiers(unit.location_id_columns)
    if isinstance(unit, GeomSpatialUnit) and getattr(unit, "is_polygon", False):
        source = unit.geography_query(ctx)
    elif isinstance(unit, GeomSpatialUnit):
        source = unit.get_query(ctx)
    else:
        source = sql.SQL("SELECT id AS location_id FROM infrastructure.cells")
    return sql.SQL("SELECT DISTINCT {cols} FROM ({source}) u WHERE ({cols}) IS NOT NULL").format(
        cols=columns, source=source
    )


def period_starts(start: dt.datetime, stop: dt.datetime, period: str) -> sql.Composable:
    """`bucket`: the start of every `date_trunc(period, …)` period overlapping [start, stop)."""
    if period not in PERIOD_STEPS:
        raise ValueError(f"unknown period {period!r}")
    return sql.SQL(
        """SELECT generate_series(date_trunc({period}, {start}),
                                  {stop} - interval '1 microsecond',
                                  {step}::interval) AS bucket"""
    ).format(
        period=sql.Literal(period),
        start=timestamp_literal(start),
        stop=timestamp_literal(stop),
        step=sql.Literal(PERIOD_STEPS[period]),
    )
