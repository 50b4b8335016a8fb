"""Builders of aggregate (top-level) query specs, and `APIQuery` makers for them.

Each kind comes in two forms: `<kind>_spec(**params)` returns the spec dict, and
`<kind>(connection=..., **params)` returns an `APIQuery` (or `ASyncAPIQuery` on an
`ASyncConnection`) for it, not yet run.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from flowclient.api_query import APIQuery
from flowclient.query_specs import Spec, _located, hours_spec


def _query_maker(spec_builder: Callable[..., Spec], name: str) -> Callable[..., APIQuery]:
    """A function `name(*, connection, **params)` running `spec_builder(**params)` as a query."""

    def make(*, connection: Any, **kwargs: Any) -> APIQuery:
        return connection.make_api_query(parameters=spec_builder(**kwargs))

    connection_param = inspect.Parameter("connection", inspect.Parameter.KEYWORD_ONLY)
    params = list(inspect.signature(spec_builder).parameters.values())
    make.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [connection_param, *params], return_annotation="APIQuery"
    )
    make.__name__ = make.__qualname__ = name
    make.__module__ = __name__
    make.__doc__ = (
        f"An APIQuery for `{spec_builder.__name__}(**kwargs)` on `connection`.\n\n"
        f"{spec_builder.__doc__ or ''}"
    )
    return make


def location_event_counts_spec(
    *,
    start_date: str,
    end_date: str,
    aggregation_unit: str,
    count_interval: str,
    direction: str = "both",
    event_types: list[str] | None = None,
    subscriber_subset: dict | str | None = None,
    mapping_table: str | None = None,
    geom_table: str | None = None,
    geom_table_join_column: str | None = None,
    hours: tuple[int, int] | None = None,
) -> Spec:
    """Events per location per `count_interval` ("day", "hour" or "min")."""
    return {
        "query_kind": "location_event_counts",
        "start_date": start_date,
        "end_date": end_date,
        "interval": count_interval,
        "aggregation_unit": aggregation_unit,
        "direction": direction,
        "event_types": event_types,
        "subscriber_subset": subscriber_subset,
        **_located(mapping_table, geom_table, geom_table_join_column),
        "hours": hours_spec(hours),
    }


def _meaningful_common(
    *,
    labels: dict[str, Any],
    tower_day_of_week_scores: dict[str, float],
    tower_hour_of_day_scores: list[float],
    tower_cluster_radius: float,
    tower_cluster_call_threshold: float,
    event_types: list[str] | None,
    subscriber_subset: dict | str | None,
    mapping_table: str | None,
    geom_table: str | None,
    geom_table_join_column: str | None,
) -> Spec:
    return {
        "labels": labels,
        "tower_day_of_week_scores": tower_day_of_week_scores,
        "tower_hour_of_day_scores": tower_hour_of_day_scores,
        "tower_cluster_radius": tower_cluster_radius,
        "tower_cluster_call_threshold": tower_cluster_call_threshold,
        "event_types": event_types,
        "subscriber_subset": subscriber_subset,
        **_located(mapping_table, geom_table, geom_table_join_column),
    }


def meaningful_locations_aggregate_spec(
    *,
    start_date: str,
    end_date: str,
    label: str,
    labels: dict[str, dict[str, dict]],
    tower_day_of_week_scores: dict[str, float],
    tower_hour_of_day_scores: list[float],
    aggregation_unit: str,
    tower_cluster_radius: float = 1.0,
    tower_cluster_call_threshold: int = 0,
    event_types: list[str] | None = None,
    subscriber_subset: dict | str | None = None,
    mapping_table: str | None = None,
    geom_table: str | None = None,
    geom_table_join_column: str | None = None,
) -> Spec:
    """Subscribers per location whose meaningful location carries `label`."""
    return {
        "query_kind": "meaningful_locations_aggregate",
        "aggregation_unit": aggregation_unit,
        "start_date": start_date,
        "end_date": end_date,
        "label": label,
        **_meaningful_common(
            labels=labels,
            tower_day_of_week_scores=tower_day_of_week_scores,
            tower_hour_of_day_scores=tower_hour_of_day_scores,
            tower_cluster_radius=tower_cluster_radius,
            tower_cluster_call_threshold=tower_cluster_call_threshold,
            event_types=event_types,
            subscriber_subset=subscriber_subset,
            mapping_table=mapping_table,
            geom_table=geom_table,
            geom_table_join_column=geom_table_join_column,
        ),
    }


def meaningful_locations_between_label_od_matrix_spec(
    *,
    start_date: str,
    end_date: str,
    label_a: str,
    label_b: str,
    labels: dict[str, dict[str, dict]],
    tower_day_of_week_scores: dict[str, float],
    tower_hour_of_day_scores: list[float],
    aggregation_unit: str,
    tower_cluster_radius: float = 1.0,
    tower_cluster_call_threshold: int = 0,
    event_types: list[str] | None = None,
    subscriber_subset: dict | str | None = None,
    mapping_table: str | None = None,
    geom_table: str | None = None,
    geom_table_join_column: str | None = None,
) -> Spec:
    """Origin-destination counts between meaningful locations labelled `label_a` and `label_b`."""
    return {
        "query_kind": "meaningful_locations_between_label_od_matrix",
        "aggregation_unit": aggregation_unit,
        "start_date": start_date,
        "end_date": end_date,
        "label_a": label_a,
        "label_b": label_b,
        **_meaningful_common(
            labels=labels,
            tower_day_of_week_scores=tower_day_of_week_scores,
            tower_hour_of_day_scores=tower_hour_of_day_scores,
            tower_cluster_radius=tower_cluster_radius,
            tower_cluster_call_threshold=tower_cluster_call_threshold,
            event_types=event_types,
            subscriber_subset=subscriber_subset,
            mapping_table=mapping_table,
            geom_table=geom_table,
            geom_table_join_column=geom_table_join_column,
        ),
    }


def meaningful_locations_between_dates_od_matrix_spec(
    *,
    start_date_a: str,
    end_date_a: str,
    start_date_b: str,
    end_date_b: str,
    label: str,
    labels: dict[str, dict[str, dict]],
    tower_day_of_week_scores: dict[str, float],
    tower_hour_of_day_scores: list[float],
    aggregation_unit: str,
    tower_cluster_radius: float = 1.0,
    tower_cluster_call_threshold: float = 0,
    event_types: list[str] | None = None,
    subscriber_subset: dict | str | None = None,
    mapping_table: str | None = None,
    geom_table: str | None = None,
    geom_table_join_column: str | None = None,
) -> Spec:
    """Origin-destination counts of the `label` meaningful location between two periods."""
    return {
        "query_kind": "meaningful_locations_between_dates_od_matrix",
        "aggregation_unit": aggregation_unit,
        "start_date_a": start_date_a,
        "end_date_a": end_date_a,
        "start_date_b": start_date_b,
        "end_date_b": end_date_b,
        "label": label,
        **_meaningful_common(
            labels=labels,
            tower_day_of_week_scores=tower_day_of_week_scores,
            tower_hour_of_day_scores=tower_hour_of_day_scores,
            tower_cluster_radius=tower_cluster_radius,
            tower_cluster_call_threshold=tower_cluster_call_threshold,
            event_types=event_types,
            subscriber_subset=subscriber_subset,
            mapping_table=mapping_table,
            geom_table=geom_table,
            geom_table_join_column=geom_table_join_column,
        ),
    }


def _flow_spec(kind: str, from_location: Spec, to_location: Spec, join_type: str) -> Spec:
    return {
        "query_kind": kind,
        "from_location": from_location,
        "to_location": to_location,
        "join_type": join_type,
    }


def flows_spec(*, from_location: Spec, to_location: Spec, join_type: str = "inner") -> Spec:
    """Subscribers moving between each pair of locations of two location specs."""
    return _flow_spec("flows", from_location, to_location, join_type)


def inflows_spec(*, from_location: Spec, to_location: Spec, join_type: str = "inner") -> Spec:
    """Subscribers arriving at each location (flows summed by destination)."""
    return _flow_spec("inflows", from_location, to_location, join_type)


def outflows_spec(*, from_location: Spec, to_location: Spec, join_type: str = "inner") -> Spec:
    """Subscribers leaving each location (flows summed by origin)."""
    return _flow_spec("outflows", from_location, to_location, join_type)


def labelled_flows_spec(
    *,
    from_location: Spec,
    to_location: Spec,
    labels: dict[str, Any],
    join_type: str = "inner",
) -> Spec:
    """Flows split by a subscriber label (e.g. a mobility classification)."""
    return {**_flow_spec("labelled_flows", from_location, to_location, join_type), "labels": labels}


def unique_subscriber_counts_spec(
    *,
    start_date: str,
    end_date: str,
    aggregation_unit: str,
    mapping_table: str | None = None,
    geom_table: str | None = None,
    geom_table_join_column: str | None = None,
    event_types: list[str] | None = None,
    subscriber_subset: dict | str | None = None,
    hours: tuple[int, int] | None = None,
) -> Spec:
    """Distinct subscribers seen at each location in the period."""
    return {
        "query_kind": "unique_subscriber_counts",
        "start_date": start_date,
        "end_date": end_date,
        "aggregation_unit": aggregation_unit,
        **_located(mapping_table, geom_table, geom_table_join_column),
        "event_types": event_types,
        "subscriber_subset": subscriber_subset,
        "hours": hours_spec(hours),
    }


def dfs_metric_total_amount_spec(
    *, metric: str, start_date: str, end_date: str, aggregation_unit: str
) -> Spec:
    """The daily total of a mobile-money metric (amount, commission, fee or discount) per location; the
    end date is included."""
    return {
        "query_kind": "dfs_metric_total_amount",
        "metric": metric,
        "start_date": start_date,
        "end_date": end_date,
        "aggregation_unit": aggregation_unit,
    }


def location_introversion_spec(
    *,
    start_date: str,
    end_date: str,
    aggregation_unit: str,
    direction: str = "both",
    mapping_table: str | None = None,
    geom_table: str | None = None,
    geom_table_join_column: str | None = None,
    event_types: list[str] | None = None,
    subscriber_subset: dict | str | None = None,
    hours: tuple[int, int] | None = None,
) -> Spec:
    """The share of each location's interactions that stay within it."""
    return {
        "query_kind": "location_introversion",
        "start_date": start_date,
        "end_date": end_date,
        "aggregation_unit": aggregation_unit,
        "direction": direction,
        **_located(mapping_table, geom_table, geom_table_join_column),
        "event_types": event_types,
        "subscriber_subset": subscriber_subset,
        "hours": hours_spec(hours),
    }


