"""The table of query kinds flowclient has helpers for: one `Kind` entry per kind.

Every `<kind>_spec` builder and every top-level `<kind>(connection=..., ...)` maker comes from this table
(`flowclient._spec_builders` turns an entry into functions; `flowclient.query_specs`, `flowclient.aggregates` and
`flowclient` publish them). Adding a kind to flowclient is one entry in `KINDS`:

    Kind("subscribers_seen", "Distinct subscribers seen at each location between two dates.",
         (*SPAN, AGGREGATION_UNIT), top_level=True),

gives `flowclient.aggregates.subscribers_seen_spec` and `subscribers_seen` (also `flowclient.subscribers_seen`);
without `top_level=True` it gives the nested `flowclient.query_specs.subscribers_seen_spec` (also at top level).

A parameter is declared once, with its annotation, default and one line of documentation; shared ones are the
constants below. How a value reaches the spec is declared on the parameter: `key=` sends it under another name,
`convert=` transforms it (e.g. `hours_spec`), `omit_if_none=True` leaves a None out. The few helpers whose spec is
not one flat dict give an `assemble` function (`sampled`, `modal_over_days`).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from flowclient._spec_builders import Kind, Param, Spec

# --- converters: a helper's argument → the value the server expects


def hours_spec(hours: tuple[int, int] | None) -> dict[str, int] | None:
    """`(start, end)` hours of the day as the server's `{"start_hour", "end_hour"}` (or None)."""
    if hours is None:
        return None
    return {"start_hour": hours[0], "end_hour": hours[1]}


def bins_spec(bins: int | list[float]) -> dict[str, Any]:
    """A bin count as `{"n_bins": n}`, a list of bin edges as `{"bin_list": edges}`."""
    return {"bin_list": bins} if isinstance(bins, list) else {"n_bins": bins}


def first_two(values: tuple[float, float]) -> list[float]:
    """A `(low, high)` range as the server's two-item list."""
    return list(values[:2])


# --- parameters shared by many kinds

START_DATE = Param("start_date", "str", doc='ISO date of the first day, e.g. "2016-01-01".')
END_DATE = Param("end_date", "str", doc="ISO date of the day after the last day.")
SPAN = (START_DATE, END_DATE)
AGGREGATION_UNIT = Param(
    "aggregation_unit", "str", doc='Spatial unit, e.g. "admin3", "lon-lat", "versioned-site".'
)
METHOD = Param("method", "str", doc='"last" or "most-common".')
EVENT_TYPES = Param(
    "event_types",
    "list[str] | None",
    None,
    doc='Event types to use ("calls", "sms", "mds", "topups"); all when None.',
)
SUBSCRIBER_SUBSET = Param(
    "subscriber_subset", "dict | str | None", None, doc="Restrict to a subset of subscribers."
)
HOURS = Param(
    "hours",
    "tuple[int, int] | None",
    None,
    doc="Only events from the start hour up to the end hour of each day (all day when None).",
    convert=hours_spec,
)
MAPPING_TABLE = Param(
    "mapping_table", "str | None", None, doc="Table mapping cells to the aggregation unit."
)
GEOM_TABLE = Param("geom_table", "str | None", None, doc="Table holding the unit's geometries.")
GEOM_TABLE_JOIN_COLUMN = Param(
    "geom_table_join_column", "str | None", None, doc="Column of `geom_table` to join on."
)
LOCATED = (MAPPING_TABLE, GEOM_TABLE, GEOM_TABLE_JOIN_COLUMN)
DIRECTION = Param("direction", "str", "both", doc='"in", "out" or "both".')
STATISTIC = Param(
    "statistic", "str", doc='"avg", "max", "min", "median", "mode", "stddev" or "variance".'
)
LOCATIONS = Param("locations", "Spec", doc="A location spec (e.g. `daily_location_spec(...)`).")
LOCATION_LIST = Param("locations", "list[Spec]", doc="Location specs.")
FROM_LOCATION = Param("from_location", "Spec", doc="Location spec of the origins.")
TO_LOCATION = Param("to_location", "Spec", doc="Location spec of the destinations.")
JOIN_TYPE = Param(
    "join_type", "str", "inner", doc='"inner", "left", "right", "full" or "full outer".'
)
LABELS = Param("labels", "dict[str, Any]", doc="A spec labelling subscribers (e.g. mobility).")
REFERENCE_LOCATIONS = Param(
    "reference_locations", "Spec", doc="Each subscriber's reference location."
)
PERIODS = (
    START_DATE,
    Param("total_periods", "int", doc="How many periods."),
    Param("period_unit", "str", "days", doc='"days", "hours" or "minutes".'),
    Param("period_length", "int", 1, doc="Units per period."),
    EVENT_TYPES,
    SUBSCRIBER_SUBSET,
    HOURS,
)
MEANINGFUL_SCORES = (
    Param("labels", "dict[str, dict[str, dict]]", doc="Each label's region of the score plane."),
    Param("tower_day_of_week_scores", "dict[str, float]", doc="A score per day of the week."),
    Param("tower_hour_of_day_scores", "list[float]", doc="24 scores, one per hour."),
    AGGREGATION_UNIT,
    Param("tower_cluster_radius", "float", 1.0, doc="Radius (km) of a tower cluster."),
)
MEANINGFUL_TAIL = (EVENT_TYPES, SUBSCRIBER_SUBSET, *LOCATED)
CALL_THRESHOLD = Param(
    "tower_cluster_call_threshold", "int", 0, doc="Fewest calls for a cluster to count."
)

