"""Builders of query specs for individual-level queries.

These specs are not results on their own: nest them inside an aggregate (see
`flowclient.aggregates`), e.g. `spatial_aggregate_spec(locations=daily_location_spec(...))`.
Every builder returns a plain dict; keys left at None are sent as null and the server applies
its defaults.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

Spec = dict[str, Any]


def hours_spec(hours: tuple[int, int] | None) -> dict[str, int] | None:
    """`(start, end)` hours of the day as the server's `{"start_hour", "end_hour"}` (or None)."""
    if hours is None:
        return None
    return {"start_hour": hours[0], "end_hour": hours[1]}


def _located(
    mapping_table: str | None, geom_table: str | None, geom_table_join_column: str | None
) -> Spec:
    return {
        "mapping_table": mapping_table,
        "geom_table": geom_table,
        "geom_table_join_column": geom_table_join_column,
    }


def daily_location_spec(
    *,
    date: str,
    aggregation_unit: str,
    method: str,
    event_types: list[str] | None = None,
    subscriber_subset: dict | str | None = None,
    mapping_table: str | None = None,
    geom_table: str | None = None,
    geom_table_join_column: str | None = None,
    hours: tuple[int, int] | None = None,
) -> Spec:
    """Each subscriber's location on `date` ("last" or "most-common" `method`)."""
    return {
        "query_kind": "daily_location",
        "date": date,
        "aggregation_unit": aggregation_unit,
        "method": method,
        "event_types": event_types,
        "subscriber_subset": subscriber_subset,
        **_located(mapping_table, geom_table, geom_table_join_column),
        "hours": hours_spec(hours),
    }


def modal_location_spec(*, locations: list[Spec]) -> Spec:
    """Each subscriber's most frequent location among several location specs."""
    return {"query_kind": "modal_location", "locations": locations}


def modal_location_from_dates_spec(
    *,
    start_date: str,
    end_date: str,
    aggregation_unit: str,
    method: str,
    event_types: list[str] | None = None,
    subscriber_subset: dict | str | None = None,
    mapping_table: str | None = None,
    geom_table: str | None = None,
    geom_table_join_column: str | None = None,
    hours: tuple[int, int] | None = None,
) -> Spec:
    """A modal location over one daily location per day from `start_date` up to (not
    including) `end_date`."""
    days = pd.date_range(start_date, end_date, freq="D", inclusive="left")
    return modal_location_spec(
        locations=[
            daily_location_spec(
                date=day.strftime("%Y-%m-%d"),
                aggregation_unit=aggregation_unit,
                method=method,
                event_types=event_types,
                subscriber_subset=subscriber_subset,
                mapping_table=mapping_table,
                geom_table=geom_table,
                geom_table_join_column=geom_table_join_column,
                hours=hours,
            )
            for day in days
        ]
    )


