"""Differentially private releases of the count-type aggregates (FLOWMACHINE_RELEASE_MODE=differential_privacy).

Each class computes, in SQL, the exact counts after bounding every subscriber's contribution (at most `bound`
units, pairs, bins or (cell, period) pairs; at most `bound` events for event counts), over every key of the
release (`keys`: every unit of the aggregation unit, every period of the window, every bin), then hands them to
`releases.ensure_release`, which adds OpenDP's noise once and keeps the noisy rows for good. Removing or adding
one subscriber changes the bounded counts by at most `bound` in L1 distance, so `bound` is the sensitivity.

Which subscriber rows are kept under the bound is decided by a hash of each row alone (never by other
subscribers' rows), so the bounding is a per-subscriber transformation and the sensitivity holds. Nothing is
redacted: the noise, not the >15 rule, protects the release, and every key is published.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from psycopg import sql

from flowmachine.core.dp.keys import PERIOD_STEPS, period_starts, unit_keys
from flowmachine.core.dp.releases import ensure_release, release_table
from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.query import Query
from flowmachine.core.settings import Settings
from flowmachine.core.sql_parts import identifiers
from flowmachine.features.location.flows import Flows
from flowmachine.features.location.location_event_counts import (
    INTERVALS,
    LocationEventCounts,
)
from flowmachine.features.location.spatial_aggregate import SpatialAggregate
from flowmachine.features.location.total_network_objects import TotalNetworkObjects
from flowmachine.features.location.unique_subscriber_counts import UniqueSubscriberCounts
from flowmachine.features.nonspatial_aggregates.histogram_aggregation import (
    HistogramAggregation,
)
from flowmachine.features.subscriber.base_location import BaseLocation
from flowmachine.features.subscriber.unique_locations import UniqueLocations
from flowmachine.features.utilities.subscriber_locations import SubscriberLocations

if TYPE_CHECKING:
    from flowmachine.core.context import Context
    from flowmachine.core.spatial_unit import SpatialUnit


def at_most_per_subscriber(
    rows: sql.Composable, columns: Sequence[str], bound: int
) -> sql.Composable:
    """`columns` of `rows` (which have a `subscriber` column), at most `bound` rows per subscriber: those whose
    md5 is smallest (a choice made from each row alone)."""
    return sql.SQL(
        """SELECT {cols} FROM (
               SELECT {cols}, row_number() OVER (PARTITION BY subscriber ORDER BY md5(r::text)) AS dp_rank
               FROM ({rows}) r) bounded
           WHERE dp_rank <= {bound}"""
    ).format(cols=identifiers(columns), rows=rows, bound=sql.Literal(int(bound)))


def _check_epsilon_and_bound(epsilon: float, bound: int) -> tuple[float, int]:
    epsilon = float(epsilon)
    if not (math.isfinite(epsilon) and epsilon > 0):
        raise InvalidSpecError("epsilon must be a positive number")
    if isinstance(bound, bool) or int(bound) < 1:
        raise InvalidSpecError("the contribution bound must be at least 1")
    return epsilon, int(bound)


class DPCounts(Query):
    """A differentially private release of counts: `column_names` as the redacted kind's, every key present."""

    epsilon: float
    bound: int

    @property
    def sensitivity(self) -> int:
        """The L1 sensitivity of the bounded counts to one subscriber: the contribution bound."""
        return self.bound

    @property
    def key_columns(self) -> list[str]:
        return [c for c in self.column_names if c != "value"]

    @abstractmethod
    def keys(self, ctx: Context) -> sql.Composable:
        """Every key of the release (`key_columns`), chosen without reading events."""

    @abstractmethod
    def bounded_counts(self, ctx: Context) -> sql.Composable:
        """`key_columns, value`: the exact counts after contribution bounding (keys with data only)."""

    def exact_rows(self, ctx: Context) -> sql.Composed:
        """`column_names`, one row per key, `value` the exact bounded count (0 where nothing was counted)."""
        keys = self.key_columns
        on = sql.SQL(" AND ").join(
            sql.SQL("k.{c} = c.{c}").format(c=sql.Identifier(c)) for c in keys
        )
        columns = sql.SQL(", ").join(
            sql.SQL("coalesce(c.value, 0)::bigint AS value")
            if col == "value"
            else sql.Identifier("k", col)
            for col in self.column_names
        )
        return sql.SQL("SELECT {columns} FROM ({keys}) k LEFT JOIN ({counts}) c ON {on}").format(
            columns=columns, keys=self.keys(ctx), counts=self.bounded_counts(ctx), on=on
        )

    def _make_query(self, ctx: Context) -> sql.Composable:
        ensure_release(ctx, self)
        return sql.SQL("SELECT {} FROM {}").format(self.columns_sql(), release_table(self.query_id))


