"""Every flowclient spec helper for a query kind our FlowMachine implements yields a spec the
server accepts (run_query returns an id)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator

import pytest

import flowclient as fc
from flowclient import aggregates as ag

DAY = dict(aggregation_unit="admin3", method="last")
SPAN = dict(start_date="2016-03-01", end_date="2016-03-03")
DAY1 = dict(start_date="2016-03-01", end_date="2016-03-02", aggregation_unit="admin3")


def daily(date: str = "2016-03-01") -> dict:
    return fc.daily_location_spec(date=date, **DAY)


def modal() -> dict:
    return fc.modal_location_from_dates_spec(**SPAN, **DAY)


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


METRICS: list[Callable[[], dict]] = [
    lambda: fc.radius_of_gyration_spec(**SPAN),
    lambda: fc.subscriber_degree_spec(**SPAN, direction="in"),
    lambda: fc.event_count_spec(**SPAN, event_types=["calls"], hours=(0, 12)),
]


def _box(x0: float, x1: float) -> dict:
    return {"type": "Polygon", "coordinates": [[[x0, -1], [x1, -1], [x1, 1], [x0, 1], [x0, -1]]]}


MEANINGFUL = dict(
    labels={"home": _box(-1, -0.01), "work": _box(0, 1)},
    tower_hour_of_day_scores=[-1.0] * 8 + [1.0] * 10 + [-1.0] * 6,
    tower_day_of_week_scores={
        d: 1.0 if i < 5 else -1.0
        for i, d in enumerate(
            ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
        )
    },
    aggregation_unit="admin3",
)

SPECS: dict[str, Callable[[], dict]] = {
    "spatial_aggregate/daily_location": lambda: ag.spatial_aggregate_spec(locations=daily()),
    "spatial_aggregate/modal_location": lambda: ag.spatial_aggregate_spec(
        locations=fc.modal_location_spec(locations=[daily("2016-03-01"), daily("2016-03-02")])
    ),
    "spatial_aggregate/modal_location_from_dates": lambda: ag.spatial_aggregate_spec(
        locations=modal()
    ),
    "spatial_aggregate/most_frequent_location": lambda: ag.spatial_aggregate_spec(
        locations=fc.most_frequent_location_spec(**SPAN, aggregation_unit="admin3")
    ),
    "spatial_aggregate/visited_most_days": lambda: ag.spatial_aggregate_spec(
        locations=fc.visited_most_days_spec(**SPAN, aggregation_unit="admin3")
    ),
    "spatial_aggregate/random_sample": lambda: ag.spatial_aggregate_spec(
        locations=fc.random_sample_spec(query=daily(), seed=0.5, size=50)
    ),
    "flows": lambda: ag.flows_spec(from_location=daily(), to_location=modal()),
    "inflows": lambda: ag.inflows_spec(from_location=daily(), to_location=daily("2016-03-02")),
    "outflows": lambda: ag.outflows_spec(
        from_location=daily(), to_location=daily("2016-03-02"), join_type="full outer"
    ),
    "location_event_counts": lambda: ag.location_event_counts_spec(
        **SPAN, aggregation_unit="admin3", count_interval="hour", direction="out"
    ),
    "unique_subscriber_counts": lambda: ag.unique_subscriber_counts_spec(
        **SPAN, aggregation_unit="admin2"
    ),
    "location_event_counts/week": lambda: ag.location_event_counts_spec(
        **SPAN, aggregation_unit="admin3", count_interval="week"
    ),
    "rolling_unique_subscriber_counts": lambda: ag.rolling_unique_subscriber_counts_spec(
        **SPAN, aggregation_unit="admin2", window_days=2, hours=(22, 6)
    ),
    "dfs_metric_total_amount": lambda: ag.dfs_metric_total_amount_spec(
        metric="amount", **SPAN, aggregation_unit="admin1"
    ),
    **{  # the "visits" kinds
        "active_at_reference_location_counts": lambda: ag.active_at_reference_location_counts_spec(
            reference_locations=daily(), unique_locations=fc.unique_locations_spec(**DAY1)
        ),
        "unique_visitor_counts": lambda: ag.unique_visitor_counts_spec(
            active_at_reference_location_counts=ag.active_at_reference_location_counts_spec(
                reference_locations=modal(), unique_locations=fc.unique_locations_spec(**DAY1)
            ),
            unique_subscriber_counts=ag.unique_subscriber_counts_spec(**DAY1),
        ),
        "unmoving_counts": lambda: ag.unmoving_counts_spec(
            unique_locations=fc.unique_locations_spec(**DAY1)
        ),
        "unmoving_at_reference_location_counts": (
            lambda: ag.unmoving_at_reference_location_counts_spec(
                reference_locations=daily(), unique_locations=fc.unique_locations_spec(**DAY1)
            )
        ),
        "location_introversion": lambda: ag.location_introversion_spec(**DAY1, direction="out"),
        "trips_od_matrix": lambda: ag.trips_od_matrix_spec(**DAY1, hours=(20, 4)),
        "consecutive_trips_od_matrix": lambda: ag.consecutive_trips_od_matrix_spec(
            **DAY1, event_types=["calls"]
        ),
        "dummy_query": lambda: ag.dummy_query_spec(dummy_param="x", aggregation_unit="admin3"),
    },
    **{  # the "labels" kinds
        "labelled_spatial_aggregate": lambda: ag.labelled_spatial_aggregate_spec(
            locations=coalesced(), labels=mobility()
        ),
        "labelled_flows": lambda: ag.labelled_flows_spec(
            from_location=coalesced(), to_location=coalesced(), labels=mobility()
        ),
        "spatial_aggregate/coalesced_location": lambda: ag.spatial_aggregate_spec(
            locations=coalesced()
        ),
        "calendar_activity": lambda: ag.calendar_activity_spec(
            start_date="2016-03-01", total_periods=4, period_unit="hours", period_length=12
        ),
        "localised_calendar_activity": lambda: ag.localised_calendar_activity_spec(
            start_date="2016-03-01", total_periods=2, hours=(6, 18), locations=daily()
        ),
    },
    **{  # the "meaningful locations" kinds
        "meaningful_locations_aggregate": lambda: ag.meaningful_locations_aggregate_spec(
            **SPAN, label="home", **MEANINGFUL
        ),
        "meaningful_locations_between_label_od_matrix": (
            lambda: ag.meaningful_locations_between_label_od_matrix_spec(
                **SPAN, label_a="home", label_b="work", **MEANINGFUL
            )
        ),
        "meaningful_locations_between_dates_od_matrix": (
            lambda: ag.meaningful_locations_between_dates_od_matrix_spec(
                start_date_a="2016-03-01",
                end_date_a="2016-03-02",
                start_date_b="2016-03-02",
                end_date_b="2016-03-03",
                label="home",
                **MEANINGFUL,
            )
        ),
    },
    "total_network_objects": lambda: ag.total_network_objects_spec(
        **SPAN, aggregation_unit="admin3"
    ),
    "aggregate_network_objects": lambda: ag.aggregate_network_objects_spec(
        total_network_objects=ag.total_network_objects_spec(**SPAN, aggregation_unit="admin3"),
        statistic="max",
    ),
    **{
        f"histogram_aggregate/{i}": (lambda m=m: ag.histogram_aggregate_spec(metric=m(), bins=4))
        for i, m in enumerate(METRICS)
    },
    "histogram_aggregate/bin_list": lambda: ag.histogram_aggregate_spec(
        metric=METRICS[0](), bins=[0.0, 1.0, 10.0, 100.0]
    ),
    **{
        f"joined_spatial_aggregate/{i}": (
            lambda m=m: ag.joined_spatial_aggregate_spec(locations=daily(), metric=m())
        )
        for i, m in enumerate(METRICS)
    },
}


@pytest.fixture(scope="module")
def conn(flowapi_url: str, universal_token: str) -> Iterator[fc.Connection]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        connection = fc.connect(url=flowapi_url, token=universal_token)
    yield connection
    connection.close()


@pytest.mark.parametrize("name", sorted(SPECS))
def test_server_accepts(conn: fc.Connection, name: str) -> None:
    query_id = fc.run_query(connection=conn, query_spec=SPECS[name]())
    assert len(query_id) == 32


def test_api_query_makers_carry_the_spec(conn: fc.Connection) -> None:
    query = ag.unique_subscriber_counts(connection=conn, **SPAN, aggregation_unit="admin3")
    assert isinstance(query, fc.APIQuery)
    assert query.parameters == ag.unique_subscriber_counts_spec(**SPAN, aggregation_unit="admin3")
    query.run()
    assert query.status in {"queued", "executing", "completed"}
