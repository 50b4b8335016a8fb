"""A result as a file: rows read from FlowDB for FlowMachine's SQL (`open_rows`), streamed as the response
body in JSON, CSV or GeoJSON with FlowKit's `Content-Disposition` (`streamed`)."""

from __future__ import annotations

from typing import Any

import asyncpg
from quart import Response, request

from flowapi.error_handlers import internal_error
from flowapi.errors import not_found
from flowapi.request_record import request_id
from flowapi.results import RowStream, stream_csv, stream_json
from flowapi.state import state

CONTENT_TYPES = {
    "json": "application/json",
    "csv": "text/csv",
    "geojson": "application/geo+json",
}


async def open_rows(sql: str, filetype: str, *, what: str) -> RowStream:
    """Start reading FlowMachine's SQL for a `filetype` body; a result that vanished meanwhile is a 404."""
    try:
        return await state().results.open(sql, as_json=filetype != "csv")
    except asyncpg.UndefinedTableError:
        raise not_found(f"The result of {what} is no longer available.") from None
    except asyncpg.PostgresError:
        raise internal_error(f"Could not read {what}.") from None


async def streamed(
    rows: RowStream,
    filetype: str,
    filename: str,
    *,
    additional: dict[str, Any] | None = None,
    result_name: str = "query_result",
) -> Response:
    """The response streaming `rows` as a `filetype` attachment named `filename` (JSON: `additional` keys
    first, then the rows under `result_name`); for HEAD, the headers alone."""
    if request.method == "HEAD":  # no body will be read: give the connection back now
        await rows.close()
        response = Response(b"", mimetype=CONTENT_TYPES[filetype])
        response.headers["Content-Disposition"] = f"attachment;filename={filename}"
        return response
    rid = request_id()
    body = (
        stream_csv(rows, request_id=rid)
        if filetype == "csv"
        else stream_json(rows, result_name=result_name, additional=additional or {}, request_id=rid)
    )
    response = Response(body, mimetype=CONTENT_TYPES[filetype])
    response.headers["Content-Disposition"] = f"attachment;filename={filename}"
    response.timeout = None
    return response
