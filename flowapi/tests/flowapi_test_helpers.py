"""Constants and small helpers the FlowAPI tests share (a uniquely named module, unlike conftest)."""

from __future__ import annotations

AUDIENCE = "test-flowapi"

DAILY = {
    "query_kind": "daily_location",
    "date": "2016-03-01",
    "aggregation_unit": "admin3",
    "method": "last",
}
SPATIAL = {"query_kind": "spatial_aggregate", "locations": DAILY}
SPATIAL_SCOPES = [
    "admin3:spatial_aggregate:spatial_aggregate",
    "admin3:spatial_aggregate:daily_location",
]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
