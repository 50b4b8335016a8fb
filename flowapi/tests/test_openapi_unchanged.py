"""The OpenAPI spec FlowAPI serves is byte for byte the one stored in `fixtures/openapi.json` (issue 20: the
protocol package must not change it). After a deliberate change to the spec, regenerate the fixture with
`FLOWAPI_WRITE_SPEC_FIXTURE=1 pytest flowapi/tests/test_openapi_unchanged.py`."""

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.asyncio

FIXTURE = Path(__file__).parent / "fixtures" / "openapi.json"


async def test_openapi_spec_is_byte_identical(client):
    response = await client.get("/api/0/spec/openapi.json")
    assert response.status_code == 200
    served = await response.get_data()
    if os.environ.get("FLOWAPI_WRITE_SPEC_FIXTURE") == "1":
        FIXTURE.write_bytes(served)
    assert served == FIXTURE.read_bytes()