# Appended to the count-type top-level kinds (those a differentially private release may answer): a parameter
# added here reaches all of them. Ours (issue 21): `epsilon`, left out of the spec when None, so 1.34 callers
# and servers in the default (redaction) mode see exactly the specs they always did.
COUNTED: tuple[Param, ...] = (
    Param(
        "epsilon",
        "float | None",
        None,
        doc="Privacy loss to spend on a server releasing differentially private results "
        "(within the token's limits); None for the default release.",
        omit_if_none=True,
    ),
)


# --- helpers whose spec is not one flat dict


def sampled(kind: Kind, arguments: dict[str, Any]) -> Spec:
    """random_sample: a copy of the `query` spec with the other parameters as its `sampling` section."""
    fields = kind.fields(arguments)
    return {**fields.pop("query"), "sampling": fields}


def modal_over_days(kind: Kind, arguments: dict[str, Any]) -> Spec:
    """A modal_location over one daily_location per day from start_date up to (not including) end_date."""
    days = pd.date_range(
        arguments.pop("start_date"), arguments.pop("end_date"), freq="D", inclusive="left"
    )
    return MODAL_LOCATION.spec(
        locations=[DAILY_LOCATION.spec(date=day.strftime("%Y-%m-%d"), **arguments) for day in days]
    )


# --- the table

DAILY_LOCATION = Kind(
    "daily_location",
    'Each subscriber\'s location on `date` ("last" or "most-common" `method`).',
    (Param("date", "str", doc='ISO date, e.g. "2016-01-01".'), AGGREGATION_UNIT, METHOD)
    + (EVENT_TYPES, SUBSCRIBER_SUBSET, *LOCATED, HOURS),
)
MODAL_LOCATION = Kind(
    "modal_location",
    "Each subscriber's most frequent location among several location specs.",
    (LOCATION_LIST,),
)
MOST_FREQUENT = (*SPAN, AGGREGATION_UNIT, HOURS, EVENT_TYPES, SUBSCRIBER_SUBSET, *LOCATED)
SPAN_FILTERED = (*SPAN, EVENT_TYPES, SUBSCRIBER_SUBSET, HOURS)
TRIPS = (*SPAN, AGGREGATION_UNIT, EVENT_TYPES, SUBSCRIBER_SUBSET, *LOCATED, HOURS)
ALL_OF_SPAN = (*SPAN, AGGREGATION_UNIT, *LOCATED, EVENT_TYPES, SUBSCRIBER_SUBSET, HOURS)
TOPUPS = (*SPAN, STATISTIC, SUBSCRIBER_SUBSET, HOURS)
UNIQUE_LOCATIONS = Param("unique_locations", "Spec", doc="A unique_locations spec.")