def total_network_objects_spec(
    *,
    start_date: str,
    end_date: str,
    aggregation_unit: str,
    total_by: str = "day",
    mapping_table: str | None = None,
    geom_table: str | None = None,
    geom_table_join_column: str | None = None,
    event_types: list[str] | None = None,
    subscriber_subset: dict | str | None = None,
    hours: tuple[int, int] | None = None,
) -> Spec:
    """Active network objects (sites/cells) per location per `total_by` period."""
    return {
        "query_kind": "total_network_objects",
        "start_date": start_date,
        "end_date": end_date,
        "aggregation_unit": aggregation_unit,
        "total_by": total_by,
        **_located(mapping_table, geom_table, geom_table_join_column),
        "event_types": event_types,
        "subscriber_subset": subscriber_subset,
        "hours": hours_spec(hours),
    }


def aggregate_network_objects_spec(
    *, total_network_objects: Spec, statistic: str, aggregate_by: str = "day"
) -> Spec:
    """A `statistic` of a total_network_objects spec per `aggregate_by` period."""
    return {
        "query_kind": "aggregate_network_objects",
        "total_network_objects": total_network_objects,
        "statistic": statistic,
        "aggregate_by": aggregate_by,
    }


def spatial_aggregate_spec(*, locations: Spec) -> Spec:
    """Subscribers per location of a location spec (e.g. a daily location)."""
    return {"query_kind": "spatial_aggregate", "locations": locations}


