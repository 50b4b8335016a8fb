"""The API's root schema: every top-level (aggregate, redacted) query kind, chosen by `query_kind`."""

from __future__ import annotations

from typing import Any

from flowmachine.core.server.query_schemas.active_at_reference_location_counts import (
    ActiveAtReferenceLocationCountsSchema,
)
from flowmachine.core.server.query_schemas.aggregate_network_objects import (
    AggregateNetworkObjectsSchema,
)
from flowmachine.core.server.query_schemas.calendar_activity import CalendarActivitySchema
from flowmachine.core.server.query_schemas.consecutive_trips_od_matrix import (
    ConsecutiveTripsODMatrixSchema,
)
from flowmachine.core.server.query_schemas.dfs_metric_total_amount import DFSTotalMetricAmountSchema
from flowmachine.core.server.query_schemas.dummy_query import DummyQuerySchema
from flowmachine.core.server.query_schemas.flows import FlowsSchema
from flowmachine.core.server.query_schemas.geography import GeographySchema
from flowmachine.core.server.query_schemas.histogram_aggregate import HistogramAggregateSchema
from flowmachine.core.server.query_schemas.inflows import InflowsSchema
from flowmachine.core.server.query_schemas.joined_spatial_aggregate import (
    JoinedSpatialAggregateSchema,
)
from flowmachine.core.server.query_schemas.labelled_flows import LabelledFlowsSchema
from flowmachine.core.server.query_schemas.labelled_spatial_aggregate import (
    LabelledSpatialAggregateSchema,
)
from flowmachine.core.server.query_schemas.limits import check_spec_size
from flowmachine.core.server.query_schemas.localised_calendar_activity import (
    LocalisedCalendarActivitySchema,
)
from flowmachine.core.server.query_schemas.location_event_counts import LocationEventCountsSchema
from flowmachine.core.server.query_schemas.location_introversion import LocationIntroversionSchema
from flowmachine.core.server.query_schemas.meaningful_locations_aggregate import (
    MeaningfulLocationsAggregateSchema,
)
from flowmachine.core.server.query_schemas.meaningful_locations_between_dates_od_matrix import (
    MeaningfulLocationsBetweenDatesODMatrixSchema,
)
from flowmachine.core.server.query_schemas.meaningful_locations_between_label_od_matrix import (
    MeaningfulLocationsBetweenLabelODMatrixSchema,
)
from flowmachine.core.server.query_schemas.one_of_query import OneOfQuerySchema
from flowmachine.core.server.query_schemas.outflows import OutflowsSchema
from flowmachine.core.server.query_schemas.spatial_aggregate import SpatialAggregateSchema
from flowmachine.core.server.query_schemas.total_network_objects import TotalNetworkObjectsSchema
from flowmachine.core.server.query_schemas.trips_od_matrix import TripsODMatrixSchema
from flowmachine.core.server.query_schemas.unique_subscriber_counts import (
    UniqueSubscriberCountsSchema,
)
from flowmachine.core.server.query_schemas.unique_visitor_counts import UniqueVisitorCountsSchema
from flowmachine.core.server.query_schemas.unmoving_at_reference_location_counts import (
    UnmovingAtReferenceLocationCountsSchema,
)
from flowmachine.core.server.query_schemas.unmoving_counts import UnmovingCountsSchema


class FlowmachineQuerySchema(OneOfQuerySchema):
    """Also bounds the whole spec (`limits.check_spec_size`) before any of it is loaded."""

    def load(self, data: Any, **kwargs: Any) -> Any:
        check_spec_size(data)
        return super().load(data, **kwargs)

    query_schemas = (
        CalendarActivitySchema,
        LabelledFlowsSchema,
        LabelledSpatialAggregateSchema,
        LocalisedCalendarActivitySchema,
        ActiveAtReferenceLocationCountsSchema,
        AggregateNetworkObjectsSchema,
        ConsecutiveTripsODMatrixSchema,
        DFSTotalMetricAmountSchema,
        DummyQuerySchema,
        FlowsSchema,
        GeographySchema,
        HistogramAggregateSchema,
        InflowsSchema,
        JoinedSpatialAggregateSchema,
        LocationEventCountsSchema,
        LocationIntroversionSchema,
        MeaningfulLocationsAggregateSchema,
        MeaningfulLocationsBetweenDatesODMatrixSchema,
        MeaningfulLocationsBetweenLabelODMatrixSchema,
        OutflowsSchema,
        SpatialAggregateSchema,
        TotalNetworkObjectsSchema,
        TripsODMatrixSchema,
        UniqueSubscriberCountsSchema,
        UniqueVisitorCountsSchema,
        UnmovingAtReferenceLocationCountsSchema,
        UnmovingCountsSchema,
    )
