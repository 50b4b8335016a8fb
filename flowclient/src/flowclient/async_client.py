"""Asynchronous versions of the functions in `flowclient.client`, for an `ASyncConnection`.

`connect_async` opens an `ASyncConnection`; the functions that run a query and fetch its result are defined in
`flowclient._async_lifecycle` and published here.
"""

from __future__ import annotations

import datetime
from typing import Any

import httpx  # noqa: F401  (flowclient 1.34 has flowclient.async_client.httpx)
import pandas as pd
from tqdm.auto import tqdm  # noqa: F401  (flowclient 1.34 has flowclient.async_client.tqdm)

from flowclient import _http
from flowclient._async_lifecycle import (  # noqa: F401  (published here, as in flowclient 1.34)
    get_geojson_result,
    get_geojson_result_by_query_id,
    get_json_dataframe,
    get_result,
    get_result_by_query_id,
    get_result_location_from_id_when_ready,
    get_status,
    query_is_ready,
    run_query,
    wait_for_query_to_be_ready,
)
from flowclient.async_connection import ASyncConnection

logger = _http.logger


async def connect_async(
    *,
    url: str,
    token: str,
    api_version: int = 0,
    ssl_certificate: str | bool | None = True,
) -> ASyncConnection:
    """Open an `ASyncConnection` to the FlowAPI server at `url` with `token`."""
    return ASyncConnection(
        url=url, token=token, api_version=api_version, ssl_certificate=ssl_certificate
    )


async def get_geography(*, connection: ASyncConnection, aggregation_unit: str) -> dict[str, Any]:
    """The boundaries of `aggregation_unit` as a GeoJSON FeatureCollection."""
    response = await connection.get_url(route=f"geography/{aggregation_unit}")
    return _http.require_ok(response, "result").json()


async def get_available_dates(
    *, connection: ASyncConnection, event_types: list[str] | None = None
) -> dict[str, list[str]]:
    """Dates with data per event type (only `event_types` if given)."""
    response = await connection.get_url(route="available_dates")
    result = _http.require_ok(response, "available dates").json()["available_dates"]
    return _http.filter_dates(result, event_types)


async def get_available_qa_checks(
    *, connection: ASyncConnection, event_types: list[str] | None = None
) -> list[dict[str, str]]:
    """The QA checks on record, as `{"cdr_type", "type_of_query_or_check"}` dicts."""
    response = await connection.get_url(route="qa/")
    return _http.filter_checks(_http.require_ok(response, "qa checks").json(), event_types)


async def get_available_qa_checks_df(
    *, connection: ASyncConnection, event_types: list[str] | None = None
) -> pd.DataFrame:
    """`get_available_qa_checks` as a DataFrame."""
    checks = await get_available_qa_checks(connection=connection, event_types=event_types)
    return pd.DataFrame(checks)


async def get_qa_check_outcome(
    *,
    connection: ASyncConnection,
    event_type: str,
    check_type: str,
    event_date: datetime.date | str,
) -> str:
    """The outcome of one QA check for one event type on one date, as text."""
    response = await connection.get_url(route=f"qa/{event_type}/{check_type}/{event_date}")
    return _http.require_ok(response, "qa check outcome").text


async def get_qa_check_outcomes(
    *,
    connection: ASyncConnection,
    event_type: str,
    check_type: str,
    start_date: datetime.date | str,
    end_date: datetime.date | str,
) -> list[dict[str, str]]:
    """Outcomes of one QA check between two dates (inclusive)."""
    response = await connection.get_url(
        route=f"qa/{event_type}/{check_type}",
        params={"start_date": str(start_date), "end_date": str(end_date)},
    )
    return _http.require_ok(response, "qa check outcome").json()


async def get_qa_check_outcomes_df(
    *,
    connection: ASyncConnection,
    event_type: str,
    check_type: str,
    start_date: datetime.date | str,
    end_date: datetime.date | str,
) -> pd.DataFrame:
    """`get_qa_check_outcomes` as a DataFrame."""
    outcomes = await get_qa_check_outcomes(
        connection=connection,
        event_type=event_type,
        check_type=check_type,
        start_date=start_date,
        end_date=end_date,
    )
    return pd.DataFrame(outcomes)
