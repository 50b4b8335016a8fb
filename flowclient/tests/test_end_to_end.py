"""flowclient against a real FlowAPI + FlowMachine + FlowDB on loopback (synchronous client)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pandas as pd
import pytest

import flowclient as fc
from flowclient.errors import FlowclientConnectionError

DATE = "2016-03-01"


@pytest.fixture
def conn(flowapi_url: str, universal_token: str) -> Iterator[fc.Connection]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # plain http on loopback: the NOT SECURE warning
        connection = fc.connect(url=flowapi_url, token=universal_token)
    yield connection
    connection.close()


def daily(date: str = DATE) -> dict:
    return fc.daily_location_spec(date=date, aggregation_unit="admin3", method="last")


def test_plain_http_warns(flowapi_url: str, universal_token: str) -> None:
    with pytest.warns(UserWarning, match="NOT SECURE"):
        fc.connect(url=flowapi_url, token=universal_token).close()


def test_connection_knows_user(conn: fc.Connection) -> None:
    assert conn.user == "test"
    assert repr(conn).startswith("test@http://127.0.0.1")


def test_bad_token_is_refused_locally(flowapi_url: str) -> None:
    with pytest.raises(FlowclientConnectionError, match="Unable to decode token"):
        fc.connect(url=flowapi_url, token="not-a-jwt", ssl_certificate=None)


def test_spatial_aggregate_of_daily_location(conn: fc.Connection) -> None:
    query = fc.spatial_aggregate(connection=conn, locations=daily())
    assert query.status == "not_running"
    query.run()
    query.wait_until_ready(poll_interval=0.1, disable_progress=True)
    assert query.status == "completed"
    result = query.get_result(disable_progress=True)
    assert isinstance(result, pd.DataFrame)
    assert {"pcod", "value"} <= set(result.columns)
    assert (result["value"] > 15).all()  # redacted
    geojson = query.get_result(format="geojson", disable_progress=True)
    assert geojson["type"] == "FeatureCollection"
    assert len(geojson["features"]) == len(result)


def test_get_result_runs_and_fetches(conn: fc.Connection) -> None:
    spec = fc.aggregates.spatial_aggregate_spec(locations=daily())
    frame = fc.get_result(connection=conn, query_spec=spec, disable_progress=True)
    query_id = fc.run_query(connection=conn, query_spec=spec)
    assert fc.get_status(connection=conn, query_id=query_id) == "completed"
    ready, _ = fc.query_is_ready(connection=conn, query_id=query_id)
    assert ready
    again = fc.get_result_by_query_id(connection=conn, query_id=query_id, disable_progress=True)
    pd.testing.assert_frame_equal(frame, again)


def test_flows(conn: fc.Connection) -> None:
    query = fc.flows(
        connection=conn, from_location=daily("2016-03-01"), to_location=daily("2016-03-02")
    )
    result = query.get_result(poll_interval=0.1, disable_progress=True)
    assert {"pcod_from", "pcod_to", "value"} <= set(result.columns)
    assert len(result) > 0


def test_histogram_of_radius_of_gyration(conn: fc.Connection) -> None:
    metric = fc.radius_of_gyration_spec(start_date="2016-03-01", end_date="2016-03-04")
    query = fc.histogram_aggregate(connection=conn, metric=metric, bins=5)
    result = query.get_result(poll_interval=0.1, disable_progress=True)
    assert len(result) == 5
    assert {"value", "lower_edge", "upper_edge"} <= set(result.columns)


def test_get_geography(conn: fc.Connection) -> None:
    geography = fc.get_geography(connection=conn, aggregation_unit="admin3")
    assert geography["type"] == "FeatureCollection"
    assert geography["features"]


def test_get_available_dates(conn: fc.Connection) -> None:
    dates = fc.get_available_dates(connection=conn)
    assert DATE in dates["calls"]
    assert set(fc.get_available_dates(connection=conn, event_types=["calls"])) == {"calls"}


def test_refused_spec_raises_with_reason(conn: fc.Connection) -> None:
    with pytest.raises(FlowclientConnectionError, match="status code 400"):
        fc.run_query(connection=conn, query_spec={"query_kind": "no_such_kind"})


def test_unknown_query_id(conn: fc.Connection) -> None:
    assert fc.get_status(connection=conn, query_id="0" * 32) == "not_running"
    with pytest.raises(FileNotFoundError):
        fc.get_result_by_query_id(connection=conn, query_id="0" * 32)


def test_token_without_scopes_is_refused(flowapi_url: str, make_token) -> None:  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        conn = fc.connect(url=flowapi_url, token=make_token({"r": ["get_result"]}))
    with pytest.raises(FlowclientConnectionError):
        fc.run_query(
            connection=conn, query_spec=fc.aggregates.spatial_aggregate_spec(locations=daily())
        )
