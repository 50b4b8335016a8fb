"""Structured JSON logs: one access-log line per request on `flowapi.access`, debug on `flowapi.debug`.

An access record carries `request_id`, `user`, `method`, `path`, `endpoint` (the action), `query_id`,
`status` and `outcome` (e.g. `completed`, `EXPIRED_TOKEN`, `CLAIMS_VERIFICATION_FAILED`).
Logging is configured by the entry point (`configure_logging`), never at import.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys

ACCESS_LOGGER = "flowapi.access"
DEBUG_LOGGER = "flowapi.debug"
ACCESS_FIELDS = (
    "request_id",
    "user",
    "method",
    "path",
    "endpoint",
    "query_id",
    "query_kind",
    "status",
    "outcome",
    "duration_ms",
)


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "timestamp": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for name in ACCESS_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(log_level: str) -> None:
    """Access log at INFO to stdout always; the debug log at FLOWAPI_LOG_LEVEL, both as JSON lines."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JSONFormatter())
    access = logging.getLogger(ACCESS_LOGGER)
    access.setLevel(logging.INFO)
    access.addHandler(handler)
    access.propagate = False
    debug = logging.getLogger(DEBUG_LOGGER)
    debug.setLevel(log_level.upper())
    debug.addHandler(handler)
    debug.propagate = False
