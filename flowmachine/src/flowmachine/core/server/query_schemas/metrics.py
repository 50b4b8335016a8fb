"""Per-subscriber metrics accepted by joined_spatial_aggregate and histogram_aggregate."""

from __future__ import annotations

from flowmachine.core.server.query_schemas.event_count import EventCountSchema
from flowmachine.core.server.query_schemas.one_of_query import OneOfQuerySchema
from flowmachine.core.server.query_schemas.radius_of_gyration import RadiusOfGyrationSchema
from flowmachine.core.server.query_schemas.subscriber_degree import SubscriberDegreeSchema


class JoinableMetricsSchema(OneOfQuerySchema):
    query_schemas = (RadiusOfGyrationSchema, SubscriberDegreeSchema, EventCountSchema)


class HistogrammableMetricsSchema(OneOfQuerySchema):
    query_schemas = (RadiusOfGyrationSchema, SubscriberDegreeSchema, EventCountSchema)
