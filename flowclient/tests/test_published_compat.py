"""The published flowclient 1.34.0 and flowkit-jwt-generator 1.34.0, unchanged, against our stack.

One script is run twice against the same FlowAPI: by a throwaway virtualenv holding only the published packages
(from PyPI), and by this workspace's interpreter (our flowclient and token generator). It mints a token with the
package's `generate_token`, then runs a daily-location spatial aggregate, flows, a radius-of-gyration histogram,
geography and available dates. Both runs must give the same results.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from flowclient import aggregates

pytestmark = pytest.mark.network

SCRIPT = r"""
import datetime, json, sys, warnings
warnings.simplefilter("ignore")
import flowclient
from flowkit_jwt_generator import generate_token, load_private_key

url, audience = sys.argv[1], sys.argv[2]
scopes = json.loads(sys.argv[3])
key = load_private_key(sys.stdin.read())
token = generate_token(flowapi_identifier=audience, username="analyst", private_key=key,
                       lifetime=datetime.timedelta(minutes=10), roles={"analyst": scopes})
conn = flowclient.connect(url=url, token=token)

def daily(date):
    return flowclient.daily_location_spec(date=date, aggregation_unit="admin3", method="last")

def rows(query):
    return sorted(query.get_result().to_dict("records"), key=json.dumps)

out = {
    "spatial_aggregate": rows(flowclient.spatial_aggregate(connection=conn, locations=daily("2016-03-01"))),
    "flows": rows(flowclient.flows(connection=conn, from_location=daily("2016-03-01"),
                                   to_location=daily("2016-03-02"))),
    "histogram": flowclient.histogram_aggregate(
        connection=conn,
        metric=flowclient.radius_of_gyration_spec(start_date="2016-03-01", end_date="2016-03-04"),
        bins=5,
    ).get_result().to_dict("records"),
    "geography": flowclient.get_geography(connection=conn, aggregation_unit="admin3"),
    "available_dates": flowclient.get_available_dates(connection=conn),
}
print(json.dumps(out, default=str, sort_keys=True))
"""


@pytest.fixture(scope="module")
def published_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    uv = os.environ.get("UV") or shutil.which(
        "uv"
    )  # `uv run` names itself in UV (make test's uv is not on PATH)
    if uv is None:
        pytest.skip("uv is needed to build the published packages' virtualenv")
    venv = tmp_path_factory.mktemp("published-flowclient") / "venv"
    subprocess.run(
        [uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True, timeout=300
    )
    python = venv / "bin" / "python"
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(python),
         "flowclient==1.34.0", "flowkit-jwt-generator==1.34.0"],
        check=True,
        timeout=600,
    )  # fmt: skip
    return python


def _run(python: Path | str, url: str, audience: str, scopes: list[str], key_pem: str) -> Any:
    done = subprocess.run(
        [str(python), "-c", SCRIPT, url, audience, json.dumps(scopes)],
        input=key_pem,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_published_client_and_generator_work_unchanged(
    published_python: Path, flowapi_url: str, settings: Any, signing_keys: tuple[Any, Any]
) -> None:
    spec = httpx.get(f"{flowapi_url}/api/0/spec/openapi.json").json()
    scheme = spec["components"]["securitySchemes"]["token"]
    key_pem = (
        signing_keys[0]
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        .decode()
    )
    args = (flowapi_url, scheme["x-audience"], scheme["x-security-scopes"], key_pem)
    published = _run(published_python, *args)
    ours = _run(sys.executable, *args)
    assert published == ours
    assert published["spatial_aggregate"] and published["flows"] and published["histogram"]
    assert published["geography"]["features"]
    assert published["available_dates"]["calls"]


SIGNATURES = r"""
import inspect, json, warnings
warnings.simplefilter("ignore")
import flowclient
out = {}
for name in dir(flowclient):
    obj = getattr(flowclient, name)
    if name.startswith("_") or inspect.isclass(obj) or not callable(obj):
        continue
    params = inspect.signature(obj).parameters.values()
    out[name] = [[p.name, p.kind.name, None if p.default is p.empty else repr(p.default)] for p in params]
print(json.dumps(out))
"""

# 1.34's query makers advertise their spec builder's parameters without defaults (the defaults still apply);
# ours show them. Its calendar_activity and localised_calendar_activity advertise location_event_counts'
# parameters (a copy in FlowKit), which neither accepts.
_MAKERS_ADVERTISING_OTHER_PARAMS = {"calendar_activity", "localised_calendar_activity"}


def _signatures(python: Path | str) -> dict[str, list[list[Any]]]:
    done = subprocess.run(
        [str(python), "-c", SIGNATURES], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


# Ours, additive: keyword-only parameters defaulting to None after 1.34's, which 1.34 callers never pass
# (`epsilon` of the count-type kinds, for servers releasing differentially private results).
_ADDITIVE_KEYWORDS = {"epsilon"}


def _without_additions(
    name: str, ours: list[list[Any]], published: list[list[Any]]
) -> list[list[Any]]:
    extra = ours[len(published) :]
    assert all(
        p[0] in _ADDITIVE_KEYWORDS and p[1] == "KEYWORD_ONLY" and p[2] == "None" for p in extra
    ), name
    return ours[: len(published)]


def test_public_functions_keep_the_published_names_and_signatures(published_python: Path) -> None:
    published, ours = _signatures(published_python), _signatures(sys.executable)
    assert set(published) <= set(ours)
    for name, params in published.items():
        if name in _MAKERS_ADVERTISING_OTHER_PARAMS:
            continue
        mine = _without_additions(name, ours[name], params)
        if f"{name}_spec" in vars(aggregates):  # a query maker: names and kinds, not defaults
            assert [p[:2] for p in mine] == [p[:2] for p in params], name
        else:
            assert mine == params, name
