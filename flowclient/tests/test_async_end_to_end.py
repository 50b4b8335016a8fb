"""The asyncio client against a real FlowAPI on loopback."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

import flowclient as fc
from flowclient import async_client

pytestmark = pytest.mark.asyncio(loop_scope="function")


async def connect(url: str, token: str) -> fc.ASyncConnection:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return await fc.connect_async(url=url, token=token)


def daily(date: str = "2016-03-01") -> dict:
    return fc.daily_location_spec(date=date, aggregation_unit="admin3", method="last")


async def test_async_queries(flowapi_url: str, universal_token: str) -> None:
    conn = await connect(flowapi_url, universal_token)
    try:
        query = fc.spatial_aggregate(connection=conn, locations=daily())
        assert isinstance(query, fc.ASyncAPIQuery)
        assert await query.status() == "not_running"
        await query.run()
        await query.wait_until_ready(poll_interval=0.1, disable_progress=True)
        assert await query.status() == "completed"
        frame = await query.get_result(disable_progress=True)
        assert isinstance(frame, pd.DataFrame) and len(frame) > 0
        geojson = await query.get_result(format="geojson", disable_progress=True)
        assert len(geojson["features"]) == len(frame)

        flows = fc.flows(connection=conn, from_location=daily(), to_location=daily("2016-03-02"))
        assert {"pcod_from", "pcod_to", "value"} <= set(
            (await flows.get_result(poll_interval=0.1, disable_progress=True)).columns
        )

        metric = fc.radius_of_gyration_spec(start_date="2016-03-01", end_date="2016-03-04")
        hist = await async_client.get_result(
            connection=conn,
            query_spec=fc.aggregates.histogram_aggregate_spec(metric=metric, bins=5),
            disable_progress=True,
        )
        assert len(hist) == 5

        geography = await async_client.get_geography(connection=conn, aggregation_unit="admin3")
        assert geography["type"] == "FeatureCollection"
        dates = await async_client.get_available_dates(connection=conn, event_types=["calls"])
        assert "2016-03-01" in dates["calls"]
        assert await async_client.get_status(connection=conn, query_id="0" * 32) == "not_running"
    finally:
        await conn.aclose()
