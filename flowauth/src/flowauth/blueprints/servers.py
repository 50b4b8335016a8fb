"""Servers and their scopes (admins only): `/admin/servers...`.

A server is named for the FlowAPI audience its tokens are for; its scopes are FlowAPI's
`x-security-scopes`, which `POST /admin/servers/spec` reads from a spec for the form to fill in.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint
from sqlalchemy import select

from flowauth import api_spec
from flowauth.blueprints import state
from flowauth.dates import format_date, parse_date
from flowauth.db import request_session
from flowauth.errors import bad_request
from flowauth.models import Scope, Server
from flowauth.payload import id_list, json_object, json_value, text, whole_number
from flowauth.records import get_or_404
from flowauth.shapes import server_dict
from flowauth.web import admin_required

log = logging.getLogger(__name__)

bp = Blueprint("servers", __name__, url_prefix="/admin")

_FIELDS = {"name", "latest_token_expiry", "longest_token_life_minutes"}
_IGNORED = {"id"}


def _check_keys(body: dict[str, Any], allowed: set[str]) -> None:
    for key in body:
        if key not in allowed | _IGNORED:
            raise bad_request(f"Invalid key {key}.", bad_field=key)


def _name(body: dict[str, Any], server_id: int | None) -> str:
    name = text(
        body,
        "name",
        max_length=api_spec.MAX_SERVER_NAME,
        missing="Must provide server name",
        too_long="Server name must be 120 characters or less.",
    )
    clash = select(Server.id).where(Server.name == name)
    if server_id is not None:
        clash = clash.where(Server.id != server_id)
    if request_session().scalars(clash).first() is not None:
        raise bad_request("Server with this name already exists.", bad_field="name")
    return name


def _scope_names(value: Any, field: str) -> list[str]:
    """Scope strings from a list, or from the keys of FlowKit's {scope: bool} object."""
    if isinstance(value, dict):
        value = list(value)
    if not isinstance(value, list) or not all(
        isinstance(scope, str) and scope.strip() for scope in value
    ):
        raise bad_request(
            "Scopes must be a list of scope strings, or an object whose keys are scope strings.",
            bad_field=field,
        )
    if any(len(scope.strip()) > api_spec.MAX_SCOPE_LENGTH for scope in value):
        raise bad_request(
            f"A scope must be {api_spec.MAX_SCOPE_LENGTH} characters or less.", bad_field=field
        )
    return sorted({scope.strip() for scope in value})


def _scopes_json(server: Server) -> list[dict[str, Any]]:
    return [{"id": s.id, "name": s.name, "enabled": s.enabled} for s in server.scopes]


def _no_roles(body: dict[str, Any]) -> None:
    """FlowKit took role ids here (and broke on them); a role belongs to one server from its creation."""
    if body.get("roles"):
        raise bad_request(
            "Roles are created for a server through /roles/, not attached to it here.",
            bad_field="roles",
        )


@bp.get("/servers")
@admin_required
def list_servers() -> list[dict[str, Any]]:
    servers = request_session().scalars(select(Server).order_by(Server.id))
    return [{"id": server.id, "name": server.name} for server in servers]


@bp.post("/servers")
@admin_required
def add_server() -> dict[str, int]:
    body = json_object()
    _check_keys(body, _FIELDS | {"scopes", "roles"})
    _no_roles(body)
    session = request_session()
    server = Server(
        name=_name(body, None),
        latest_token_expiry=parse_date(body.get("latest_token_expiry"), "latest_token_expiry"),
        longest_token_life_minutes=whole_number(
            body.get("longest_token_life_minutes"), "longest_token_life_minutes"
        ),
    )
    if body.get("scopes") is not None:
        server.scopes = [Scope(name=name) for name in _scope_names(body["scopes"], "scopes")]
    session.add(server)
    session.commit()
    log.info("created server %s (%s)", server.id, server.name)
    return {"id": server.id}


FETCH_OFF = "Fetching a spec from a URL is turned off (FLOWAUTH_SPEC_URL_ORIGINS): upload the spec file instead."
FETCH_REFUSED = (
    "FlowAuth fetches specs only from the FlowAPIs listed in FLOWAUTH_SPEC_URL_ORIGINS: "
    "upload the spec file instead."
)
FETCH_FAILED = "Could not read a FlowAPI spec from that URL (FlowAuth's log says why): upload the spec file instead."


