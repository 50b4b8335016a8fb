"""DFSTotalMetricAmount: the total of one mobile-money metric per day and location (FlowKit's
`dfs_metric_total_amount`).

Each transaction of `dfs.transactions` in the window counts at the location of each of its two parties
(`dfs.transactions_metadata`: the cell each party used), as in FlowKit. The window includes its end day
(FlowKit's rule for this kind only). Cells are placed through the unit's stored mapping, in service on the
transaction's day, as events are; FlowKit joined point-in-polygon per cell version and only admin units
worked (any unit works here). FlowKit does not redact it; here a (day, location) row is published only when
more than 15 distinct subscribers took part in its transactions: a sum over a few people's transfers is
their money.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, ClassVar

from psycopg import sql

from flowmachine.core.dates import timestamp_literal, to_datetime
from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.query import Query
from flowmachine.core.redaction import having
from flowmachine.core.spatial_unit import GeomSpatialUnit, SpatialUnit
from flowmachine.core.sql_parts import identifiers

if TYPE_CHECKING:
    from flowmachine.core.context import Context

DFS_METRICS = ("amount", "commission", "fee", "discount")


class DFSTotalMetricAmount(Query):
    metrics: ClassVar[tuple[str, ...]] = DFS_METRICS

    def __init__(
        self,
        *,
        metric: str,
        start_date: str | dt.date | dt.datetime,
        end_date: str | dt.date | dt.datetime,
        spatial_unit: SpatialUnit,
        redact: bool = True,
    ) -> None:
        if metric not in DFS_METRICS:
            raise InvalidSpecError(
                f"metric must be one of {', '.join(DFS_METRICS)}, not {metric!r}"
            )
        if not isinstance(spatial_unit, GeomSpatialUnit):
            raise InvalidSpecError("dfs_metric_total_amount needs an admin or lon-lat unit")
        self.metric = metric
        self.start = to_datetime(start_date)
        # the end day is included (FlowKit's rule for this kind)
        self.stop = to_datetime(end_date) + dt.timedelta(days=1)
        if self.stop <= self.start:
            raise InvalidSpecError(f"end_date ({end_date}) is before start_date ({start_date})")
        self.spatial_unit = spatial_unit
        self.redact = bool(redact)
        super().__init__()

    @property
    def location_columns(self) -> tuple[str, ...]:
        return tuple(c for c in self.spatial_unit.location_id_columns if c != "location_id")

    @property
    def column_names(self) -> list[str]:
        return ["date", *self.location_columns, "value"]

    def _make_query(self, ctx: Context) -> sql.Composable:
        L = identifiers(self.location_columns)
        mapped = sql.SQL(", ").join(sql.Identifier("m", c) for c in self.location_columns)
        return sql.SQL(
            """SELECT d.date, {L}, sum(d.value) AS value
               FROM (SELECT t.timestamp::date AS date, {mapped}, t.{metric} AS value,
                            md.subscriber_id
                     FROM dfs.transactions t
                     JOIN dfs.transactions_metadata md ON md.transaction_id = t.id
                     JOIN ({mapping}) m
                       ON m.location_id = md.cell_id
                      AND t.timestamp::date BETWEEN coalesce(m.date_of_first_service, '-infinity'::date)
                                                AND coalesce(m.date_of_last_service, 'infinity'::date)
                     WHERE t.timestamp >= {start} AND t.timestamp < {stop}) d
               GROUP BY d.date, {L}{having}"""
        ).format(
            L=L,
            mapped=mapped,
            metric=sql.Identifier(self.metric),
            mapping=self.spatial_unit.get_query(ctx),
            start=timestamp_literal(self.start),
            stop=timestamp_literal(self.stop),
            having=having(self.redact, sql.SQL("count(DISTINCT d.subscriber_id)")),
        )
