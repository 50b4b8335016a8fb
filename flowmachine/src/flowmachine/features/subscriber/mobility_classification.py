"""MobilityClassification: a label per subscriber from their locations in a sequence of periods.

`locations` are reference locations of consecutive periods, oldest first. Subscribers located (or listed
with a NULL location) in the last period are labelled, by the first that applies of:

- `unlocated`: no location in the last period;
- `irregular`: absent from some period;
- `not_always_locatable`: a NULL location in some period;
- `mobile`: their longest stay (consecutive periods at one location) is shorter than `stay_length_threshold`;
- `stable`: otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.spatial_unit import SpatialUnit
from flowmachine.core.sql_parts import identifiers
from flowmachine.features.subscriber.base_location import BaseLocation
from flowmachine.features.subscriber.location_visits import same_unit
from flowmachine.features.subscriber.metric import SubscriberMetric

if TYPE_CHECKING:
    from flowmachine.core.context import Context

LABELS = ("unlocated", "irregular", "not_always_locatable", "mobile", "stable")


class MobilityClassification(SubscriberMetric):
    def __init__(self, locations: Sequence[BaseLocation], stay_length_threshold: int) -> None:
        same_unit(locations, "mobility_classification")
        self.locations = tuple(locations)
        self.stay_length_threshold = int(stay_length_threshold)
        super().__init__()

    @property
    def spatial_unit(self) -> SpatialUnit:
        return self.locations[0].spatial_unit

    def _make_query(self, ctx: Context) -> sql.Composable:
        cols = self.spatial_unit.location_id_columns
        L = identifiers(cols)
        periods = sql.SQL(" UNION ALL ").join(
            sql.SQL("SELECT subscriber, {L}, {i} AS ordinal FROM ({q}) p").format(
                L=L, i=sql.Literal(i), q=loc.get_query(ctx)
            )
            for i, loc in enumerate(self.locations)
        )

        def unlocated(alias: str) -> sql.Composable:
            return sql.SQL(" AND ").join(
                sql.SQL("{} IS NULL").format(sql.Identifier(alias, c)) for c in cols
            )

        return sql.SQL(
            """WITH periods AS ({periods}),
               stats AS (
                   SELECT subscriber, count(DISTINCT ordinal) AS n_periods,
                          bool_or({u_unlocated}) AS sometimes_unlocated
                   FROM periods u GROUP BY subscriber),
               stays AS (
                   SELECT subscriber, max(stay_length) AS longest_stay FROM (
                       SELECT subscriber, count(*) AS stay_length FROM (
                           SELECT subscriber, {L}, ordinal - row_number() OVER (
                                      PARTITION BY subscriber, {L} ORDER BY ordinal) AS stay_id
                           FROM periods u WHERE NOT ({u_unlocated})) s
                       GROUP BY subscriber, {L}, stay_id) l
                   GROUP BY subscriber)
               SELECT lp.subscriber,
                      CASE WHEN {last_unlocated} THEN 'unlocated'
                           WHEN stats.n_periods < {n} THEN 'irregular'
                           WHEN stats.sometimes_unlocated THEN 'not_always_locatable'
                           WHEN stays.longest_stay < {threshold} THEN 'mobile'
                           ELSE 'stable' END AS value
               FROM ({last}) lp
               LEFT JOIN stats ON stats.subscriber = lp.subscriber
               LEFT JOIN stays ON stays.subscriber = lp.subscriber"""
        ).format(
            periods=periods,
            u_unlocated=unlocated("u"),
            L=L,
            last_unlocated=unlocated("lp"),
            n=sql.Literal(len(self.locations)),
            threshold=sql.Literal(self.stay_length_threshold),
            last=self.locations[-1].get_query(ctx),
        )