def labelled_spatial_aggregate_spec(*, locations: Spec, labels: dict[str, Any]) -> Spec:
    """Subscribers per location and per label."""
    return {"query_kind": "labelled_spatial_aggregate", "locations": locations, "labels": labels}


def consecutive_trips_od_matrix_spec(
    *,
    start_date: str,
    end_date: str,
    aggregation_unit: str,
    event_types: list[str] | None = None,
    subscriber_subset: dict | str | None = None,
    mapping_table: str | None = None,
    geom_table: str | None = None,
    geom_table_join_column: str | None = None,
    hours: tuple[int, int] | None = None,
) -> Spec:
    """Trips between consecutive event locations, counted per origin-destination pair."""
    return {
        "query_kind": "consecutive_trips_od_matrix",
        "start_date": start_date,
        "end_date": end_date,
        "aggregation_unit": aggregation_unit,
        "event_types": event_types,
        "subscriber_subset": subscriber_subset,
        **_located(mapping_table, geom_table, geom_table_join_column),
        "hours": hours_spec(hours),
    }


def trips_od_matrix_spec(
    *,
    start_date: str,
    end_date: str,
    aggregation_unit: str,
    event_types: list[str] | None = None,
    subscriber_subset: dict | str | None = None,
    mapping_table: str | None = None,
    geom_table: str | None = None,
    geom_table_join_column: str | None = None,
    hours: tuple[int, int] | None = None,
) -> Spec:
    """Trips between event locations, counted per origin-destination pair."""
    return {
        "query_kind": "trips_od_matrix",
        "start_date": start_date,
        "end_date": end_date,
        "aggregation_unit": aggregation_unit,
        "event_types": event_types,
        "subscriber_subset": subscriber_subset,
        **_located(mapping_table, geom_table, geom_table_join_column),
        "hours": hours_spec(hours),
    }