def _fetch(url: object) -> api_spec.ServerSpec:
    """The spec at `url`, if it is on an allowed origin; one message for every failure of the fetch itself, so
    the answers cannot map which addresses and ports answer (the reason goes to the log)."""
    allowed = state().settings.spec_url_origins
    if not allowed:
        raise bad_request(FETCH_OFF, bad_field="url")
    if not isinstance(url, str):
        raise bad_request("url must be a string.", bad_field="url")
    try:
        if api_spec.origin(api_spec.spec_url(url)) not in allowed:
            raise bad_request(FETCH_REFUSED, bad_field="url")
    except api_spec.SpecError as exc:
        raise bad_request(str(exc), bad_field="url") from None
    try:
        return api_spec.fetch_spec(url)
    except api_spec.SpecError as exc:
        log.warning("POST /admin/servers/spec: %s", exc)
        raise bad_request(FETCH_FAILED, bad_field="url") from None


@bp.post("/servers/spec")
@admin_required
def read_spec() -> dict[str, Any]:
    """Ours: the name and scopes of a FlowAPI spec (sent as `spec`, or fetched from `url`); nothing stored."""
    body = json_object()
    if body.get("spec") is not None:
        try:
            found = api_spec.read_spec(body["spec"])
        except api_spec.SpecError as exc:
            raise bad_request(str(exc), bad_field="spec") from None
    elif body.get("url") is not None:
        found = _fetch(body["url"])
    else:
        raise bad_request(
            "Send a FlowAPI spec as spec, or the URL of a running FlowAPI as url.", bad_field="spec"
        )
    return {"name": found.name, "scopes": found.scopes}


@bp.get("/servers/<int:server_id>")
@admin_required
def get_server(server_id: int) -> dict[str, Any]:
    return server_dict(get_or_404(request_session(), Server, server_id))


@bp.patch("/servers/<int:server_id>")
@admin_required
def edit_server(server_id: int) -> dict[str, int]:
    session = request_session()
    server = get_or_404(session, Server, server_id)
    body = json_object()
    _check_keys(body, _FIELDS | {"scopes", "roles"})
    if set(id_list(body, "roles") or []) - {role.id for role in server.roles}:
        _no_roles(body)
    if "scopes" in body:
        log.warning(
            "PATCH /admin/servers/%s: scopes ignored (POST .../scopes sets them)", server_id
        )
    if "name" in body:
        server.name = _name(body, server.id)
    if "latest_token_expiry" in body:
        server.latest_token_expiry = parse_date(body["latest_token_expiry"], "latest_token_expiry")
    if "longest_token_life_minutes" in body:
        server.longest_token_life_minutes = whole_number(
            body["longest_token_life_minutes"], "longest_token_life_minutes"
        )
    session.commit()
    return {"id": server.id}


@bp.delete("/servers/<int:server_id>")
@admin_required
def delete_server(server_id: int) -> dict[str, str]:
    session = request_session()
    session.delete(get_or_404(session, Server, server_id))
    session.commit()
    return {"poll": "OK"}


@bp.get("/servers/<int:server_id>/scopes")
@admin_required
def list_scopes(server_id: int) -> list[dict[str, Any]]:
    return _scopes_json(get_or_404(request_session(), Server, server_id))


@bp.post("/servers/<int:server_id>/scopes")
@admin_required
def set_scopes(server_id: int) -> list[dict[str, Any]]:
    """The scope set becomes exactly the keys sent (FlowKit's {scope: bool}; the values are ignored)."""
    session = request_session()
    server = get_or_404(session, Server, server_id)
    wanted = _scope_names(json_value(), "scopes")
    existing = {scope.name: scope for scope in server.scopes}
    for name, scope in existing.items():
        if name not in wanted:
            session.delete(scope)
    for name in wanted:
        if name not in existing:
            session.add(Scope(name=name, server=server))
    session.commit()
    session.refresh(server)
    return _scopes_json(server)


@bp.get("/servers/<int:server_id>/roles")
@admin_required
def list_server_roles(server_id: int) -> list[dict[str, Any]]:
    server = get_or_404(request_session(), Server, server_id)
    return [
        {
            "id": role.id,
            "name": role.name,
            "scopes": [scope.name for scope in role.scopes],
            "latest_token_expiry": format_date(role.latest_token_expiry),
            "longest_token_life_minutes": role.longest_token_life_minutes,
        }
        for role in sorted(server.roles, key=lambda role: role.id)
    ]


@bp.get("/servers/<int:server_id>/time_limits")
@admin_required
def time_limits(server_id: int) -> dict[str, Any]:
    server = get_or_404(request_session(), Server, server_id)
    return {
        "longest_token_life_minutes": server.longest_token_life_minutes,
        "latest_token_expiry": format_date(server.latest_token_expiry),
    }
