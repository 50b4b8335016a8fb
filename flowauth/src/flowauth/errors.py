"""Errors in FlowKit's JSON shape: `{"message": ..., "code": <status>, ...payload}` (e.g. `bad_field`).

Every failure of an API route answers in that shape; nothing ever answers with a stack trace.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    """A request that cannot be served: the message is for the user; payload keys join the JSON body."""

    def __init__(self, message: str, code: int = 400, **payload: Any) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.payload = payload

    def body(self) -> dict[str, Any]:
        return {"message": self.message, "code": self.code, **self.payload}


def bad_request(message: str, **payload: Any) -> ApiError:
    return ApiError(message, 400, **payload)


def unauthorized(message: str, **payload: Any) -> ApiError:
    return ApiError(message, 401, **payload)


def forbidden(message: str, **payload: Any) -> ApiError:
    return ApiError(message, 403, **payload)


def not_found(message: str, **payload: Any) -> ApiError:
    return ApiError(message, 404, **payload)


def _is_unique_violation(exc: IntegrityError) -> bool:
    """A unique constraint refused the row (SQLite says so in its message, PostgreSQL in SQLSTATE 23505)."""
    orig = exc.orig
    return getattr(orig, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(orig)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        response = jsonify(exc.body())
        response.status_code = exc.code
        if exc.code == 429 and "retry_after" in exc.payload:
            response.headers["Retry-After"] = str(exc.payload["retry_after"])
        return response

    @app.errorhandler(IntegrityError)
    def _integrity(exc: IntegrityError) -> tuple[Response, int]:
        log.info("integrity error on %s: %s", request.path, exc.orig)
        if not _is_unique_violation(exc):
            # e.g. a row referred to was deleted meanwhile (the routes check what they are sent first)
            return jsonify(
                {
                    "message": "The change conflicts with other data, which may have just changed: "
                    "reload and try again.",
                    "code": 409,
                }
            ), 409
        # FlowKit: a unique-constraint clash is "Name already exists" (its status/statusText shape kept)
        return jsonify(
            {
                "message": "Name already exists",
                "code": 400,
                "status": 400,
                "statusText": "Name already exists",
            }
        ), 400

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> HTTPException | tuple[Response, int]:
        code = exc.code or 500
        if request.accept_mimetypes.accept_html and not request.accept_mimetypes.accept_json:
            return exc  # a browser asking for a page gets Werkzeug's short HTML page
        return jsonify({"message": exc.description or exc.name, "code": code}), code

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[Response, int]:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return jsonify(
            {"message": "Internal error: the server could not do that.", "code": 500}
        ), 500
