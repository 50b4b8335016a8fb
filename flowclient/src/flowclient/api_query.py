"""`APIQuery`: one query spec bound to a connection, run and fetched on demand.

The class is defined in `flowclient._query` (below `flowclient.connection`, whose `make_api_query` builds one);
this module is its public home, with the names flowclient 1.34 has here.
"""

from __future__ import annotations

from flowclient._query import APIQuery as APIQuery
from flowclient._query import check_format as check_format
from flowclient.client import (
    get_geojson_result_by_query_id as get_geojson_result_by_query_id,
)
from flowclient.client import get_result_by_query_id as get_result_by_query_id
from flowclient.client import get_status as get_status
from flowclient.client import run_query as run_query
from flowclient.client import wait_for_query_to_be_ready as wait_for_query_to_be_ready
from flowclient.connection import Connection as Connection
