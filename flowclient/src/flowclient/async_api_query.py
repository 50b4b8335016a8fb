"""`ASyncAPIQuery`: `APIQuery` whose network methods are coroutines.

The class is defined in `flowclient._async_query` (below `flowclient.async_connection`, whose `make_api_query`
builds one); this module is its public home, with the names flowclient 1.34 has here.
"""

from __future__ import annotations

from flowclient._async_query import ASyncAPIQuery as ASyncAPIQuery
from flowclient._query import APIQuery as APIQuery
from flowclient.async_client import (
    get_geojson_result_by_query_id as get_geojson_result_by_query_id,
)
from flowclient.async_client import get_result_by_query_id as get_result_by_query_id
from flowclient.async_client import get_status as get_status
from flowclient.async_client import run_query as run_query
from flowclient.async_client import wait_for_query_to_be_ready as wait_for_query_to_be_ready
from flowclient.async_connection import ASyncConnection as ASyncConnection
