"""`/admin/public_key`: the PEM public key FlowAPI needs (PUBLIC_JWT_SIGNING_KEY) to check our tokens."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from flask import Blueprint

from flowauth.blueprints import state
from flowauth.web import admin_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/public_key")
@admin_required
def public_key() -> dict[str, str]:
    key = state().settings.private_jwt_signing_key.public_key()
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {"public_key": pem.decode()}