def unmoving_counts_spec(*, unique_locations: Spec) -> Spec:
    """Subscribers per location who were seen only there (from a unique_locations spec)."""
    return {"query_kind": "unmoving_counts", "locations": unique_locations}


def unmoving_at_reference_location_counts_spec(
    *, reference_locations: Spec, unique_locations: Spec
) -> Spec:
    """Subscribers per reference location who never left it."""
    return {
        "query_kind": "unmoving_at_reference_location_counts",
        "locations": unique_locations,
        "reference_locations": reference_locations,
    }


def active_at_reference_location_counts_spec(
    *, reference_locations: Spec, unique_locations: Spec
) -> Spec:
    """Subscribers per reference location who were seen there at all."""
    return {
        "query_kind": "active_at_reference_location_counts",
        "unique_locations": unique_locations,
        "reference_locations": reference_locations,
    }


def unique_visitor_counts_spec(
    *, active_at_reference_location_counts: Spec, unique_subscriber_counts: Spec
) -> Spec:
    """Subscribers per location who were seen there but are not active there at their reference
    location (from an active_at_reference_location_counts and a unique_subscriber_counts spec)."""
    return {
        "query_kind": "unique_visitor_counts",
        "active_at_reference_location_counts": active_at_reference_location_counts,
        "unique_subscriber_counts": unique_subscriber_counts,
    }


def dummy_query_spec(*, dummy_param: str, aggregation_unit: str, dummy_delay: int = 0) -> Spec:
    """A query with no data, for testing (it takes `dummy_delay` seconds to run)."""
    return {
        "query_kind": "dummy_query",
        "dummy_param": dummy_param,
        "aggregation_unit": aggregation_unit,
        "dummy_delay": dummy_delay,
    }


def joined_spatial_aggregate_spec(*, locations: Spec, metric: Spec, method: str = "avg") -> Spec:
    """A per-location `method` ("avg", "max", "distr", ...) of a subscriber metric."""
    return {
        "query_kind": "joined_spatial_aggregate",
        "method": method,
        "locations": locations,
        "metric": metric,
    }


def histogram_aggregate_spec(
    *,
    metric: Spec,
    bins: int | list[float],
    range: tuple[float, float] | None = None,
) -> Spec:
    """A histogram of a subscriber metric: `bins` is a bin count or a list of bin edges."""
    spec: Spec = {
        "query_kind": "histogram_aggregate",
        "metric": metric,
        "bins": {"bin_list": bins} if isinstance(bins, list) else {"n_bins": bins},
    }
    if range is not None:
        spec["range"] = list(range[:2])
    return spec


