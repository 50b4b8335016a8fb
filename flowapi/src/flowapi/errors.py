"""HTTP errors as FlowKit shapes them: a status code and a JSON body that always carries `msg`.

Handlers raise `APIError`; the app turns it (and Quart's own HTTP errors: unknown route, wrong
method, oversize body) into JSON, so no error ever reaches a client as an HTML page or a bare 500.
"""

from __future__ import annotations

from typing import Any


class APIError(Exception):
    def __init__(
        self,
        code: int,
        msg: str,
        *,
        outcome: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(msg)
        self.status_code = code
        self.msg = msg
        self.outcome = outcome or f"error_{code}"
        self.headers = dict(headers or {})  # e.g. a privacy refusal's budget headers
        self.body: dict[str, Any] = {"status": "error", "msg": msg, **extra}


def bad_request(msg: str, **extra: Any) -> APIError:
    return APIError(400, msg, outcome="bad_request", **extra)


def not_found(msg: str, **extra: Any) -> APIError:
    return APIError(404, msg, outcome="not_found", **extra)


def forbidden() -> APIError:
    # FlowKit's body has only `msg` here; `status` is added for clients that read it.
    return APIError(403, "User claims verification failed", outcome="CLAIMS_VERIFICATION_FAILED")
