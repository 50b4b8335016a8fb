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


def daily(date: str = "2016-03-01") -> dict:
    return fc.daily_location_spec(date=date, **DAY)


def modal() -> dict:
    return fc.modal_location_from_dates_spec(**SPAN, **DAY)


METRICS: list[Callable[[], dict]] = [
    lambda: fc.radius_of_gyration_spec(**SPAN),
    lambda: fc.subscriber_degree_spec(**SPAN, direction="in"),
    lambda: fc.event_count_spec(**SPAN, event_types=["calls"], hours=(0, 12)),
]

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
