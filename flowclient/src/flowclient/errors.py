"""The exception flowclient raises when FlowAPI refuses a request or cannot be reached.

    Exception
     └── FlowclientConnectionError   connection failures, 401/403, 4xx/5xx answers, errored queries

A 404 from FlowAPI (unknown query id or route) is raised as the built-in `FileNotFoundError`,
as in FlowKit's client, so callers can tell "not there (any more)" from "refused".
"""

from __future__ import annotations


class FlowclientConnectionError(Exception):
    """FlowAPI could not be reached, refused the request, or answered with an error."""