KINDS: tuple[Kind, ...] = (
    # nested (individual-level) kinds: flowclient.query_specs
    DAILY_LOCATION,
    MODAL_LOCATION,
    Kind(
        "modal_location_from_dates",
        "A modal location over one daily location per day from `start_date` up to (not including)\n"
        "`end_date`.",
        (*SPAN, AGGREGATION_UNIT, METHOD, EVENT_TYPES, SUBSCRIBER_SUBSET, *LOCATED, HOURS),
        assemble=modal_over_days,
    ),
    Kind(
        "unique_locations",
        "The set of distinct locations each subscriber visited in the period.",
        TRIPS,
    ),
    Kind(
        "most_frequent_location",
        "The location each subscriber was seen at most often in the period.",
        MOST_FREQUENT,
    ),
    Kind(
        "visited_most_days",
        "The location each subscriber was seen at on the most days of the period.",
        MOST_FREQUENT,
    ),
    Kind(
        "radius_of_gyration",
        "Each subscriber's radius of gyration (km) between `start_date` and `end_date`.",
        SPAN_FILTERED,
    ),
    Kind(
        "total_active_periods",
        "How many of `total_periods` periods (of `period_length` `period_unit`s) each subscriber was\n"
        "active in.",
        PERIODS,
    ),
    Kind(
        "unique_location_counts",
        "How many distinct locations each subscriber visited.",
        (*SPAN, AGGREGATION_UNIT, EVENT_TYPES, SUBSCRIBER_SUBSET, HOURS, *LOCATED),
    ),
    Kind(
        "topup_balance",
        'A `statistic` ("avg", "max", ...) of each subscriber\'s top-up balance.',
        TOPUPS,
    ),
    Kind("topup_amount", "A `statistic` of each subscriber's top-up amounts.", TOPUPS),
    Kind(
        "subscriber_degree",
        'How many distinct counterparts each subscriber had ("in", "out" or "both").',
        (*SPAN, DIRECTION, EVENT_TYPES, SUBSCRIBER_SUBSET, HOURS),
    ),
    Kind(
        "event_count",
        "How many events each subscriber had.",
        (*SPAN, DIRECTION, EVENT_TYPES, SUBSCRIBER_SUBSET, HOURS),
    ),
    Kind(
        "displacement",
        "A `statistic` of each subscriber's distance from a reference location spec.",
        (
            *SPAN,
            STATISTIC,
            Param("reference_location", "dict[str, Any]", doc="A location spec to measure from."),
            EVENT_TYPES,
            SUBSCRIBER_SUBSET,
            HOURS,
        ),
    ),
    Kind(
        "pareto_interactions",
        "How many counterparts make up `proportion` of each subscriber's interactions.",
        (*SPAN, Param("proportion", "float", doc="A share, 0 to 1."), EVENT_TYPES)
        + (SUBSCRIBER_SUBSET, HOURS),
    ),
    Kind(
        "nocturnal_events",
        "The share of each subscriber's events in the night `hours` (start, end).",
        (
            *SPAN,
            Param(
                "hours",
                "tuple[int, int]",
                doc="The night: (start hour, end hour).",
                key="night_hours",
                convert=hours_spec,
            ),
            EVENT_TYPES,
            SUBSCRIBER_SUBSET,
        ),
    ),
    Kind(
        "handset",
        'A handset `characteristic` of each subscriber ("last" or "most-common" `method`).',
        (
            *SPAN,
            Param("characteristic", "str", "hnd_type", doc='"hnd_type", "brand", "model", ...'),
            Param("method", "str", "last", doc='"last" or "most-common".'),
            EVENT_TYPES,
            SUBSCRIBER_SUBSET,
            HOURS,
        ),
    ),
    Kind(
        "random_sample",
        "A copy of `query` with a `sampling` section (give `size` or `fraction`).",
        (
            Param("query", "Spec", doc="The individual-level spec to sample."),
            Param("seed", "float", doc="Seed of the sample."),
            Param(
                "sampling_method", "str", "random_ids", doc='"random_ids", "system" or "bernoulli".'
            ),
            Param("size", "int | None", None, doc="How many subscribers."),
            Param("fraction", "float | None", None, doc="Or which share of them."),
            Param("estimate_count", "bool", True, doc="Estimate the population size (faster)."),
        ),
        assemble=sampled,
    ),
    Kind(
        "majority_location",
        "The location holding over half of each subscriber's weight (e.g. location_visits).",
        (
            Param("subscriber_location_weights", "Spec", doc="A location_visits spec."),
            Param("minimum_total_weight", "float", 0.0, doc="Least total weight to be located."),
            Param("include_unlocatable", "bool", False, doc="Keep subscribers with no majority."),
        ),
    ),
    Kind(
        "location_visits",
        "How many of the given location specs place each subscriber at each location.",
        (LOCATION_LIST,),
    ),
    Kind(
        "coalesced_location",
        "`preferred_location`, or where it is missing `fallback_location` if its weight is at least\n"
        "`weight_threshold`.",
        (
            Param("preferred_location", "Spec", doc="A majority_location spec."),
            Param("fallback_location", "Spec", doc="A majority_location spec."),
            Param("subscriber_location_weights", "Spec", doc="A location_visits spec."),
            Param("weight_threshold", "int", doc="Least weight for the fallback."),
        ),
    ),
    Kind(
        "mobility_classification",
        "Classify subscribers by mobility over a sequence of location specs.",
        (LOCATION_LIST, Param("stay_length_threshold", "int", doc="Shortest stay that counts.")),
    ),
    # top-level kinds (aggregates): flowclient.aggregates, each with an APIQuery maker
    Kind(
        "location_event_counts",
        'Events per location per `count_interval` ("day", "hour", "min", "week" or "month"; weeks start on\n'
        "Monday).",
        (
            *SPAN,
            AGGREGATION_UNIT,
            Param(
                "count_interval",
                "str",
                doc='"day", "hour", "min", "week" (ISO, from Monday) or "month".',
                key="interval",
            ),
            DIRECTION,
            EVENT_TYPES,
            SUBSCRIBER_SUBSET,
            *LOCATED,
            HOURS,
            *COUNTED,
        ),
        top_level=True,
    ),
    Kind(
        "meaningful_locations_aggregate",
        "Subscribers per location whose meaningful location carries `label`.",
        (*SPAN, Param("label", "str", doc="The label counted."), *MEANINGFUL_SCORES)
        + (CALL_THRESHOLD, *MEANINGFUL_TAIL),
        top_level=True,
    ),
    Kind(
        "meaningful_locations_between_label_od_matrix",
        "Origin-destination counts between meaningful locations labelled `label_a` and `label_b`.",
        (
            *SPAN,
            Param("label_a", "str", doc="Origin label."),
            Param("label_b", "str", doc="Destination label."),
        )
        + (*MEANINGFUL_SCORES, CALL_THRESHOLD, *MEANINGFUL_TAIL),
        top_level=True,
    ),
    Kind(
        "meaningful_locations_between_dates_od_matrix",
        "Origin-destination counts of the `label` meaningful location between two periods.",
        (
            Param("start_date_a", "str", doc="First day of the first period."),
            Param("end_date_a", "str", doc="Day after the first period."),
            Param("start_date_b", "str", doc="First day of the second period."),
            Param("end_date_b", "str", doc="Day after the second period."),
            Param("label", "str", doc="The label counted."),
            *MEANINGFUL_SCORES,
            Param("tower_cluster_call_threshold", "float", 0, doc=CALL_THRESHOLD.doc),
            *MEANINGFUL_TAIL,
        ),
        top_level=True,
    ),
    Kind(
        "flows",
        "Subscribers moving between each pair of locations of two location specs.",
        (FROM_LOCATION, TO_LOCATION, JOIN_TYPE, *COUNTED),
        top_level=True,
    ),
    Kind(
        "inflows",
        "Subscribers arriving at each location (flows summed by destination).",
        (FROM_LOCATION, TO_LOCATION, JOIN_TYPE),
        top_level=True,
    ),
    Kind(
        "outflows",
        "Subscribers leaving each location (flows summed by origin).",
        (FROM_LOCATION, TO_LOCATION, JOIN_TYPE),
        top_level=True,
    ),
    Kind(
        "labelled_flows",
        "Flows split by a subscriber label (e.g. a mobility classification).",
        (FROM_LOCATION, TO_LOCATION, LABELS, JOIN_TYPE),
        top_level=True,
    ),
    Kind(
        "unique_subscriber_counts",
        "Distinct subscribers seen at each location in the period.",
        (*ALL_OF_SPAN, *COUNTED),
        top_level=True,
    ),
    Kind(
        "rolling_unique_subscriber_counts",
        "Distinct subscribers seen at each location in the `window_days` days ending on each day, for every\n"
        "day from `start_date` + `window_days` - 1 to the day before `end_date` (one pass; ours, additive).",
        (
            *SPAN,
            AGGREGATION_UNIT,
            Param("window_days", "int", 7, doc="Length of each trailing window, in days."),
            *LOCATED,
            EVENT_TYPES,
            SUBSCRIBER_SUBSET,
            HOURS,
        ),
        top_level=True,
    ),
    Kind(
        "dfs_metric_total_amount",
        "The daily total of a mobile-money metric (amount, commission, fee or discount) per location; the\n"
        "end date is included.",
        (Param("metric", "str", doc='"amount", "commission", "fee" or "discount".'), *SPAN)
        + (AGGREGATION_UNIT,),
        top_level=True,
    ),
    Kind(
        "location_introversion",
        "The share of each location's interactions that stay within it.",
        (*SPAN, AGGREGATION_UNIT, DIRECTION, *LOCATED, EVENT_TYPES, SUBSCRIBER_SUBSET, HOURS),
        top_level=True,
    ),
    Kind(
        "total_network_objects",
        "Active network objects (sites/cells) per location per `total_by` period.",
        (
            *SPAN,
            AGGREGATION_UNIT,
            Param(
                "total_by",
                "str",
                "day",
                doc='"minute", ..., "day", "week" (from Monday), "month", ...',
            ),
        )
        + (*LOCATED, EVENT_TYPES, SUBSCRIBER_SUBSET, HOURS, *COUNTED),
        top_level=True,
    ),
    Kind(
        "aggregate_network_objects",
        "A `statistic` of a total_network_objects spec per `aggregate_by` period.",
        (
            Param("total_network_objects", "Spec", doc="A total_network_objects spec."),
            STATISTIC,
            Param(
                "aggregate_by",
                "str",
                "day",
                doc='"hour", "day", "week" (from Monday), "month", ...',
            ),
        ),
        top_level=True,
    ),
    Kind(
        "spatial_aggregate",
        "Subscribers per location of a location spec (e.g. a daily location).",
        (LOCATIONS, *COUNTED),
        top_level=True,
    ),
    Kind(
        "labelled_spatial_aggregate",
        "Subscribers per location and per label.",
        (LOCATIONS, LABELS),
        top_level=True,
    ),
    Kind(
        "consecutive_trips_od_matrix",
        "Trips between consecutive event locations, counted per origin-destination pair.",
        TRIPS,
        top_level=True,
    ),
    Kind(
        "trips_od_matrix",
        "Trips between event locations, counted per origin-destination pair.",
        TRIPS,
        top_level=True,
    ),
    Kind(
        "unmoving_counts",
        "Subscribers per location who were seen only there (from a unique_locations spec).",
        (UNIQUE_LOCATIONS.sent_as("locations"),),
        top_level=True,
    ),
    Kind(
        "unmoving_at_reference_location_counts",
        "Subscribers per reference location who never left it.",
        (REFERENCE_LOCATIONS, UNIQUE_LOCATIONS.sent_as("locations")),
        top_level=True,
    ),
    Kind(
        "active_at_reference_location_counts",
        "Subscribers per reference location who were seen there at all.",
        (REFERENCE_LOCATIONS, UNIQUE_LOCATIONS),
        top_level=True,
    ),
    Kind(
        "unique_visitor_counts",
        "Subscribers per location who were seen there but are not active there at their reference\n"
        "location (from an active_at_reference_location_counts and a unique_subscriber_counts spec).",
        (
            Param("active_at_reference_location_counts", "Spec", doc="Its spec."),
            Param("unique_subscriber_counts", "Spec", doc="Its spec."),
        ),
        top_level=True,
    ),
    Kind(
        "dummy_query",
        "A query with no data, for testing (it takes `dummy_delay` seconds to run).",
        (
            Param("dummy_param", "str", doc="Any text."),
            AGGREGATION_UNIT,
            Param("dummy_delay", "int", 0, doc="Seconds to take."),
        ),
        top_level=True,
    ),
    Kind(
        "joined_spatial_aggregate",
        'A per-location `method` ("avg", "max", "distr", ...) of a subscriber metric.',
        (
            LOCATIONS,
            Param("metric", "Spec", doc="A subscriber metric spec (e.g. radius_of_gyration)."),
            Param(
                "method",
                "str",
                "avg",
                doc='"avg", "max", "min", "median", "mode", "stddev", "variance" or "distr".',
            ),
        ),
        top_level=True,
    ),
    Kind(
        "histogram_aggregate",
        "A histogram of a subscriber metric: `bins` is a bin count or a list of bin edges.",
        (
            Param("metric", "Spec", doc="A subscriber metric spec."),
            Param("bins", "int | list[float]", doc="Bin count or bin edges.", convert=bins_spec),
            Param(
                "range",
                "tuple[float, float] | None",
                None,
                doc="(low, high) of the bins; the metric's own range when None.",
                convert=first_two,
                omit_if_none=True,
            ),
            *COUNTED,
        ),
        top_level=True,
    ),
    Kind(
        "calendar_activity",
        "Subscribers counted by their pattern of active periods.",
        PERIODS,
        top_level=True,
    ),
    Kind(
        "localised_calendar_activity",
        "Calendar activity split by each subscriber's reference location.",
        (
            *PERIODS,
            Param(
                "locations",
                "Spec | None",
                None,
                doc="Each subscriber's reference location spec.",
                key="reference_location",
            ),
        ),
        top_level=True,
    ),
)
