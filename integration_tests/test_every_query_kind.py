"""Every top-level query kind FlowAPI publishes, run by flowclient (sync API) against the real stack:
run → poll → get_result, a DataFrame with the kind's output columns, non-empty where the fixture data allows.

The kinds come from the running FlowAPI's OpenAPI document (`FlowmachineQuerySchema`'s discriminator), and
`test_table_covers_every_published_kind` fails if the table below misses one or names one no longer published.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import pytest

import flowclient as fc
from flowclient import aggregates as ag

POLL_TIMEOUT = 120  # seconds one query may take on the fixture data

SPAN = dict(start_date="2016-03-01", end_date="2016-03-03")
DAY1 = dict(start_date="2016-03-01", end_date="2016-03-02", aggregation_unit="admin3")


def daily(date: str = "2016-03-01") -> dict:
    return fc.daily_location_spec(date=date, aggregation_unit="admin3", method="last")


def modal() -> dict:
    return fc.modal_location_from_dates_spec(**SPAN, aggregation_unit="admin3", method="last")


def coalesced() -> dict:
    visits = fc.location_visits_spec(locations=[daily("2016-03-01"), daily("2016-03-02"), modal()])
    return fc.coalesced_location_spec(
        preferred_location=fc.majority_location_spec(
            subscriber_location_weights=visits, include_unlocatable=True
        ),
        fallback_location=fc.majority_location_spec(
            subscriber_location_weights=visits, minimum_total_weight=2.0
        ),
        subscriber_location_weights=visits,
        weight_threshold=2,
    )


def mobility() -> dict:
    return fc.mobility_classification_spec(
        locations=[coalesced(), coalesced()], stay_length_threshold=2
    )


def _rect(x0: float, y0: float, x1: float, y1: float) -> dict:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


# Labels are regions of the (hour-of-day score, day-of-week score) plane; these are FlowMachine's own tests'
# values, with which the fixture's tower clusters (120 km: neighbouring sites merge) carry both labels.
MEANINGFUL = dict(
    labels={"evening": _rect(-1.1, -1.1, 0.0137, 1.1), "day": _rect(0.2113, -1.1, 1.1, 1.1)},
    tower_hour_of_day_scores=[-1.0] * 7 + [1.0] * 11 + [-0.5] * 6,
    tower_day_of_week_scores=dict(
        zip(
            ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"],
            [1.0, 1.0, 0.75, 1.0, 0.5, -1.0, -1.0],
            strict=True,
        )
    ),
    tower_cluster_radius=120.0,
    aggregation_unit="admin1",
)
ALL_DAYS = dict(start_date="2016-03-01", end_date="2016-03-06")


@dataclass(frozen=True)
class Case:
    build: Callable[[], dict]
    columns: list[str]
    non_empty: bool = True  # the fixture data gives unredacted rows


CASES: dict[str, Case] = {
    "spatial_aggregate": Case(
        lambda: ag.spatial_aggregate_spec(locations=daily()), ["pcod", "value"]
    ),
    "flows": Case(
        lambda: ag.flows_spec(from_location=daily(), to_location=daily("2016-03-02")),
        ["pcod_from", "pcod_to", "value"],
    ),
    "inflows": Case(
        lambda: ag.inflows_spec(from_location=daily(), to_location=daily("2016-03-02")),
        ["pcod", "value"],
    ),
    "outflows": Case(
        lambda: ag.outflows_spec(from_location=daily(), to_location=daily("2016-03-02")),
        ["pcod", "value"],
    ),
    "location_event_counts": Case(
        lambda: ag.location_event_counts_spec(
            **SPAN, aggregation_unit="admin3", count_interval="day"
        ),
        ["pcod", "date", "value"],
    ),
    "unique_subscriber_counts": Case(
        lambda: ag.unique_subscriber_counts_spec(**SPAN, aggregation_unit="admin3"),
        ["pcod", "value"],
    ),
    "rolling_unique_subscriber_counts": Case(
        lambda: ag.rolling_unique_subscriber_counts_spec(
            **ALL_DAYS, aggregation_unit="admin1", window_days=2
        ),
        ["pcod", "date", "value"],
    ),
    "location_introversion": Case(
        lambda: ag.location_introversion_spec(**SPAN, aggregation_unit="admin3"),
        ["pcod", "value"],
    ),
    "total_network_objects": Case(
        lambda: ag.total_network_objects_spec(**SPAN, aggregation_unit="admin3"),
        ["pcod", "value", "datetime"],
    ),
    "aggregate_network_objects": Case(
        lambda: ag.aggregate_network_objects_spec(
            total_network_objects=ag.total_network_objects_spec(
                **SPAN, aggregation_unit="admin3", total_by="hour"
            ),
            statistic="max",
            aggregate_by="day",
        ),
        ["pcod", "value", "datetime"],
    ),
    "dfs_metric_total_amount": Case(
        lambda: ag.dfs_metric_total_amount_spec(metric="amount", **SPAN, aggregation_unit="admin1"),
        ["date", "pcod", "value"],
    ),
    "joined_spatial_aggregate": Case(
        lambda: ag.joined_spatial_aggregate_spec(
            locations=daily(), metric=fc.radius_of_gyration_spec(**SPAN)
        ),
        ["pcod", "value"],
    ),
    "histogram_aggregate": Case(
        lambda: ag.histogram_aggregate_spec(metric=fc.radius_of_gyration_spec(**SPAN), bins=4),
        ["value", "lower_edge", "upper_edge"],
    ),
    "active_at_reference_location_counts": Case(
        lambda: ag.active_at_reference_location_counts_spec(
            reference_locations=daily(), unique_locations=fc.unique_locations_spec(**DAY1)
        ),
        ["pcod", "value"],
    ),
    "unique_visitor_counts": Case(
        lambda: ag.unique_visitor_counts_spec(
            active_at_reference_location_counts=ag.active_at_reference_location_counts_spec(
                reference_locations=daily(), unique_locations=fc.unique_locations_spec(**DAY1)
            ),
            unique_subscriber_counts=ag.unique_subscriber_counts_spec(**DAY1),
        ),
        ["pcod", "value"],
    ),
    "unmoving_counts": Case(
        lambda: ag.unmoving_counts_spec(unique_locations=fc.unique_locations_spec(**DAY1)),
        ["pcod", "value"],
    ),
    "unmoving_at_reference_location_counts": Case(
        lambda: ag.unmoving_at_reference_location_counts_spec(
            reference_locations=daily(), unique_locations=fc.unique_locations_spec(**DAY1)
        ),
        ["pcod", "value"],
    ),
    "trips_od_matrix": Case(
        lambda: ag.trips_od_matrix_spec(**DAY1), ["pcod_from", "pcod_to", "value"]
    ),
    "consecutive_trips_od_matrix": Case(
        lambda: ag.consecutive_trips_od_matrix_spec(**DAY1), ["pcod_from", "pcod_to", "value"]
    ),
    "labelled_spatial_aggregate": Case(
        lambda: ag.labelled_spatial_aggregate_spec(locations=coalesced(), labels=mobility()),
        ["pcod", "value_label", "value"],
    ),
    "labelled_flows": Case(
        lambda: ag.labelled_flows_spec(
            from_location=coalesced(), to_location=coalesced(), labels=mobility()
        ),
        ["pcod_from", "pcod_to", "value_label", "value"],
    ),
    "calendar_activity": Case(
        lambda: ag.calendar_activity_spec(
            start_date="2016-03-01", total_periods=4, period_unit="hours", period_length=12
        ),
        ["grp", "value"],
    ),
    "localised_calendar_activity": Case(
        lambda: ag.localised_calendar_activity_spec(
            start_date="2016-03-05",
            total_periods=2,
            period_unit="hours",
            period_length=12,
            locations=fc.daily_location_spec(
                date="2016-03-05", aggregation_unit="admin1", method="last"
            ),
        ),
        ["pcod", "value_label", "value"],
    ),
    "meaningful_locations_aggregate": Case(
        lambda: ag.meaningful_locations_aggregate_spec(**ALL_DAYS, label="day", **MEANINGFUL),
        ["label", "pcod", "value"],
    ),
    "meaningful_locations_between_label_od_matrix": Case(
        lambda: ag.meaningful_locations_between_label_od_matrix_spec(
            **ALL_DAYS, label_a="day", label_b="evening", **MEANINGFUL
        ),
        ["label_from", "label_to", "pcod_from", "pcod_to", "value"],
    ),
    "meaningful_locations_between_dates_od_matrix": Case(
        lambda: ag.meaningful_locations_between_dates_od_matrix_spec(
            start_date_a="2016-03-01",
            end_date_a="2016-03-03",
            start_date_b="2016-03-03",
            end_date_b="2016-03-06",
            label="day",
            **MEANINGFUL,
        ),
        ["label_from", "label_to", "pcod_from", "pcod_to", "value"],
    ),
    # flowclient has no spec helper for geography (it fetches geography with get_geography), so this
    # spec is written by hand: the kind is published, so it must run through /run like any other.
    "geography": Case(
        lambda: {"query_kind": "geography", "aggregation_unit": "admin3"}, ["pcod", "geom"]
    ),
    # dummy_query's result is one row with no columns (a test kind).
    "dummy_query": Case(
        lambda: ag.dummy_query_spec(dummy_param="every-kind", aggregation_unit="admin3"),
        [],
        non_empty=False,
    ),
}


def published_kinds(openapi: dict) -> set[str]:
    schema = openapi["components"]["schemas"]["FlowmachineQuerySchema"]
    return set(schema["discriminator"]["mapping"])


def test_table_covers_every_published_kind(stack) -> None:
    assert set(CASES) == published_kinds(stack.openapi())


def run_to_completion(conn: fc.Connection, spec: dict) -> tuple[str, pd.DataFrame]:
    query_id = fc.run_query(connection=conn, query_spec=spec)
    deadline = time.monotonic() + POLL_TIMEOUT
    while True:
        ready, _ = fc.query_is_ready(connection=conn, query_id=query_id)
        if ready:
            break
        status = fc.get_status(connection=conn, query_id=query_id)
        assert status in {"queued", "executing", "completed"}, (query_id, status)
        if time.monotonic() > deadline:
            pytest.fail(f"query {query_id} not ready after {POLL_TIMEOUT} s (status {status})")
        time.sleep(0.2)
    assert fc.get_status(connection=conn, query_id=query_id) == "completed"
    return query_id, fc.get_result_by_query_id(
        connection=conn, query_id=query_id, disable_progress=True
    )


@pytest.mark.parametrize("kind", sorted(CASES))
def test_query_kind(kind: str, conn: fc.Connection, stack) -> None:
    case = CASES[kind]
    spec = case.build()
    assert spec["query_kind"] == kind
    query_id, result = run_to_completion(conn, spec)
    assert isinstance(result, pd.DataFrame)
    assert list(result.columns) == case.columns or (
        # an empty result has no columns to report (JSON rows carry the column names)
        result.empty and not case.non_empty
    ), f"{kind}: columns {list(result.columns)}, expected {case.columns}"
    if case.non_empty:
        assert len(result) > 0, f"{kind} gave no rows on the fixture data"
    if "value" in result.columns and kind in {
        "spatial_aggregate",
        "unique_subscriber_counts",
        "flows",
        "trips_od_matrix",
    }:
        assert (result["value"] > 15).all()  # redacted counts of subscribers
