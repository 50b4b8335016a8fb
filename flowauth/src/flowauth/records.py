"""Finding rows by id for the routes: a missing row is a clear 404 (route ids) or 400 (ids in a body).

server = get_or_404(session, Server, server_id)
roles = by_ids(session, Role, [3, 5], "roles")
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from flowauth.errors import bad_request, not_found
from flowauth.models import Base, Role, Scope, Server, TokenHistory, User
from flowauth.payload import valid_id

M = TypeVar("M", bound=Base)

_NAMES: dict[type, str] = {
    User: "user",
    Server: "server",
    Role: "role",
    Scope: "scope",
    TokenHistory: "token",
}


def describe(model: type) -> str:
    return _NAMES.get(model, model.__name__.lower())


def get_or_404(session: Session, model: type[M], row_id: int) -> M:
    """The row of `model` with this id, or 404 "No <kind> with id <n>."."""
    row = session.get(model, row_id) if valid_id(row_id) else None
    if row is None:
        raise not_found(f"No {describe(model)} with id {row_id}.")
    return row


def by_ids(session: Session, model: type[M], ids: list[int], field: str) -> list[M]:
    """The rows with these ids, in the order given; 400 naming `field` if any does not exist."""
    if not ids:
        return []
    mapper = inspect(model)
    (id_column,) = mapper.primary_key  # the models looked up by id have a one-column key, `id`
    found = {
        mapper.primary_key_from_instance(row)[0]: row
        for row in session.scalars(select(model).where(id_column.in_(ids)))
    }
    missing = [str(i) for i in ids if i not in found]
    if missing:
        kind = describe(model)
        raise bad_request(
            f"No {kind} with id {', '.join(missing)}."
            if len(missing) == 1
            else f"No {kind}s with ids {', '.join(missing)}.",
            bad_field=field,
        )
    return [found[i] for i in ids]
