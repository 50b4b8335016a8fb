"""FlowClient: a Python client of FlowKit-compatible APIs (FlowAPI), synchronous and asyncio.

>>> import flowclient as fc
>>> conn = fc.connect(url="http://localhost:9090", token=token)  # doctest: +SKIP
>>> dl = fc.daily_location_spec(date="2016-01-01", aggregation_unit="admin3", method="last")
>>> fc.spatial_aggregate(connection=conn, locations=dl).get_result()  # doctest: +SKIP
"""

from __future__ import annotations

from flowclient import aggregates, query_specs
from flowclient.api_query import APIQuery
from flowclient.async_api_query import ASyncAPIQuery
from flowclient.async_client import connect_async
from flowclient.async_connection import ASyncConnection as ASyncConnection
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
from flowclient.connection import Connection as Connection

__version__ = "1.34.0"

# The same names as flowclient 1.34's `__all__` (it leaves most `*_spec` builders out of
# `__all__` while still exporting them at top level; so do we). A kind added to the table is published
# below, not listed here.
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

# Every nested kind's `<kind>_spec` and every top-level kind's `<kind>` maker, from the table in flowclient.kinds
# (1.34 publishes those here, but not the top-level kinds' `_spec` builders).
globals().update(query_specs.SPEC_BUILDERS)
globals().update(aggregates.QUERY_MAKERS)
