"""Counts of subscribers per reference location who were (or were not) seen at it, and who never moved.

- `ActiveAtReferenceLocationCounts(unique_locations, reference_locations)`: per reference location, the
  subscribers assigned to it who were also seen there (their unique locations include it).
- `UniqueVisitorCounts(active_at_reference_location_counts, unique_subscriber_counts)`: per location, the
  subscribers seen there who are not among its active "residents" (the set difference, computed per
  subscriber), redacted so that no released number, nor its difference with the released unique subscriber
  or active-at-reference counts, rests on 15 or fewer subscribers (FlowKit issue #5258).
- `UnmovingCounts(unique_locations)`: per location, the subscribers seen at that location only.
- `UnmovingAtReferenceLocationCounts(unique_locations, reference_locations)`: per reference location, the
  subscribers assigned to it who were seen nowhere else (and somewhere).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.query import Query
from flowmachine.core.redaction import REDACTION_THRESHOLD, having
from flowmachine.core.sampled_release import (
    is_sampled,
    publish_where_sample_leaves_out_none_or_many,
    refuse_sampled,
    unsampled,
)
from flowmachine.core.sql_parts import identifiers
from flowmachine.features.location.unique_subscriber_counts import UniqueSubscriberCounts
from flowmachine.features.subscriber.base_location import BaseLocation

if TYPE_CHECKING:
    from flowmachine.core.context import Context


def _same_location(a: str, b: str, columns: tuple[str, ...]) -> sql.Composable:
    """`a.c1 = b.c1 AND a.c2 = b.c2 ...` over the location columns."""
    return sql.SQL(" AND ").join(
        sql.SQL("{} = {}").format(sql.Identifier(a, c), sql.Identifier(b, c)) for c in columns
    )


class _LocationCounts(Query):
    """`<location columns>, value` over one spatial unit."""

    reference_locations: BaseLocation
    unique_locations: BaseLocation

    def _check_units(self, a: BaseLocation, b: BaseLocation, what: str) -> None:
        if a.spatial_unit != b.spatial_unit:
            raise InvalidSpecError(f"{what} must use the same spatial unit")

    @property
    def location_columns(self) -> tuple[str, ...]:
        return self.unique_locations.location_columns

    @property
    def spatial_unit(self):
        return self.unique_locations.spatial_unit

    @property
    def column_names(self) -> list[str]:
        return [*self.location_columns, "value"]


class _ReferenceLocationCounts(_LocationCounts):
    """Counts per reference location; of a sampled `reference_locations`, a location is published only where
    the sample leaves out 0 or more than 15 of its unsampled count (`core.sampled_release`)."""

    def __init__(
        self,
        unique_locations: BaseLocation,
        reference_locations: BaseLocation,
        *,
        redact: bool = True,
    ) -> None:
        self._check_units(unique_locations, reference_locations, self._units_message)
        self.unique_locations = unique_locations
        self.reference_locations = reference_locations
        self.redact = bool(redact)
        self._sampled = self.redact and is_sampled(unique_locations, reference_locations)
        super().__init__()

    _units_message: str

    def _counts(self, ctx: Context) -> sql.Composable:
        raise NotImplementedError

    def _make_query(self, ctx: Context) -> sql.Composable:
        if not self._sampled:
            return self._counts(ctx)
        full = type(self)(
            unsampled(self.unique_locations), unsampled(self.reference_locations), redact=False
        )
        return publish_where_sample_leaves_out_none_or_many(
            self._counts(ctx), full.get_query(ctx), self.location_columns
        )


class ActiveAtReferenceLocationCounts(_ReferenceLocationCounts):
    """Subscribers per reference location who were seen there; 15 or fewer are left out."""

    _units_message = "unique_locations and reference_locations"

    def _counts(self, ctx: Context) -> sql.Composable:
        L = self.location_columns
        # unique locations hold one row per (subscriber, location): at most one match per reference row
        return sql.SQL(
            """SELECT {rL}, count(u.subscriber) AS value
               FROM ({ref}) r LEFT JOIN ({ul}) u ON u.subscriber = r.subscriber AND {same}
               GROUP BY {rL}{having}"""
        ).format(
            rL=identifiers(L, "r"),
            ref=self.reference_locations.get_query(ctx),
            ul=self.unique_locations.get_query(ctx),
            same=_same_location("u", "r", L),
            having=having(self.redact, sql.SQL("count(u.subscriber)")),
        )


class UniqueVisitorCounts(_LocationCounts):
    """Subscribers seen at each location (in the unique subscriber counts' window) who are not active there
    at their reference location.

    A row is published only if the visitors, the seen residents (seen and active) and the unseen residents
    (active but not seen in that window: none when both windows are the same) each number either more than
    15, the unseen residents also possibly none. So neither this value nor its difference with the published
    unique subscriber count or active-at-reference count of the same location rests on 15 or fewer.
    """

    def __init__(
        self,
        active_at_reference_location_counts: ActiveAtReferenceLocationCounts,
        unique_subscriber_counts: UniqueSubscriberCounts,
        *,
        redact: bool = True,
    ) -> None:
        active = active_at_reference_location_counts
        seen = unique_subscriber_counts.subscriber_locations
        if active.spatial_unit != seen.spatial_unit:
            raise InvalidSpecError(
                "active_at_reference_location_counts and unique_subscriber_counts must use the same "
                "spatial unit"
            )
        # a sample moves subscribers between visitors and residents: no per-location count of it is sound
        if redact:
            refuse_sampled(
                active.unique_locations,
                active.reference_locations,
                seen,
                kind="unique_visitor_counts",
            )
        # the inputs' pieces, not their (redacted) counts: the difference is taken per subscriber
        self.unique_locations = active.unique_locations
        self.reference_locations = active.reference_locations
        self.subscriber_locations = seen
        self.redact = bool(redact)
        super().__init__()

    def _make_query(self, ctx: Context) -> sql.Composable:
        L = self.location_columns
        visitors = sql.SQL("count(*) FILTER (WHERE seen AND NOT active)")
        condition: sql.Composable
        if self.redact:
            t = sql.Literal(REDACTION_THRESHOLD)
            condition = sql.SQL(
                " HAVING {visitors} > {t} AND count(*) FILTER (WHERE seen AND active) > {t}"
                " AND count(*) FILTER (WHERE active AND NOT seen) NOT BETWEEN 1 AND {t}"
            ).format(visitors=visitors, t=t)
        else:
            condition = sql.SQL("")
        return sql.SQL(
            """SELECT {L}, {visitors} AS value FROM (
                 SELECT {coalesced}, s.subscriber IS NOT NULL AS seen, a.subscriber IS NOT NULL AS active
                 FROM (SELECT DISTINCT subscriber, {L} FROM ({seen}) x) s
                 FULL JOIN (SELECT r.subscriber, {rL}
                            FROM ({ref}) r JOIN ({ul}) u ON u.subscriber = r.subscriber AND {ur}) a
                   ON a.subscriber = s.subscriber AND {sa}
               ) j
               GROUP BY {L}{condition}"""
        ).format(
            L=identifiers(L),
            visitors=visitors,
            coalesced=sql.SQL(", ").join(
                sql.SQL("coalesce(s.{c}, a.{c}) AS {c}").format(c=sql.Identifier(c)) for c in L
            ),
            seen=self.subscriber_locations.get_query(ctx),
            rL=identifiers(L, "r"),
            ref=self.reference_locations.get_query(ctx),
            ul=self.unique_locations.get_query(ctx),
            ur=_same_location("u", "r", L),
            sa=_same_location("a", "s", L),
            condition=condition,
        )


class UnmovingCounts(_LocationCounts):
    """Subscribers per location who were seen at that location only; 15 or fewer are left out, and, of a
    sample, locations where it leaves out 1–15 of the unsampled count (`core.sampled_release`)."""

    def __init__(self, unique_locations: BaseLocation, *, redact: bool = True) -> None:
        self.unique_locations = unique_locations
        self.redact = bool(redact)
        self._sampled = self.redact and is_sampled(unique_locations)
        super().__init__()

    def _make_query(self, ctx: Context) -> sql.Composable:
        if not self._sampled:
            return self._counts(ctx)
        full = UnmovingCounts(unsampled(self.unique_locations), redact=False)
        return publish_where_sample_leaves_out_none_or_many(
            self._counts(ctx), full.get_query(ctx), self.location_columns
        )

    def _counts(self, ctx: Context) -> sql.Composable:
        L = identifiers(self.location_columns)
        return sql.SQL(
            """SELECT {L}, count(*) AS value FROM (
                 SELECT subscriber, {L}, count(*) OVER (PARTITION BY subscriber) AS n FROM ({ul}) u
               ) c WHERE n = 1
               GROUP BY {L}{having}"""
        ).format(
            L=L,
            ul=self.unique_locations.get_query(ctx),
            having=having(self.redact, sql.SQL("count(*)")),
        )


class UnmovingAtReferenceLocationCounts(_ReferenceLocationCounts):
    """Subscribers per reference location seen there and nowhere else; 15 or fewer are left out."""

    _units_message = "locations and reference_locations"

    def _counts(self, ctx: Context) -> sql.Composable:
        L = self.location_columns
        unmoving = sql.SQL("count(*) FILTER (WHERE unmoving)")
        return sql.SQL(
            """SELECT {L}, {unmoving} AS value FROM (
                 SELECT r.subscriber, {rL}, coalesce(bool_and({ur}), false) AS unmoving
                 FROM ({ref}) r JOIN ({ul}) u ON u.subscriber = r.subscriber
                 GROUP BY r.subscriber, {rL}
               ) m
               GROUP BY {L}{having}"""
        ).format(
            L=identifiers(L),
            unmoving=unmoving,
            rL=identifiers(L, "r"),
            ur=_same_location("u", "r", L),
            ref=self.reference_locations.get_query(ctx),
            ul=self.unique_locations.get_query(ctx),
            having=having(self.redact, unmoving),
        )