class _SubscribersPerUnit(DPCounts):
    """Distinct subscribers per unit of a located input, each subscriber counted at `bound` units at most."""

    @property
    @abstractmethod
    def _located(self) -> BaseLocation | SubscriberLocations:
        """The input placing subscribers at units (one of the query's parameters, so of its id)."""

    @property
    def spatial_unit(self) -> SpatialUnit:
        return self._located.spatial_unit

    @property
    def column_names(self) -> list[str]:
        return [*self._located.location_columns, "value"]

    def keys(self, ctx: Context) -> sql.Composable:
        return unit_keys(ctx, self.spatial_unit)

    def bounded_counts(self, ctx: Context) -> sql.Composable:
        L = self.key_columns
        rows = sql.SQL("SELECT DISTINCT subscriber, {L} FROM ({q}) l").format(
            L=identifiers(L), q=self._located.get_query(ctx)
        )
        return sql.SQL("SELECT {L}, count(*) AS value FROM ({b}) b GROUP BY {L}").format(
            L=identifiers(L), b=at_most_per_subscriber(rows, ["subscriber", *L], self.bound)
        )


class DPSpatialAggregate(_SubscribersPerUnit):
    """Subscribers per location of a reference location: each subscriber counted at one location at most."""

    def __init__(self, locations: BaseLocation, *, epsilon: float, bound: int = 1) -> None:
        self.locations = locations
        self.epsilon, self.bound = _check_epsilon_and_bound(epsilon, bound)
        super().__init__()

    @property
    def _located(self) -> BaseLocation:
        return self.locations


class DPUniqueSubscriberCounts(_SubscribersPerUnit):
    """Distinct subscribers seen per location: each subscriber counted at `bound` locations at most."""

    def __init__(
        self, subscriber_locations: SubscriberLocations, *, epsilon: float, bound: int
    ) -> None:
        self.subscriber_locations = subscriber_locations
        self.epsilon, self.bound = _check_epsilon_and_bound(epsilon, bound)
        super().__init__()

    @property
    def _located(self) -> SubscriberLocations:
        return self.subscriber_locations


class DPFlows(DPCounts):
    """Subscribers per (origin, destination) pair of two locations (inner join): `bound` pairs each at most."""

    def __init__(
        self,
        from_location: BaseLocation,
        to_location: BaseLocation,
        *,
        epsilon: float,
        bound: int = 1,
    ) -> None:
        if from_location.spatial_unit != to_location.spatial_unit:
            raise InvalidSpecError("from_location and to_location must use the same spatial unit")
        self.from_location = from_location
        self.to_location = to_location
        self.epsilon, self.bound = _check_epsilon_and_bound(epsilon, bound)
        super().__init__()

    @property
    def spatial_unit(self) -> SpatialUnit:
        return self.from_location.spatial_unit

    @property
    def column_names(self) -> list[str]:
        L = self.from_location.location_columns
        return [*(f"{c}_from" for c in L), *(f"{c}_to" for c in L), "value"]

    def _sides(self, alias_from: str, alias_to: str) -> sql.Composable:
        L = self.from_location.location_columns
        return sql.SQL(", ").join(
            [
                *(
                    sql.SQL("{} AS {}").format(
                        sql.Identifier(alias_from, c), sql.Identifier(f"{c}_from")
                    )
                    for c in L
                ),
                *(
                    sql.SQL("{} AS {}").format(
                        sql.Identifier(alias_to, c), sql.Identifier(f"{c}_to")
                    )
                    for c in L
                ),
            ]
        )

    def keys(self, ctx: Context) -> sql.Composable:
        units = unit_keys(ctx, self.spatial_unit)
        return sql.SQL("SELECT {sides} FROM ({a}) a CROSS JOIN ({b}) b").format(
            sides=self._sides("a", "b"), a=units, b=units
        )

    def bounded_counts(self, ctx: Context) -> sql.Composable:
        keys = self.key_columns
        pairs = sql.SQL(
            "SELECT DISTINCT a.subscriber, {sides} FROM ({a}) a JOIN ({b}) b ON a.subscriber = b.subscriber"
        ).format(
            sides=self._sides("a", "b"),
            a=self.from_location.get_query(ctx),
            b=self.to_location.get_query(ctx),
        )
        return sql.SQL("SELECT {K}, count(*) AS value FROM ({b}) b GROUP BY {K}").format(
            K=identifiers(keys), b=at_most_per_subscriber(pairs, ["subscriber", *keys], self.bound)
        )


# The bucket columns of location_event_counts, from the bucket's start.
_BUCKET_COLUMNS = {
    "date": "(bucket::date)::text",
    "hour": "extract(hour FROM bucket)::integer",
    "min": "extract(minute FROM bucket)::integer",
}
_INTERVAL_PERIOD = {"day": "day", "hour": "hour", "min": "minute", "week": "week", "month": "month"}