def unique_locations_spec(
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
    """The set of distinct locations each subscriber visited in the period."""
    return {
        "query_kind": "unique_locations",
        "start_date": start_date,
        "end_date": end_date,
        "aggregation_unit": aggregation_unit,
        "event_types": event_types,
        "subscriber_subset": subscriber_subset,
        **_located(mapping_table, geom_table, geom_table_join_column),
        "hours": hours_spec(hours),
    }


def most_frequent_location_spec(
    *,
    start_date: str,
    end_date: str,
    aggregation_unit: str,
    hours: tuple[int, int] | None = None,
    event_types: list[str] | None = None,
    subscriber_subset: dict | str | None = None,
    mapping_table: str | None = None,
    geom_table: str | None = None,
    geom_table_join_column: str | None = None,
) -> Spec:
    """The location each subscriber was seen at most often in the period."""
    return {
        "query_kind": "most_frequent_location",
        "start_date": start_date,
        "end_date": end_date,
        "hours": hours_spec(hours),
        "aggregation_unit": aggregation_unit,
        "event_types": event_types,
        "subscriber_subset": subscriber_subset,
        **_located(mapping_table, geom_table, geom_table_join_column),
    }


def visited_most_days_spec(
    *,
    start_date: str,
    end_date: str,
    aggregation_unit: str,
    hours: tuple[int, int] | None = None,
    event_types: list[str] | None = None,
    subscriber_subset: dict | str | None = None,
    mapping_table: str | None = None,
    geom_table: str | None = None,
    geom_table_join_column: str | None = None,
) -> Spec:
    """The location each subscriber was seen at on the most days of the period."""
    return {
        **most_frequent_location_spec(
            start_date=start_date,
            end_date=end_date,
            aggregation_unit=aggregation_unit,
            hours=hours,
            event_types=event_types,
            subscriber_subset=subscriber_subset,
            mapping_table=mapping_table,
            geom_table=geom_table,
            geom_table_join_column=geom_table_join_column,
        ),
        "query_kind": "visited_most_days",
    }


def radius_of_gyration_spec(
    *,
    start_date: str,
    end_date: str,
    event_types: list[str] | None = None,
    subscriber_subset: dict | str | None = None,
    hours: tuple[int, int] | None = None,
) -> Spec:
    """Each subscriber's radius of gyration (km) between `start_date` and `end_date`."""
    return {
        "query_kind": "radius_of_gyration",
        "start_date": start_date,
        "end_date": end_date,
        "event_types": event_types,
        "subscriber_subset": subscriber_subset,
        "hours": hours_spec(hours),
    }


def total_active_periods_spec(
    *,
    start_date: str,
    total_periods: int,
    period_unit: str = "days",
    period_length: int = 1,
    event_types: list[str] | None = None,
    subscriber_subset: dict | str | None = None,
    hours: tuple[int, int] | None = None,
) -> Spec:
    """How many of `total_periods` periods (of `period_length` `period_unit`s) each
    subscriber was active in."""
    return {
        "query_kind": "total_active_periods",
        "total_periods": total_periods,
        "period_length": period_length,
        "period_unit": period_unit,
        "start_date": start_date,
        "event_types": event_types,
        "subscriber_subset": subscriber_subset,
        "hours": hours_spec(hours),
    }


def unique_location_counts_spec(
    *,
    start_date: str,
    end_date: str,
    aggregation_unit: str,
    event_types: list[str] | None = None,
    subscriber_subset: dict | str | None = None,
    hours: tuple[int, int] | None = None,
    mapping_table: str | None = None,
    geom_table: str | None = None,
    geom_table_join_column: str | None = None,
) -> Spec:
    """How many distinct locations each subscriber visited."""
    return {
        "query_kind": "unique_location_counts",
        "start_date": start_date,
        "end_date": end_date,
        "aggregation_unit": aggregation_unit,
        "event_types": event_types,
        "subscriber_subset": subscriber_subset,
        **_located(mapping_table, geom_table, geom_table_join_column),
        "hours": hours_spec(hours),
    }


def topup_balance_spec(
    *,
    start_date: str,
    end_date: str,
    statistic: str,
    subscriber_subset: dict | str | None = None,
    hours: tuple[int, int] | None = None,
) -> Spec:
    """A `statistic` ("avg", "max", ...) of each subscriber's top-up balance."""
    return {
        "query_kind": "topup_balance",
        "start_date": start_date,
        "end_date": end_date,
        "statistic": statistic,
        "subscriber_subset": subscriber_subset,
        "hours": hours_spec(hours),
    }


def topup_amount_spec(
    *,
    start_date: str,
    end_date: str,
    statistic: str,
    subscriber_subset: dict | str | None = None,
    hours: tuple[int, int] | None = None,
) -> Spec:
    """A `statistic` of each subscriber's top-up amounts."""
    return {
        "query_kind": "topup_amount",
        "start_date": start_date,
        "end_date": end_date,
        "statistic": statistic,
        "subscriber_subset": subscriber_subset,
        "hours": hours_spec(hours),
    }


def subscriber_degree_spec(
    *,
    start_date: str,
    end_date: str,
    direction: str = "both",
    event_types: list[str] | None = None,
    subscriber_subset: dict | str | None = None,
    hours: tuple[int, int] | None = None,
) -> Spec:
    """How many distinct counterparts each subscriber had ("in", "out" or "both")."""
    return {
        "query_kind": "subscriber_degree",
        "start_date": start_date,
        "end_date": end_date,
        "direction": direction,
        "event_types": event_types,
        "subscriber_subset": subscriber_subset,
        "hours": hours_spec(hours),
    }


def event_count_spec(
    *,
    start_date: str,
    end_date: str,
    direction: str = "both",
    event_types: list[str] | None = None,
    subscriber_subset: dict | str | None = None,
    hours: tuple[int, int] | None = None,
) -> Spec:
    """How many events each subscriber had."""
    return {
        "query_kind": "event_count",
        "start_date": start_date,
        "end_date": end_date,
        "direction": direction,
        "event_types": event_types,
        "subscriber_subset": subscriber_subset,
        "hours": hours_spec(hours),
    }


def displacement_spec(
    *,
    start_date: str,
    end_date: str,
    statistic: str,
    reference_location: dict[str, Any],
    event_types: list[str] | None = None,
    subscriber_subset: dict | str | None = None,
    hours: tuple[int, int] | None = None,
) -> Spec:
    """A `statistic` of each subscriber's distance from a reference location spec."""
    return {
        "query_kind": "displacement",
        "start_date": start_date,
        "end_date": end_date,
        "statistic": statistic,
        "reference_location": reference_location,
        "event_types": event_types,
        "subscriber_subset": subscriber_subset,
        "hours": hours_spec(hours),
    }


def pareto_interactions_spec(
    *,
    start_date: str,
    end_date: str,
    proportion: float,
    event_types: list[str] | None = None,
    subscriber_subset: dict | str | None = None,
    hours: tuple[int, int] | None = None,
) -> Spec:
    """How many counterparts make up `proportion` of each subscriber's interactions."""
    return {
        "query_kind": "pareto_interactions",
        "start_date": start_date,
        "end_date": end_date,
        "proportion": proportion,
        "event_types": event_types,
        "subscriber_subset": subscriber_subset,
        "hours": hours_spec(hours),
    }


def nocturnal_events_spec(
    *,
    start_date: str,
    end_date: str,
    hours: tuple[int, int],
    event_types: list[str] | None = None,
    subscriber_subset: dict | str | None = None,
) -> Spec:
    """The share of each subscriber's events in the night `hours` (start, end)."""
    return {
        "query_kind": "nocturnal_events",
        "start_date": start_date,
        "end_date": end_date,
        "night_hours": hours_spec(hours),
        "event_types": event_types,
        "subscriber_subset": subscriber_subset,
    }


def handset_spec(
    *,
    start_date: str,
    end_date: str,
    characteristic: str = "hnd_type",
    method: str = "last",
    event_types: list[str] | None = None,
    subscriber_subset: dict | str | None = None,
    hours: tuple[int, int] | None = None,
) -> Spec:
    """A handset `characteristic` of each subscriber ("last" or "most-common" `method`)."""
    return {
        "query_kind": "handset",
        "start_date": start_date,
        "end_date": end_date,
        "characteristic": characteristic,
        "method": method,
        "event_types": event_types,
        "subscriber_subset": subscriber_subset,
        "hours": hours_spec(hours),
    }


def random_sample_spec(
    *,
    query: Spec,
    seed: float,
    sampling_method: str = "random_ids",
    size: int | None = None,
    fraction: float | None = None,
    estimate_count: bool = True,
) -> Spec:
    """A copy of `query` with a `sampling` section (give `size` or `fraction`)."""
    sampled = dict(query)
    sampled["sampling"] = {
        "seed": seed,
        "sampling_method": sampling_method,
        "size": size,
        "fraction": fraction,
        "estimate_count": estimate_count,
    }
    return sampled


def majority_location_spec(
    *,
    subscriber_location_weights: Spec,
    minimum_total_weight: float = 0.0,
    include_unlocatable: bool = False,
) -> Spec:
    """The location holding over half of each subscriber's weight (e.g. location_visits)."""
    return {
        "query_kind": "majority_location",
        "subscriber_location_weights": subscriber_location_weights,
        "minimum_total_weight": minimum_total_weight,
        "include_unlocatable": include_unlocatable,
    }


def location_visits_spec(*, locations: list[Spec]) -> Spec:
    """How many of the given location specs place each subscriber at each location."""
    return {"query_kind": "location_visits", "locations": locations}


def coalesced_location_spec(
    *,
    preferred_location: Spec,
    fallback_location: Spec,
    subscriber_location_weights: Spec,
    weight_threshold: int,
) -> Spec:
    """`preferred_location`, or where it is missing `fallback_location` if its weight is at
    least `weight_threshold`."""
    return {
        "query_kind": "coalesced_location",
        "preferred_location": preferred_location,
        "fallback_location": fallback_location,
        "subscriber_location_weights": subscriber_location_weights,
        "weight_threshold": weight_threshold,
    }


def mobility_classification_spec(*, locations: list[Spec], stay_length_threshold: int) -> Spec:
    """Classify subscribers by mobility over a sequence of location specs."""
    return {
        "query_kind": "mobility_classification",
        "locations": locations,
        "stay_length_threshold": stay_length_threshold,
    }
