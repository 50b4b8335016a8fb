"""The API's root schema: every top-level (aggregate, redacted) query kind, chosen by `query_kind`."""

from __future__ import annotations

from flowmachine.core.server.query_schemas.aggregate_network_objects import (
    AggregateNetworkObjectsSchema,
)
from flowmachine.core.server.query_schemas.flows import FlowsSchema
from flowmachine.core.server.query_schemas.geography import GeographySchema
from flowmachine.core.server.query_schemas.histogram_aggregate import HistogramAggregateSchema
from flowmachine.core.server.query_schemas.inflows import InflowsSchema
from flowmachine.core.server.query_schemas.joined_spatial_aggregate import (
    JoinedSpatialAggregateSchema,
)
from flowmachine.core.server.query_schemas.location_event_counts import LocationEventCountsSchema
from flowmachine.core.server.query_schemas.one_of_query import OneOfQuerySchema
from flowmachine.core.server.query_schemas.outflows import OutflowsSchema
from flowmachine.core.server.query_schemas.spatial_aggregate import SpatialAggregateSchema
from flowmachine.core.server.query_schemas.total_network_objects import TotalNetworkObjectsSchema
from flowmachine.core.server.query_schemas.unique_subscriber_counts import (
    UniqueSubscriberCountsSchema,
)


class FlowmachineQuerySchema(OneOfQuerySchema):
    query_schemas = (
        AggregateNetworkObjectsSchema,
        FlowsSchema,
        GeographySchema,
        HistogramAggregateSchema,
        InflowsSchema,
        JoinedSpatialAggregateSchema,
        LocationEventCountsSchema,
        OutflowsSchema,
        SpatialAggregateSchema,
        TotalNetworkObjectsSchema,
        UniqueSubscriberCountsSchema,
    )