def calendar_activity_spec(
    *,
    start_date: str,
    total_periods: int,
    period_unit: str = "days",
    period_length: int = 1,
    event_types: list[str] | None = None,
    subscriber_subset: dict | str | None = None,
    hours: tuple[int, int] | None = None,
) -> Spec:
    """Subscribers counted by their pattern of active periods."""
    return {
        "query_kind": "calendar_activity",
        "total_periods": total_periods,
        "period_length": period_length,
        "period_unit": period_unit,
        "start_date": start_date,
        "event_types": event_types,
        "subscriber_subset": subscriber_subset,
        "hours": hours_spec(hours),
    }


def localised_calendar_activity_spec(
    *,
    start_date: str,
    total_periods: int,
    period_unit: str = "days",
    period_length: int = 1,
    event_types: list[str] | None = None,
    subscriber_subset: dict | str | None = None,
    hours: tuple[int, int] | None = None,
    locations: Spec | None = None,
) -> Spec:
    """Calendar activity split by each subscriber's reference location."""
    return {
        **calendar_activity_spec(
            start_date=start_date,
            total_periods=total_periods,
            period_unit=period_unit,
            period_length=period_length,
            event_types=event_types,
            subscriber_subset=subscriber_subset,
            hours=hours,
        ),
        "query_kind": "localised_calendar_activity",
        "reference_location": locations,
    }


location_event_counts = _query_maker(location_event_counts_spec, "location_event_counts")
meaningful_locations_aggregate = _query_maker(
    meaningful_locations_aggregate_spec, "meaningful_locations_aggregate"
)
meaningful_locations_between_label_od_matrix = _query_maker(
    meaningful_locations_between_label_od_matrix_spec,
    "meaningful_locations_between_label_od_matrix",
)
meaningful_locations_between_dates_od_matrix = _query_maker(
    meaningful_locations_between_dates_od_matrix_spec,
    "meaningful_locations_between_dates_od_matrix",
)
flows = _query_maker(flows_spec, "flows")
inflows = _query_maker(inflows_spec, "inflows")
outflows = _query_maker(outflows_spec, "outflows")
labelled_flows = _query_maker(labelled_flows_spec, "labelled_flows")
unique_subscriber_counts = _query_maker(unique_subscriber_counts_spec, "unique_subscriber_counts")
dfs_metric_total_amount = _query_maker(dfs_metric_total_amount_spec, "dfs_metric_total_amount")
location_introversion = _query_maker(location_introversion_spec, "location_introversion")
total_network_objects = _query_maker(total_network_objects_spec, "total_network_objects")
aggregate_network_objects = _query_maker(
    aggregate_network_objects_spec, "aggregate_network_objects"
)
spatial_aggregate = _query_maker(spatial_aggregate_spec, "spatial_aggregate")
labelled_spatial_aggregate = _query_maker(
    labelled_spatial_aggregate_spec, "labelled_spatial_aggregate"
)
consecutive_trips_od_matrix = _query_maker(
    consecutive_trips_od_matrix_spec, "consecutive_trips_od_matrix"
)
trips_od_matrix = _query_maker(trips_od_matrix_spec, "trips_od_matrix")
unmoving_counts = _query_maker(unmoving_counts_spec, "unmoving_counts")
unmoving_at_reference_location_counts = _query_maker(
    unmoving_at_reference_location_counts_spec, "unmoving_at_reference_location_counts"
)
active_at_reference_location_counts = _query_maker(
    active_at_reference_location_counts_spec, "active_at_reference_location_counts"
)
unique_visitor_counts = _query_maker(unique_visitor_counts_spec, "unique_visitor_counts")
dummy_query = _query_maker(dummy_query_spec, "dummy_query")
joined_spatial_aggregate = _query_maker(joined_spatial_aggregate_spec, "joined_spatial_aggregate")
histogram_aggregate = _query_maker(histogram_aggregate_spec, "histogram_aggregate")
calendar_activity = _query_maker(calendar_activity_spec, "calendar_activity")
localised_calendar_activity = _query_maker(
    localised_calendar_activity_spec, "localised_calendar_activity"
)
