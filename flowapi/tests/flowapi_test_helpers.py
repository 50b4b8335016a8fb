"""Query specs and scopes the FlowAPI tests share (a uniquely named module, unlike conftest), and the helpers of
`flowapi.testing` they use most."""

from __future__ import annotations

from flowapi.testing import AUDIENCE, bearer, fake_flowmachine

__all__ = ["AUDIENCE", "DAILY", "SPATIAL", "SPATIAL_SCOPES", "bearer", "fake_flowmachine"]

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
