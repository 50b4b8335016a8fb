"""What FlowAuth's routes share, kept in `app.extensions["flowauth"]` by the app factory (`flowauth.app`)."""

from __future__ import annotations

from dataclasses import dataclass

from flowauth.crypto import SecretBox
from flowauth.db import Database
from flowauth.settings import Settings


@dataclass
class FlowAuthState:
    """What routes share, kept in `app.extensions["flowauth"]`."""

    settings: Settings
    database: Database
    box: SecretBox
