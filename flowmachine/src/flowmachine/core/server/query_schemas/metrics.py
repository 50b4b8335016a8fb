"""Per-subscriber metrics accepted by joined_spatial_aggregate and histogram_aggregate."""

from __future__ import annotations

from flowmachine.core.server.query_schemas.displacement import DisplacementSchema
from flowmachine.core.server.query_schemas.event_count import EventCountSchema
from flowmachine.core.server.query_schemas.handset import HandsetSchema
from flowmachine.core.server.query_schemas.nocturnal_events import NocturnalEventsSchema
from flowmachine.core.server.query_schemas.one_of_query import OneOfQuerySchema
from flowmachine.core.server.query_schemas.pareto_interactions import ParetoInteractionsSchema
from flowmachine.core.server.query_schemas.radius_of_gyration import RadiusOfGyrationSchema
from flowmachine.core.server.query_schemas.subscriber_degree import SubscriberDegreeSchema
from flowmachine.core.server.query_schemas.topup_amount import TopUpAmountSchema
from flowmachine.core.server.query_schemas.topup_balance import TopUpBalanceSchema
from flowmachine.core.server.query_schemas.total_active_periods import TotalActivePeriodsSchema
from flowmachine.core.server.query_schemas.unique_location_counts import (
    UniqueLocationCountsSchema,
)

# Numeric per-subscriber metrics: joinable (any statistic) and histogrammable.
NUMERIC_METRICS = (
    RadiusOfGyrationSchema,
    UniqueLocationCountsSchema,
    TopUpBalanceSchema,
    SubscriberDegreeSchema,
    TopUpAmountSchema,
    EventCountSchema,
    ParetoInteractionsSchema,
    NocturnalEventsSchema,
    DisplacementSchema,
    TotalActivePeriodsSchema,
)
# Categorical metrics: joinable with method distr or mode only, not histogrammable.
CATEGORICAL_METRICS = (HandsetSchema,)


class JoinableMetricsSchema(OneOfQuerySchema):
    query_schemas = NUMERIC_METRICS + CATEGORICAL_METRICS


class HistogrammableMetricsSchema(OneOfQuerySchema):
    query_schemas = NUMERIC_METRICS
