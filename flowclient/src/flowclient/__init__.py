"""FlowClient: a Python client of FlowKit-compatible APIs (FlowAPI), synchronous and asyncio.

>>> import flowclient as fc
>>> conn = fc.connect(url="http://localhost:9090", token=token)  # doctest: +SKIP
>>> dl = fc.daily_location_spec(date="2016-01-01", aggregation_unit="admin3", method="last")
>>> fc.spatial_aggregate(connection=conn, locations=dl).get_result()  # doctest: +SKIP
"""

from __future__ import annotations

from flowclient import aggregates
from flowclient.aggregates import (
    active_at_reference_location_counts,
    aggregate_network_objects,
    calendar_activity,
    consecutive_trips_od_matrix,
    dfs_metric_total_amount,
    dummy_query,
    flows,
    histogram_aggregate,
    inflows,
    joined_spatial_aggregate,
    labelled_flows,
    labelled_spatial_aggregate,
    localised_calendar_activity,
    location_event_counts,
    location_introversion,
    meaningful_locations_aggregate,
    meaningful_locations_between_dates_od_matrix,
    meaningful_locations_between_label_od_matrix,
    outflows,
    spatial_aggregate,
    total_network_objects,
    trips_od_matrix,
    unique_subscriber_counts,
    unique_visitor_counts,
    unmoving_at_reference_location_counts,
    unmoving_counts,
)
from flowclient.api_query import APIQuery
from flowclient.async_api_query import ASyncAPIQuery
from flowclient.async_client import connect_async
from flowclient.async_connection import ASyncConnection
from flowclient.client import (
    connect,
    get_available_dates,
    get_available_qa_checks,
    get_available_qa_checks_df,
    get_geography,
    get_geojson_result,
    get_qa_check_outcome,
    get_qa_check_outcomes,
    get_qa_check_outcomes_df,
    get_result,
    get_result_by_query_id,
    get_status,
    query_is_ready,
    run_query,
)
from flowclient.connection import Connection
from flowclient.query_specs import (
    coalesced_location_spec,
    daily_location_spec,
    displacement_spec,
    event_count_spec,
    handset_spec,
    location_visits_spec,
    majority_location_spec,
    mobility_classification_spec,
    modal_location_from_dates_spec,
    modal_location_spec,
    most_frequent_location_spec,
    nocturnal_events_spec,
    pareto_interactions_spec,
    radius_of_gyration_spec,
    random_sample_spec,
    subscriber_degree_spec,
    topup_amount_spec,
    topup_balance_spec,
    total_active_periods_spec,
    unique_location_counts_spec,
    unique_locations_spec,
    visited_most_days_spec,
)

__version__ = "1.34.0"

# The same names as flowclient 1.34's `__all__` (it leaves most `*_spec` builders out of
# `__all__` while still exporting them at top level; so do we).
__all__ = [
    "APIQuery",
    "ASyncAPIQuery",
    "active_at_reference_location_counts",
    "aggregate_network_objects",
    "aggregates",
    "calendar_activity",
    "connect",
    "connect_async",
    "consecutive_trips_od_matrix",
    "flows",
    "get_available_dates",
    "get_available_qa_checks",
    "get_available_qa_checks_df",
    "get_geography",
    "get_geojson_result",
    "get_qa_check_outcome",
    "get_qa_check_outcomes",
    "get_qa_check_outcomes_df",
    "get_result",
    "get_result_by_query_id",
    "get_status",
    "histogram_aggregate",
    "inflows",
    "joined_spatial_aggregate",
    "labelled_flows",
    "labelled_spatial_aggregate",
    "localised_calendar_activity",
    "location_event_counts",
    "location_introversion",
    "meaningful_locations_aggregate",
    "meaningful_locations_between_dates_od_matrix",
    "meaningful_locations_between_label_od_matrix",
    "outflows",
    "query_is_ready",
    "run_query",
    "spatial_aggregate",
    "total_network_objects",
    "trips_od_matrix",
    "unique_locations_spec",
    "unique_subscriber_counts",
    "unmoving_at_reference_location_counts",
    "unmoving_counts",
]

_ALSO_EXPORTED = (
    dfs_metric_total_amount,  # flowclient 1.34 has no helper for it
    dummy_query,  # not in flowclient 1.34 (FlowKit issue #5231 for unique_visitor_counts)
    unique_visitor_counts,
    ASyncConnection,
    Connection,
    coalesced_location_spec,
    daily_location_spec,
    displacement_spec,
    event_count_spec,
    handset_spec,
    location_visits_spec,
    majority_location_spec,
    mobility_classification_spec,
    modal_location_from_dates_spec,
    modal_location_spec,
    most_frequent_location_spec,
    visited_most_days_spec,
    nocturnal_events_spec,
    pareto_interactions_spec,
    radius_of_gyration_spec,
    random_sample_spec,
    subscriber_degree_spec,
    topup_amount_spec,
    topup_balance_spec,
    total_active_periods_spec,
    unique_location_counts_spec,
)
