"""Meaningful locations: each subscriber's sites clustered (Hartigan leader clustering), scored by the hours and
days of the week of their events, and labelled by the region of the score plane they fall in.

- `CallDays`: per (subscriber, site, version) the number of distinct days with a located event.
- `HartiganCluster`: each subscriber's sites, most call days first (ties: smaller site id, then version), each
  joining the first existing cluster whose centroid is less than `radius` km away (great-circle distance on a
  sphere of radius 6371.0088 km), else starting a new one (`rank` = creation order). A cluster's centroid is the
  call-day-weighted mean lon/lat of its sites and its weight the sum of their call days; clusters weighing less
  than `call_threshold` are dropped. The clustering itself is FlowDB's `public.leader_clusters` (a plpgsql
  function, migration 0004): each site depends on every cluster made before it, which set-based SQL can only
  follow one recursion step per site.
- `EventScore`: per (subscriber, site, version) the mean hour-of-day and day-of-week scores of its events.
- `SiteScores`: both of the above from one pass over the events.
- `LabelEventScore`: per cluster, the unweighted mean of its sites' scores, labelled by the label shape that
  strictly contains the point (score_hour, score_dow), else `unknown` (on a boundary too).
- `LabelledClusters`: `LabelEventScore` of `HartiganCluster(sites)` with the scores of the same `SiteScores`, in
  one statement: the scores ride along in the clustering, so no site is joined back to its scores. What
  `MeaningfulLocations` uses.
- `MeaningfulLocations`: the clusters carrying one label, with the subscriber's number of such clusters.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from psycopg import sql

from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.query import Query
from flowmachine.core.spatial_unit import VersionedSiteSpatialUnit
from flowmachine.features.utilities.label_shapes import UNKNOWN_LABEL, closed_labels
from flowmachine.features.utilities.subscriber_locations import SubscriberLocations

if TYPE_CHECKING:
    from flowmachine.core.context import Context

EARTH_RADIUS_KM = 6371.0088
DAYS_OF_WEEK = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def haversine_km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in km between two lon/lat points (degrees), on a sphere, as FlowDB's
    `public.leader_clusters` measures it."""
    a = (
        math.sin(math.radians(lat2 - lat1) / 2) ** 2
        + math.cos(math.radians(lat1))
        * math.cos(math.radians(lat2))
        * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


class CallDays(Query):
    """`subscriber, site_id, version, lon, lat, value`: days with an event at each site version."""

    def __init__(self, subscriber_locations: SubscriberLocations) -> None:
        if not isinstance(subscriber_locations.spatial_unit, VersionedSiteSpatialUnit):
            raise InvalidSpecError("CallDays needs subscriber locations at the versioned-site unit")
        self.subscriber_locations = subscriber_locations
        super().__init__()

    @property
    def column_names(self) -> list[str]:
        return ["subscriber", "site_id", "version", "lon", "lat", "value"]

    def _make_query(self, ctx: Context) -> sql.Composable:
        return sql.SQL(
            """SELECT subscriber, site_id, version, lon, lat, count(DISTINCT time::date) AS value
               FROM ({locations}) l GROUP BY subscriber, site_id, version, lon, lat"""
        ).format(locations=self.subscriber_locations.get_query(ctx))


# The order in which a subscriber's sites are clustered: most call days first, then site id, then version.
CLUSTERING_ORDER = sql.SQL("ORDER BY value DESC, site_id, version")


def _checked_clustering(points: Query, radius: float, call_threshold: int) -> tuple[float, int]:
    """The radius and call threshold of a clustering of `points`, checked (with `points`' columns)."""
    radius = float(radius)
    if not math.isfinite(radius) or radius <= 0:
        raise InvalidSpecError(
            f"the cluster radius must be a positive number of km, not {radius!r}"
        )
    missing = {"subscriber", "site_id", "version", "lon", "lat", "value"} - set(points.column_names)
    if missing:
        raise InvalidSpecError(f"HartiganCluster input lacks the columns {sorted(missing)}")
    return radius, int(call_threshold)


class HartiganCluster(Query):
    """`subscriber, rank, calldays, lon, lat, site_id[], version[]`: each subscriber's clusters of sites.

    `calldays` is any query with columns `subscriber, site_id, version, lon, lat, value` (value = weight).
    """

    def __init__(self, calldays: Query, radius: float, call_threshold: int = 0) -> None:
        self.calldays = calldays
        self.radius, self.call_threshold = _checked_clustering(calldays, radius, call_threshold)
        super().__init__()

    @property
    def column_names(self) -> list[str]:
        return ["subscriber", "rank", "calldays", "lon", "lat", "site_id", "version"]

    def _make_query(self, ctx: Context) -> sql.Composable:
        # One row per subscriber with their sites in clustering order, as rows (lon, lat, weight) of one
        # array and their ids in two more, clustered by FlowDB's procedural public.leader_clusters (migration
        # 0004), which gives each cluster's rank, weight and centroid, and the rank of the cluster each site
        # joined.

        def members(column: str) -> sql.Composable:
            return sql.SQL(
                "ARRAY(SELECT s.{}[i] FROM generate_subscripts(c.assignment, 1) i "
                "WHERE c.assignment[i] = c.rank ORDER BY i)"
            ).format(sql.Identifier(column))

        return sql.SQL(
            """SELECT s.subscriber, c.rank, c.weight AS calldays, c.lon, c.lat,
                      {site_ids} AS site_id, {versions} AS version
               FROM (SELECT subscriber, array_agg(site_id {order}) AS site_id,
                            array_agg(version {order}) AS version,
                            array_agg(ARRAY[lon::float8, lat::float8, value::float8] {order}) AS points
                     FROM ({calldays}) c GROUP BY subscriber) s
               CROSS JOIN LATERAL public.leader_clusters(s.points, {radius}) c
               WHERE c.weight >= {threshold}"""
        ).format(
            order=CLUSTERING_ORDER,
            site_ids=members("site_id"),
            versions=members("version"),
            calldays=self.calldays.get_query(ctx),
            radius=sql.Literal(self.radius),
            threshold=sql.Literal(self.call_threshold),
        )


# The columns of a labelled clustering: LabelEventScore's, and LabelledClusters' which gives the same rows.
LABELLED_CLUSTER_COLUMNS = ("subscriber", "rank", "lon", "lat", "score_hour", "score_dow", "label")


def _checked_labels(labels: Mapping[str, Any]) -> dict[str, Any]:
    """`labels` checked, in name order, every ring closed (`closed_labels`): a label given with open rings
    (as FlowKit accepts them) is the same query as with closed ones."""
    return closed_labels(labels)


def _label_case(labels: Mapping[str, Any], score_hour: str, score_dow: str) -> sql.Composable:
    """`CASE ... END`: the first label (in name order) whose shape strictly contains the point (score_hour,
    score_dow), else `unknown` (on a boundary too). `score_hour`/`score_dow` are column names."""
    point = sql.SQL("ST_MakePoint({}, {})").format(
        sql.Identifier(*score_hour.split(".")), sql.Identifier(*score_dow.split("."))
    )
    cases = sql.SQL(" ").join(
        sql.SQL("WHEN ST_Contains(ST_SetSRID(ST_GeomFromGeoJSON({g}), 0), {p}) THEN {l}").format(
            g=sql.Literal(json.dumps(labels[label], sort_keys=True)), p=point, l=sql.Literal(label)
        )
        for label in sorted(labels)
    )
    return sql.SQL("CASE {cases} ELSE {unknown} END").format(
        cases=cases, unknown=sql.Literal(UNKNOWN_LABEL)
    )


def _score(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidSpecError(f"{what} must be a number")
    value = float(value)
    if not -1 <= value <= 1:
        raise InvalidSpecError(f"{what} must be between -1 and 1, not {value!r}")
    return value


def _checked_scores(
    hour_scores: Sequence[float], day_scores: Mapping[str, float]
) -> tuple[list[float], dict[str, float]]:
    if len(hour_scores) != 24:
        raise InvalidSpecError("tower_hour_of_day_scores must have 24 values")
    unknown = set(day_scores) - set(DAYS_OF_WEEK)
    missing = set(DAYS_OF_WEEK) - set(day_scores)
    if unknown or missing:
        raise InvalidSpecError(
            "tower_day_of_week_scores needs exactly the days " + ", ".join(DAYS_OF_WEEK)
        )
    return (
        [_score(v, "an hour score") for v in hour_scores],
        {d: _score(day_scores[d], "a day score") for d in DAYS_OF_WEEK},
    )


def _score_sql(
    hour_scores: Sequence[float], day_scores: Mapping[str, float]
) -> tuple[sql.Composable, sql.Composable]:
    """The hour-of-day and day-of-week scores of an event at `time`, as two float8 expressions."""
    hours = sql.SQL(", ").join(sql.Literal(v) for v in hour_scores)
    days = sql.SQL(", ").join(sql.Literal(day_scores[d]) for d in DAYS_OF_WEEK)
    return (
        sql.SQL("(ARRAY[{}]::float8[])[extract(hour FROM time)::int + 1]").format(hours),
        sql.SQL("(ARRAY[{}]::float8[])[extract(isodow FROM time)::int]").format(days),
    )


class EventScore(Query):
    """`subscriber, site_id, version, score_hour, score_dow`: mean scores of the events at each site version.

    An event's hour score is `hour_scores[hour]` (0..23), its day score `day_scores[day name]` (monday..sunday).
    """

    def __init__(
        self,
        subscriber_locations: SubscriberLocations,
        hour_scores: Sequence[float],
        day_scores: Mapping[str, float],
    ) -> None:
        if not isinstance(subscriber_locations.spatial_unit, VersionedSiteSpatialUnit):
            raise InvalidSpecError(
                f"{type(self).__name__} needs subscriber locations at the versioned-site unit"
            )
        self.subscriber_locations = subscriber_locations
        self.hour_scores, self.day_scores = _checked_scores(hour_scores, day_scores)
        super().__init__()

    @property
    def column_names(self) -> list[str]:
        return ["subscriber", "site_id", "version", "score_hour", "score_dow"]

    def _make_query(self, ctx: Context) -> sql.Composable:
        hour, dow = _score_sql(self.hour_scores, self.day_scores)
        return sql.SQL(
            """SELECT subscriber, site_id, version, avg(score_hour) AS score_hour,
                      avg(score_dow) AS score_dow
               FROM (SELECT subscriber, site_id, version, {hour} AS score_hour, {dow} AS score_dow
                     FROM ({locations}) l) e
               GROUP BY subscriber, site_id, version"""
        ).format(hour=hour, dow=dow, locations=self.subscriber_locations.get_query(ctx))


class SiteScores(EventScore):
    """`subscriber, site_id, version, lon, lat, value, score_hour, score_dow`: `CallDays` and `EventScore` of
    each site version together, from one pass over the events (what `MeaningfulLocations` clusters and labels).
    """

    # PostgreSQL takes every (subscriber, site, day) for a group of its own (10.5 M estimated, 3 M actual on
    # 7 days of 1.5 M calls) and plans one process hashing them, spilling to disk; sorted in parallel and
    # grouped in order they take 0.7x the time, and the per-subscriber clustering above reads them in order
    # (bench/RESULTS.md, row i).
    planner_settings: ClassVar[Mapping[str, str]] = {"enable_hashagg": "off"}

    @property
    def column_names(self) -> list[str]:
        return [
            "subscriber",
            "site_id",
            "version",
            "lon",
            "lat",
            "value",
            "score_hour",
            "score_dow",
        ]

    def _make_query(self, ctx: Context) -> sql.Composable:
        hour, dow = _score_sql(self.hour_scores, self.day_scores)
        # Per day first: the distinct days are then a count of rows, and the means sums of sums.
        return sql.SQL(
            """SELECT subscriber, site_id, version, lon, lat, count(*) AS value,
                      sum(score_hour) / sum(n) AS score_hour, sum(score_dow) / sum(n) AS score_dow
               FROM (SELECT subscriber, site_id, version, lon, lat, time::date AS day, count(*) AS n,
                            sum({hour}) AS score_hour, sum({dow}) AS score_dow
                     FROM ({locations}) l GROUP BY subscriber, site_id, version, lon, lat, day) d
               GROUP BY subscriber, site_id, version, lon, lat"""
        ).format(hour=hour, dow=dow, locations=self.subscriber_locations.get_query(ctx))


class LabelEventScore(Query):
    """`subscriber, rank, lon, lat, score_hour, score_dow, label`: each cluster's scores and label."""

    storable: ClassVar[bool] = False

    def __init__(
        self, clusters: HartiganCluster, scores: EventScore, labels: Mapping[str, Any]
    ) -> None:
        self.clusters = clusters
        self.scores = scores
        self.labels = _checked_labels(labels)
        super().__init__()

    @property
    def column_names(self) -> list[str]:
        return list(LABELLED_CLUSTER_COLUMNS)

    def _make_query(self, ctx: Context) -> sql.Composable:
        return sql.SQL(
            """SELECT c.subscriber, c.rank, c.lon, c.lat, c.score_hour, c.score_dow, {label} AS label
               FROM (SELECT c.subscriber, c.rank, c.lon, c.lat,
                            sum(e.score_hour) / count(*) AS score_hour,
                            sum(e.score_dow) / count(*) AS score_dow
                     FROM (SELECT subscriber, rank, lon, lat, unnest(site_id) AS site_id,
                                  unnest(version) AS version
                           FROM ({clusters}) c0) c
                     LEFT JOIN ({scores}) e
                       ON e.subscriber = c.subscriber AND e.site_id = c.site_id
                      AND e.version = c.version
                     GROUP BY c.subscriber, c.rank, c.lon, c.lat) c"""
        ).format(
            label=_label_case(self.labels, "c.score_hour", "c.score_dow"),
            clusters=self.clusters.get_query(ctx),
            scores=self.scores.get_query(ctx),
        )


class LabelledClusters(Query):
    """`subscriber, rank, lon, lat, score_hour, score_dow, label`: what `LabelEventScore` gives for
    `HartiganCluster(sites, ...)` labelled with the scores of the same `sites`, in one pass over `sites`.

    Each subscriber's sites are clustered with their scores alongside, so a cluster's scores (the unweighted
    mean of its sites' scores) come out of the clustering instead of a join of every site back to its scores.
    """

    def __init__(
        self,
        sites: SiteScores,
        radius: float,
        call_threshold: int,
        labels: Mapping[str, Any],
    ) -> None:
        self.sites = sites
        self.radius, self.call_threshold = _checked_clustering(sites, radius, call_threshold)
        self.labels = _checked_labels(labels)
        super().__init__()

    @property
    def column_names(self) -> list[str]:
        return list(LABELLED_CLUSTER_COLUMNS)

    def _make_query(self, ctx: Context) -> sql.Composable:
        return sql.SQL(
            """SELECT s.subscriber, c.rank, c.lon, c.lat, c.mean_a AS score_hour, c.mean_b AS score_dow,
                      {label} AS label
               FROM (SELECT subscriber,
                            array_agg(ARRAY[lon::float8, lat::float8, value::float8, score_hour::float8,
                                            score_dow::float8] {order}) AS points
                     FROM ({sites}) c GROUP BY subscriber) s
               CROSS JOIN LATERAL public.leader_clusters(s.points, {radius}) c
               WHERE c.weight >= {threshold}"""
        ).format(
            label=_label_case(self.labels, "c.mean_a", "c.mean_b"),
            order=CLUSTERING_ORDER,
            sites=self.sites.get_query(ctx),
            radius=sql.Literal(self.radius),
            threshold=sql.Literal(self.call_threshold),
        )


class MeaningfulLocations(Query):
    """`subscriber, label, cluster, lon, lat, n_clusters`: each subscriber's clusters labelled `label`.

    `cluster` is the cluster's rank; `n_clusters` the number of the subscriber's clusters with that label.
    """

    storable: ClassVar[bool] = False

    def __init__(
        self,
        *,
        start: str | dt.date | dt.datetime,
        stop: str | dt.date | dt.datetime,
        label: str,
        labels: Mapping[str, Any],
        hour_scores: Sequence[float],
        day_scores: Mapping[str, float],
        radius: float = 1.0,
        call_threshold: int = 0,
        tables: str | Sequence[str] | None = None,
        subscriber_subset: Query | None = None,
    ) -> None:
        if not isinstance(label, str) or not label:
            raise InvalidSpecError("label must be a non-empty string")
        locations = SubscriberLocations(
            start,
            stop,
            VersionedSiteSpatialUnit(),
            tables=tables,
            subscriber_subset=subscriber_subset,
        )
        self.labelled = LabelledClusters(
            SiteScores(locations, hour_scores, day_scores), radius, call_threshold, labels
        )
        self.label = label
        super().__init__()

    @property
    def column_names(self) -> list[str]:
        return ["subscriber", "label", "cluster", "lon", "lat", "n_clusters"]

    def _make_query(self, ctx: Context) -> sql.Composable:
        return sql.SQL(
            """SELECT subscriber, label, rank AS cluster, lon, lat,
                      count(*) OVER (PARTITION BY subscriber) AS n_clusters
               FROM ({labelled}) l WHERE label = {label}"""
        ).format(labelled=self.labelled.get_query(ctx), label=sql.Literal(self.label))