class DPLocationEventCounts(DPCounts):
    """Events per location and day, hour or minute: at most `bound` events of each subscriber counted."""

    def __init__(
        self,
        subscriber_locations: SubscriberLocations,
        *,
        interval: str,
        epsilon: float,
        bound: int,
    ) -> None:
        if interval not in INTERVALS or interval not in _INTERVAL_PERIOD:
            raise InvalidSpecError(f"interval {interval!r} has no differentially private release")
        self.subscriber_locations = subscriber_locations
        self.interval = interval
        self.epsilon, self.bound = _check_epsilon_and_bound(epsilon, bound)
        super().__init__()

    @property
    def spatial_unit(self) -> SpatialUnit:
        return self.subscriber_locations.spatial_unit

    @property
    def column_names(self) -> list[str]:
        return [*self.subscriber_locations.location_columns, *INTERVALS[self.interval], "value"]

    def _bucket_columns(self) -> sql.Composable:
        return sql.SQL(", ").join(
            sql.SQL("{} AS {}").format(sql.SQL(_BUCKET_COLUMNS[b]), sql.Identifier(b))
            for b in INTERVALS[self.interval]
        )

    def keys(self, ctx: Context) -> sql.Composable:
        L = self.subscriber_locations.location_columns
        periods = period_starts(
            self.subscriber_locations.start,
            self.subscriber_locations.stop,
            _INTERVAL_PERIOD[self.interval],
        )
        return sql.SQL("SELECT {L}, {buckets} FROM ({units}) u CROSS JOIN ({periods}) p").format(
            L=identifiers(L, "u"),
            buckets=self._bucket_columns(),
            units=unit_keys(ctx, self.spatial_unit),
            periods=periods,
        )

    def bounded_counts(self, ctx: Context) -> sql.Composable:
        L = list(self.subscriber_locations.location_columns)
        events = sql.SQL("SELECT subscriber, time, {L} FROM ({q}) s").format(
            L=identifiers(L), q=self.subscriber_locations.get_query(ctx)
        )
        return sql.SQL(
            """SELECT {L}, {buckets}, count(*) AS value
               FROM (SELECT {L}, date_trunc({period}, time) AS bucket FROM ({b}) b) e
               GROUP BY {L}, bucket"""
        ).format(
            L=identifiers(L),
            buckets=self._bucket_columns(),
            period=sql.Literal(_INTERVAL_PERIOD[self.interval]),
            b=at_most_per_subscriber(events, ["subscriber", "time", *L], self.bound),
        )


class DPTotalNetworkObjects(DPCounts):
    """Distinct cells with events per location and period, each subscriber making at most `bound` (cell,
    period) pairs count: removing a subscriber takes at most `bound` cells out of the (location, period)
    totals, one each."""

    def __init__(
        self,
        subscriber_locations: SubscriberLocations,
        *,
        total_by: str,
        epsilon: float,
        bound: int,
    ) -> None:
        if total_by not in PERIOD_STEPS:
            raise InvalidSpecError(f"total_by {total_by!r} has no differentially private release")
        self.subscriber_locations = subscriber_locations
        self.total_by = total_by
        self.epsilon, self.bound = _check_epsilon_and_bound(epsilon, bound)
        super().__init__()

    @property
    def spatial_unit(self) -> SpatialUnit:
        return self.subscriber_locations.spatial_unit

    @property
    def column_names(self) -> list[str]:
        return [*self.subscriber_locations.location_columns, "value", "datetime"]

    def keys(self, ctx: Context) -> sql.Composable:
        L = self.subscriber_locations.location_columns
        periods = period_starts(
            self.subscriber_locations.start, self.subscriber_locations.stop, self.total_by
        )
        return sql.SQL(
            "SELECT {L}, p.bucket AS datetime FROM ({units}) u CROSS JOIN ({periods}) p"
        ).format(L=identifiers(L, "u"), units=unit_keys(ctx, self.spatial_unit), periods=periods)

    def bounded_counts(self, ctx: Context) -> sql.Composable:
        L = list(self.subscriber_locations.location_columns)
        cell = [] if "location_id" in L else ["location_id"]
        cells = sql.SQL(
            "SELECT DISTINCT subscriber, {cols}, date_trunc({by}, time) AS datetime FROM ({q}) s"
        ).format(
            cols=identifiers([*cell, *L]),
            by=sql.Literal(self.total_by),
            q=self.subscriber_locations.get_query(ctx),
        )
        return sql.SQL(
            """SELECT {L}, datetime, count(DISTINCT location_id) AS value
               FROM ({b}) b GROUP BY {L}, datetime"""
        ).format(
            L=identifiers(L),
            b=at_most_per_subscriber(cells, ["subscriber", *cell, *L, "datetime"], self.bound),
        )


