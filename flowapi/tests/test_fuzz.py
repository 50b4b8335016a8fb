"""A bounded schemathesis run against FlowAPI served by hypercorn on loopback: no input gives a 5xx.

Every operation of the published spec gets a few generated requests (valid and invalid) with an
all-access token; `run` gets only invalid ones, since a valid spec would really be computed.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
import schemathesis
from flowapi_test_helpers import bearer
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from flowapi.testing import serve_in_thread

# Per operation and generation mode. Poll answers 500 for errored and cancelled queries (FlowKit's
# protocol), which generated ids never reach.
MAX_EXAMPLES = 8


@pytest.fixture(scope="module")
def live_url(settings) -> Iterator[str]:
    with serve_in_thread(settings) as url:
        yield url


def test_no_generated_request_gets_a_5xx(live_url, make_token):
    with urllib.request.urlopen(f"{live_url}/api/0/spec/openapi.json", timeout=30) as response:
        spec = json.load(response)
    scopes = spec["components"]["securitySchemes"]["token"]["x-security-scopes"]
    headers = bearer(make_token({"all": scopes}))
    schema = schemathesis.openapi.from_dict(spec)
    failures: list[str] = []
    sent: list[int] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        modes = [GenerationMode.NEGATIVE]
        if operation.path != "/api/0/run":
            # A generated *valid* spec would really run (perhaps over centuries of dates): not here.
            modes.append(GenerationMode.POSITIVE)
        for mode in modes:

            @settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case) -> None:
                response = case.call(base_url=live_url, headers=headers, timeout=60)
                sent.append(response.status_code)
                if response.status_code >= 500:
                    failures.append(
                        f"{case.method} {case.path} {case.path_parameters} {case.query} {case.body!r}"
                        f" -> {response.status_code} {response.text[:200]}"
                    )

            try:
                check()
            except Unsatisfiable:  # nothing to make invalid (an operation without parameters)
                assert mode is GenerationMode.NEGATIVE
    assert not failures, "\n".join(failures[:20])
    assert len(sent) > 50 and any(code < 300 for code in sent)


# Size-like parameters over FlowMachine's bounds (docs/flowmachine.md): 400 in FlowKit's shape, nothing run.
_DAILY = {
    "query_kind": "daily_location",
    "date": "2016-03-01",
    "aggregation_unit": "admin3",
    "method": "last",
}
_METRIC = {"query_kind": "event_count", "start_date": "2016-03-01", "end_date": "2016-03-02"}
_WINDOW = {"start_date": "2016-03-01", "end_date": "2016-03-02", "aggregation_unit": "admin3"}
_MEANINGFUL = {
    "query_kind": "meaningful_locations_aggregate",
    **_WINDOW,
    "label": "unknown",
    "labels": {
        f"l{i}": {"type": "Polygon", "coordinates": [[[i, 0], [i + 0.5, 0], [i, 0.5], [i, 0]]]}
        for i in range(2)
    },
    "tower_hour_of_day_scores": [0.0] * 24,
    "tower_day_of_week_scores": dict.fromkeys(
        ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"], 0.0
    ),
}
OVER_BOUND = {
    "n_bins": {
        "query_kind": "histogram_aggregate",
        "metric": _METRIC,
        "bins": {"n_bins": 300_000_000},
    },
    "bin_list": {
        "query_kind": "histogram_aggregate",
        "metric": _METRIC,
        "bins": {"bin_list": list(range(10_002))},
    },
    "sample size": {
        "query_kind": "histogram_aggregate",
        "metric": _METRIC
        | {"sampling": {"sampling_method": "random_ids", "seed": 0.1, "size": 10**12}},
        "bins": {"n_bins": 5},
    },
    "date span": {"query_kind": "unique_subscriber_counts", **_WINDOW, "end_date": "2066-03-01"},
    "date": {
        "query_kind": "spatial_aggregate",
        "locations": _DAILY | {"date": "9999-12-31"},
    },
    "total_periods": {
        "query_kind": "calendar_activity",
        "start_date": "2016-03-01",
        "total_periods": 10**9,
    },
    "period_length": {
        "query_kind": "calendar_activity",
        "start_date": "2016-03-01",
        "total_periods": 2,
        "period_length": 10**15,
    },
    "event_types": {
        "query_kind": "unique_subscriber_counts",
        **_WINDOW,
        "event_types": ["sms"] * 11,
    },
    "cluster radius": _MEANINGFUL | {"tower_cluster_radius": 1e9},
    "labels": _MEANINGFUL
    | {
        "labels": {
            f"l{i}": {"type": "Polygon", "coordinates": [[[i, 0], [i + 0.5, 0], [i, 0.5], [i, 0]]]}
            for i in range(33)
        }
    },
    # (1,001 locations are over the test's body limit, and FlowAPI bounds JSON depth itself: both are
    # covered in flowmachine/tests/test_query_schemas.py)
    "distr of a number": {
        "query_kind": "joined_spatial_aggregate",
        "locations": _DAILY,
        "metric": _METRIC,
        "method": "distr",
    },
}


def _cache_tables(cluster) -> int:
    with cluster.connect() as conn:
        (n,) = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'cache'").fetchone()
    return n


@pytest.mark.parametrize("name", OVER_BOUND)
def test_over_bound_specs_are_400_and_run_nothing(live_url, make_token, flowdb_cluster, name):
    with urllib.request.urlopen(f"{live_url}/api/0/spec/openapi.json", timeout=30) as response:
        scopes = json.load(response)["components"]["securitySchemes"]["token"]["x-security-scopes"]
    before = _cache_tables(flowdb_cluster)
    request = urllib.request.Request(
        f"{live_url}/api/0/run",
        data=json.dumps(OVER_BOUND[name]).encode(),
        headers={**bearer(make_token({"all": scopes})), "Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=60)
    body = json.loads(info.value.read())
    assert info.value.code == 400, body
    assert body["msg"].startswith("Parameter validation failed.")
    assert body["payload"]["validation_error_messages"]
    assert _cache_tables(flowdb_cluster) == before
