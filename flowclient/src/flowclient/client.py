"""Synchronous functions to run queries, wait for them and fetch results and metadata.

`connect` opens a `Connection`; the functions that run a query and fetch its result are defined in
`flowclient._lifecycle` (they need only a connection's GET and POST) and published here.
"""

from __future__ import annotations

import datetime
import time  # noqa: F401  (flowclient 1.34 has flowclient.client.time)
from typing import Any

import httpx  # noqa: F401  (flowclient 1.34 has flowclient.client.httpx)
import pandas as pd
from tqdm.auto import tqdm  # noqa: F401  (flowclient 1.34 has flowclient.client.tqdm)

from flowclient import _http
from flowclient._lifecycle import (  # noqa: F401  (published here, as in flowclient 1.34)
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
from flowclient.connection import Connection

logger = _http.logger


def connect(
    *,
    url: str,
    token: str,
    api_version: int = 0,
    ssl_certificate: str | bool | None = True,
) -> Connection:
    """Open a `Connection` to the FlowAPI server at `url` with `token` (see `Connection`)."""
    return Connection(
        url=url, token=token, api_version=api_version, ssl_certificate=ssl_certificate
    )


def get_geography(*, connection: Connection, aggregation_unit: str) -> dict[str, Any]:
    """The boundaries of `aggregation_unit` (e.g. "admin3") as a GeoJSON FeatureCollection."""
    response = connection.get_url(route=f"geography/{aggregation_unit}")
    return _http.require_ok(response, "result").json()


def get_available_dates(
    *, connection: Connection, event_types: list[str] | None = None
) -> dict[str, list[str]]:
    """Dates with data per event type, `{"calls": ["2016-01-01", ...], ...}`.

    Args:
        event_types: keep only these event types (all when None).
    """
    response = connection.get_url(route="available_dates")
    result = _http.require_ok(response, "available dates").json()["available_dates"]
    return _http.filter_dates(result, event_types)


def get_available_qa_checks(
    *, connection: Connection, event_types: list[str] | None = None
) -> list[dict[str, str]]:
    """The QA checks on record, as `{"cdr_type", "type_of_query_or_check"}` dicts."""
    response = connection.get_url(route="qa/")
    return _http.filter_checks(_http.require_ok(response, "qa checks").json(), event_types)


def get_available_qa_checks_df(
    *, connection: Connection, event_types: list[str] | None = None
) -> pd.DataFrame:
    """`get_available_qa_checks` as a DataFrame."""
    return pd.DataFrame(get_available_qa_checks(connection=connection, event_types=event_types))


def get_qa_check_outcome(
    *,
    connection: Connection,
    event_type: str,
    check_type: str,
    event_date: datetime.date | str,
) -> str:
    """The outcome of one QA check for one event type on one date, as text."""
    response = connection.get_url(route=f"qa/{event_type}/{check_type}/{event_date}")
    return _http.require_ok(response, "qa check outcome").text


def get_qa_check_outcomes(
    *,
    connection: Connection,
    event_type: str,
    check_type: str,
    start_date: datetime.date | str,
    end_date: datetime.date | str,
) -> list[dict[str, str]]:
    """Outcomes of one QA check between two dates (inclusive), as `{outcome, cdr_date, ...}`."""
    response = connection.get_url(
        route=f"qa/{event_type}/{check_type}",
        params={"start_date": str(start_date), "end_date": str(end_date)},
    )
    return _http.require_ok(response, "qa check outcome").json()


def get_qa_check_outcomes_df(
    *,
    connection: Connection,
    event_type: str,
    check_type: str,
    start_date: datetime.date | str,
    end_date: datetime.date | str,
) -> pd.DataFrame:
    """`get_qa_check_outcomes` as a DataFrame."""
    return pd.DataFrame(
        get_qa_check_outcomes(
            connection=connection,
            event_type=event_type,
            check_type=check_type,
            start_date=start_date,
            end_date=end_date,
        )
    )
