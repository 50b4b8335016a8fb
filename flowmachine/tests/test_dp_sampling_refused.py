"""Differential-privacy mode refuses random samples anywhere in a spec: a sample's membership depends on other
subscribers' rows (TABLESAMPLE pages and row positions; a fixed random_ids size lets one subscriber displace
another), so the L1 sensitivity the noise is calibrated to would not hold."""

from __future__ import annotations

from dataclasses import replace

import pytest
from marshmallow import ValidationError

from flowmachine.core.server.dp_schemas import SAMPLING_REFUSED, root_schema
from flowmachine.core.settings import Settings

DP = replace(Settings(), release_mode="differential_privacy")
DAILY = {
    "query_kind": "daily_location",
    "date": "2016-03-01",
    "aggregation_unit": "admin3",
    "method": "last",
}


def sampled(method: str) -> dict:
    size = {"fraction": 0.9} if method != "random_ids" else {"size": 10}
    return {**DAILY, "sampling": {"sampling_method": method, "seed": 0.5, **size}}


@pytest.mark.parametrize("method", ["system", "bernoulli", "random_ids"])
def test_dp_mode_refuses_sampling_at_any_depth(method):
    schema = root_schema(DP)()
    specs = [
        {"query_kind": "spatial_aggregate", "locations": sampled(method), "epsilon": 1.0},
        {
            "query_kind": "flows",
            "from_location": DAILY,
            "to_location": sampled(method),
            "epsilon": 1.0,
        },
    ]
    for spec in specs:
        with pytest.raises(ValidationError) as refused:
            schema.load(spec)
        assert refused.value.messages == {"sampling": [SAMPLING_REFUSED]}


def test_dp_mode_loads_the_same_specs_without_sampling():
    schema = root_schema(DP)()
    for spec in (
        {"query_kind": "spatial_aggregate", "locations": {**DAILY, "sampling": None}, "epsilon": 1},
        {"query_kind": "flows", "from_location": DAILY, "to_location": DAILY, "epsilon": 1},
    ):
        assert schema.load(spec).epsilon == 1.0


def test_redaction_mode_still_samples():
    spec = {"query_kind": "spatial_aggregate", "locations": sampled("random_ids")}
    assert root_schema(Settings())().load(spec).locations.sampling["size"] == 10
