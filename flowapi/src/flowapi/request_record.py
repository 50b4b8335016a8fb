"""What FlowAPI notes about the request it is answering (request id, user, query id and kind, outcome, start
time), kept on Quart's `g` and written at its end as one JSON line on the access log (see `logs`).

Routes and helpers note facts as they learn them (`g.user`, `g.query_id`, `g.query_kind`, `g.outcome`);
`begin` sets every field first, so the log line always has them all.
"""

from __future__ import annotations

import logging
import time
import uuid

from quart import Response, g, request


def begin() -> None:
    """Start this request's record: a fresh request id, the start time, nothing known yet."""
    g.request_id = str(uuid.uuid4())
    g.started = time.monotonic()
    g.user = None
    g.query_id = None
    g.query_kind = None
    g.outcome = None


def request_id() -> str:
    """This request's id (`-` outside a request that began)."""
    return str(g.get("request_id") or "-")


def log_access(response: Response, log: logging.Logger) -> None:
    """Write the request's record and `response`'s status as one access-log line; the id goes in the
    `X-Request-ID` header."""
    if g.get("request_id"):
        response.headers["X-Request-ID"] = g.request_id
    log.info(
        "request",
        extra={
            "request_id": g.get("request_id"),
            "user": g.get("user"),
            "method": request.method,
            "path": request.path,
            "endpoint": request.endpoint,
            "query_id": g.get("query_id"),
            "query_kind": g.get("query_kind"),
            "status": response.status_code,
            "outcome": g.get("outcome") or ("ok" if response.status_code < 400 else "error"),
            "duration_ms": round((time.monotonic() - g.get("started", time.monotonic())) * 1e3),
        },
    )