class _OneValuePerSubscriber(Query):
    """A per-subscriber metric with at most `bound` rows per subscriber (never stored)."""

    storable = False

    def __init__(self, metric: Query, *, bound: int) -> None:
        if "subscriber" not in metric.column_names or "value" not in metric.column_names:
            raise InvalidSpecError(
                "a differentially private histogram needs a per-subscriber metric"
            )
        self.metric = metric
        self.bound = int(bound)
        super().__init__()

    @property
    def column_names(self) -> list[str]:
        return ["subscriber", "value"]

    def _make_query(self, ctx: Context) -> sql.Composable:
        rows = sql.SQL("SELECT subscriber, value FROM ({}) m WHERE value IS NOT NULL").format(
            self.metric.get_query(ctx)
        )
        return at_most_per_subscriber(rows, ["subscriber", "value"], self.bound)


class DPHistogram(DPCounts):
    """Subscribers per bin of a metric whose bins are fixed by the spec (edges, or a count over a range)."""

    def __init__(
        self,
        metric: Query,
        *,
        bins: int | Sequence[float],
        range: Sequence[float] | None,
        epsilon: float,
        bound: int = 1,
    ) -> None:
        if isinstance(bins, int) and not isinstance(bins, bool) and range is None:
            raise InvalidSpecError(
                "a differentially private histogram needs bin edges, or a number of bins with a range "
                "(bins taken from the data's minimum and maximum would depend on the data)"
            )
        self.metric = metric
        self.bins = bins if isinstance(bins, int) else tuple(float(b) for b in bins)
        self.range = None if range is None else tuple(float(r) for r in range)
        self.epsilon, self.bound = _check_epsilon_and_bound(epsilon, bound)
        super().__init__()

    @property
    def column_names(self) -> list[str]:
        return ["value", "lower_edge", "upper_edge"]

    def _histogram(self) -> HistogramAggregation:
        return HistogramAggregation(
            _OneValuePerSubscriber(self.metric, bound=self.bound),
            bins=self.bins,
            range=self.range,
            redact=False,
        )

    def keys(self, ctx: Context) -> sql.Composable:
        return sql.SQL("SELECT lower_edge, upper_edge FROM ({}) h").format(
            self._histogram().get_query(ctx)
        )

    def bounded_counts(self, ctx: Context) -> sql.Composable:
        return sql.SQL("SELECT lower_edge, upper_edge, value FROM ({}) h").format(
            self._histogram().get_query(ctx)
        )

    def exact_rows(self, ctx: Context) -> sql.Composed:
        # every bin is a row of the unredacted histogram (empty bins count 0), its edges from the spec alone
        return sql.SQL("SELECT value::bigint AS value, lower_edge, upper_edge FROM ({}) h").format(
            self._histogram().get_query(ctx)
        )


def dp_release_of(aggregate: Query, *, epsilon: float, settings: Settings) -> DPCounts:
    """The differentially private release of a (redacted) count-type aggregate, with the settings' bounds."""
    if isinstance(aggregate, SpatialAggregate):
        return DPSpatialAggregate(aggregate.locations, epsilon=epsilon, bound=1)
    if isinstance(aggregate, UniqueSubscriberCounts):
        return DPUniqueSubscriberCounts(
            aggregate.subscriber_locations,
            epsilon=epsilon,
            bound=settings.dp_max_units_per_subscriber,
        )
    if isinstance(aggregate, Flows):
        if aggregate.join_type != "inner":
            raise InvalidSpecError("differentially private flows need join_type inner")
        multi = any(
            isinstance(q, UniqueLocations) for q in (aggregate.from_location, aggregate.to_location)
        )
        return DPFlows(
            aggregate.from_location,
            aggregate.to_location,
            epsilon=epsilon,
            bound=settings.dp_max_units_per_subscriber if multi else 1,
        )
    if isinstance(aggregate, LocationEventCounts):
        return DPLocationEventCounts(
            aggregate.subscriber_locations,
            interval=aggregate.interval,
            epsilon=epsilon,
            bound=settings.dp_max_events_per_subscriber,
        )
    if isinstance(aggregate, TotalNetworkObjects):
        return DPTotalNetworkObjects(
            aggregate.subscriber_locations,
            total_by=aggregate.total_by,
            epsilon=epsilon,
            bound=settings.dp_max_units_per_subscriber,
        )
    if isinstance(aggregate, HistogramAggregation):
        return DPHistogram(
            aggregate.metric, bins=aggregate.bins, range=aggregate.range, epsilon=epsilon
        )
    raise InvalidSpecError(f"{type(aggregate).__name__} has no differentially private release")


def release_epsilon(query: Any) -> float | None:
    """The epsilon a query's result spends (None for anything but a differentially private release)."""
    return query.epsilon if isinstance(query, DPCounts) else None
