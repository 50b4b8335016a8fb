"""Subscribers per location and per label, and labelled flows, redacted location by location.

`labels` is a per-subscriber query whose `value` column is the label (a mobility classification, an activity
pattern). Locations are LEFT JOINed to labels, so subscribers without a label form their own (NULL) label row.
With redaction, a location (or an origin-destination pair) is published only if *every* one of its label rows
rests on more than 15 subscribers; otherwise all its rows are dropped, so no label count can be derived from
the others.

Of a sample (the locations, the labels or both a `RandomSample`), a key is published only where, for each of
its labels and for the key as a whole, the sample leaves out (or moves to another label) 0 or more than 15 of
the unsampled subscribers (`core.sampled_release`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.query import Query
from flowmachine.core.redaction import more_than_threshold
from flowmachine.core.sampled_release import (
    is_sampled,
    publish_keys_where_sample_leaves_out_none_or_many,
    unsampled,
)
from flowmachine.core.sql_parts import identifiers
from flowmachine.features.location.flows import _FlowBase
from flowmachine.features.subscriber.base_location import BaseLocation

if TYPE_CHECKING:
    from flowmachine.core.context import Context


def _check_labels(labels: Query) -> None:
    if labels.column_names[:1] != ["subscriber"] or "value" not in labels.column_names:
        raise InvalidSpecError("labels must be a per-subscriber query with a value column")


def labelled_counts(
    keys: list[str], rows: sql.Composable, labels: sql.Composable, redact: bool
) -> sql.Composable:
    """`<keys>, value_label, value`: subscribers of `rows` (`subscriber, <keys>`) per key and label, with the
    whole key dropped (when redacting) unless each of its label rows has more than 15."""
    K = identifiers(keys)
    counts = sql.SQL(
        """SELECT {rK}, lb.value AS value_label, count(*) AS value
           FROM ({rows}) r LEFT JOIN ({labels}) lb ON lb.subscriber = r.subscriber
           GROUP BY {rK}, lb.value"""
    ).format(rK=identifiers(keys, "r"), rows=rows, labels=labels)
    if not redact:
        return counts
    return sql.SQL(
        """SELECT {K}, value_label, value FROM (
               SELECT c.*, min(c.value) OVER (PARTITION BY {cK}) AS smallest FROM ({counts}) c) m
           WHERE {enough}"""
    ).format(
        K=K,
        cK=identifiers(keys, "c"),
        counts=counts,
        enough=more_than_threshold(sql.Identifier("smallest")),
    )


def label_and_key_counts(
    keys: list[str], rows: sql.Composable, labels: sql.Composable
) -> sql.Composable:
    """`<keys>, value_label, is_total, value`: subscribers of `rows` per key and label (`is_total` 0) and per
    key (`is_total` 1, `value_label` NULL), unredacted."""
    rK = identifiers(keys, "r")
    return sql.SQL(
        """SELECT {rK}, lb.value AS value_label, grouping(lb.value) AS is_total, count(*) AS value
           FROM ({rows}) r LEFT JOIN ({labels}) lb ON lb.subscriber = r.subscriber
           GROUP BY GROUPING SETS (({rK}, lb.value), ({rK}))"""
    ).format(rK=rK, rows=rows, labels=labels)


def checked_against_unsampled(
    release: sql.Composable,
    keys: list[str],
    sampled_counts: sql.Composable,
    unsampled_counts: sql.Composable,
) -> sql.Composable:
    """`release` (over a sample) keeping the keys where every label count and the key's total differ from
    the unsampled ones by 0 or more than 15."""
    return publish_keys_where_sample_leaves_out_none_or_many(
        release,
        sampled_counts,
        unsampled_counts,
        keys,
        ["value"],
        parts=["value_label", "is_total"],
    )


class LabelledSpatialAggregate(Query):
    """`<location columns>, value_label, value`: subscribers per location and label."""

    def __init__(self, locations: BaseLocation, labels: Query, *, redact: bool = True) -> None:
        _check_labels(labels)
        self.locations = locations
        self.labels = labels
        self.redact = bool(redact)
        self._sampled = self.redact and is_sampled(locations, labels)
        super().__init__()

    @property
    def spatial_unit(self):
        return self.locations.spatial_unit

    @property
    def location_columns(self) -> tuple[str, ...]:
        return self.locations.location_columns

    @property
    def column_names(self) -> list[str]:
        return [*self.location_columns, "value_label", "value"]

    def _make_query(self, ctx: Context) -> sql.Composable:
        keys = list(self.location_columns)
        release = labelled_counts(
            keys, self.locations.get_query(ctx), self.labels.get_query(ctx), self.redact
        )
        if not self._sampled:
            return release
        full = LabelledSpatialAggregate(
            unsampled(self.locations), unsampled(self.labels), redact=False
        )
        return checked_against_unsampled(
            release, keys, self._label_and_key_counts(ctx), full._label_and_key_counts(ctx)
        )

    def _label_and_key_counts(self, ctx: Context) -> sql.Composable:
        return label_and_key_counts(
            list(self.location_columns), self.locations.get_query(ctx), self.labels.get_query(ctx)
        )


class LabelledFlows(_FlowBase):
    """`<L>_from…, <L>_to…, value_label, value`: subscribers per (origin, destination) pair and label."""

    def __init__(
        self,
        from_location: BaseLocation,
        to_location: BaseLocation,
        labels: Query,
        *,
        join_type: str = "inner",
        redact: bool = True,
    ) -> None:
        _check_labels(labels)
        self.labels = labels
        super().__init__(from_location, to_location, join_type=join_type, redact=redact)
        self._sampled = self.redact and is_sampled(from_location, to_location, labels)

    @property
    def column_names(self) -> list[str]:
        L = self.location_columns
        return [*(f"{c}_from" for c in L), *(f"{c}_to" for c in L), "value_label", "value"]

    def _make_query(self, ctx: Context) -> sql.Composable:
        keys = self.column_names[:-2]
        release = labelled_counts(keys, self._pairs(ctx), self.labels.get_query(ctx), self.redact)
        if not self._sampled:
            return release
        full = LabelledFlows(
            unsampled(self.from_location),
            unsampled(self.to_location),
            unsampled(self.labels),
            join_type=self.join_type,
            redact=False,
        )
        return checked_against_unsampled(
            release, keys, self._label_and_key_counts(ctx), full._label_and_key_counts(ctx)
        )

    def _label_and_key_counts(self, ctx: Context) -> sql.Composable:
        return label_and_key_counts(
            self.column_names[:-2], self._pairs(ctx), self.labels.get_query(ctx)
        )
