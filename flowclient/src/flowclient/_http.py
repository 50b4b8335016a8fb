"""Response checks shared by the synchronous and asynchronous connections.

Both connections send the request themselves and hand the `httpx.Response` here, so the mapping
from HTTP status to exception lives in one place.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import jwt

from flowclient.errors import FlowclientConnectionError

logger = logging.getLogger("flowclient")

INSECURE_WARNING = "Communications with this server are NOT SECURE."


def user_from_token(token: str) -> str:
    """The `sub` claim of a token, read without checking the signature (FlowAPI checks it)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.DecodeError as exc:
        raise FlowclientConnectionError(f"Unable to decode token: '{token}'") from exc
    try:
        return str(claims["sub"])
    except KeyError as exc:
        raise FlowclientConnectionError("Token does not contain user identity.") from exc


def verify_option(ssl_certificate: str | bool | None) -> str | bool:
    """httpx's `verify` value: None means "use the default root certificates"."""
    return True if ssl_certificate is None else ssl_certificate


def _json_field(response: httpx.Response, field: str) -> Any:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get(field) if isinstance(body, dict) else None


def connection_failed(url: str, exc: Exception) -> FlowclientConnectionError:
    message = f"Unable to connect to FlowKit API at {url}: {exc}"
    logger.info(message)
    return FlowclientConnectionError(message)


def check_get_response(response: httpx.Response, full_url: str) -> httpx.Response:
    """Return a 200/202/303 answer; raise for anything else."""
    status = response.status_code
    if status in (200, 202, 303):
        return response
    if status == 404:
        raise FileNotFoundError(f"{full_url} not found.")
    if status in (401, 403):
        raise FlowclientConnectionError(
            _json_field(response, "msg") or "Unknown access denied error"
        )
    message = _json_field(response, "msg") or "Unknown error"
    state = _json_field(response, "status") or "Unknown status"
    raise FlowclientConnectionError(
        f"Something went wrong: {message}. API returned with status code: {status} "
        f"and status '{state}'"
    )


def check_post_response(response: httpx.Response, full_url: str) -> httpx.Response:
    """Return a 202 answer to a POST; raise for anything else (with FlowMachine's payload)."""
    status = response.status_code
    if status == 202:
        return response
    if status == 404:
        raise FileNotFoundError(f"{full_url} not found.")
    if status in (401, 403):
        raise FlowclientConnectionError(
            _json_field(response, "msg") or "Unknown access denied error"
        )
    try:
        response.json()
    except ValueError:
        message, extra = "the response did not contain valid JSON", ""
    else:
        message = _json_field(response, "msg")
        payload = _json_field(response, "payload")
        extra = f" Payload: {payload}" if payload else ""
    raise FlowclientConnectionError(
        f"Something went wrong. API returned with status code {status}. "
        f"Error message: '{message}'.{extra}"
    )


def require_ok(response: httpx.Response, what: str) -> httpx.Response:
    """Raise unless `response` is a 200, naming `what` could not be fetched."""
    if response.status_code != 200:
        msg = _json_field(response, "msg")
        more = f" Reason: {msg}" if msg else ""
        raise FlowclientConnectionError(
            f"Could not get {what}. API returned with status code: {response.status_code}.{more}"
        )
    return response


def poll_outcome(response: httpx.Response) -> bool:
    """True for a 303 (result ready), False for a 202 (still running); raise otherwise."""
    if response.status_code == 303:
        return True
    if response.status_code == 202:
        progress = _json_field(response, "progress") or {}
        logger.info(
            "%s parts to run, %s in queue and %s running.",
            progress.get("eligible"),
            progress.get("queued"),
            progress.get("running"),
        )
        return False
    raise FlowclientConnectionError(
        f"Something went wrong: {response}. API returned with status code: {response.status_code}"
    )


def status_from_poll(ready: bool, response: httpx.Response) -> str:
    if ready:
        return "completed"
    state = _json_field(response, "status")
    if not isinstance(state, str):
        raise FlowclientConnectionError("No status reported.")
    return state


def eligible_parts(response: httpx.Response) -> int:
    progress = _json_field(response, "progress") or {}
    return int(progress.get("eligible") or 0)


def result_route(response: httpx.Response) -> str:
    """The `get/<id>` route from a 303's Location header, without the `/api/<version>/` prefix."""
    location = response.headers["Location"]
    path = httpx.URL(location).path
    parts = path.lstrip("/").split("/")
    if len(parts) > 2 and parts[0] == "api" and parts[1].isdigit():
        parts = parts[2:]
    return "/".join(parts)


def query_id_from_run(response: httpx.Response) -> str:
    return response.headers["Location"].rstrip("/").split("/")[-1]


def filter_dates(result: dict[str, list[str]], event_types: list[str] | None) -> dict:
    if event_types is None:
        return result
    return {kind: dates for kind, dates in result.items() if kind in event_types}


def filter_checks(result: list[dict[str, str]], event_types: list[str] | None) -> list:
    if event_types is None:
        return result
    return [check for check in result if check["cdr_type"] in event_types]
