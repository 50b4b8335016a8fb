"""The examples of docs/analyst-guide.md: one flowclient snippet per query kind, run against a running stack.

    make up                                   # FlowDB with synthetic data, Redis, FlowMachine, FlowAPI, FlowAuth
    uv run python scripts/analyst_guide_examples.py [--only KIND ... | --only topics] [--render-only]

Each snippet is the exact text shown in the guide. It is run with `fc` (flowclient) and `conn` (a connection to
FlowAPI at http://127.0.0.1:${FLOWAPI_PORT:-9090}, with a token signed by the stack's development key
`.stack/keys/private.pem`, as scripts/demo_api.py mints it) and must leave its result in `df`. The script then
rewrites the part of docs/analyst-guide.md between the `analyst-guide:begin` / `analyst-guide:end` markers: each
kind's description, snippet, row count and first rows (`df.head()`) as a Markdown table. Nested kinds (those only
accepted inside another kind) are listed with the kinds that accept them, from FlowMachine's published schemas.
Before the per-kind reference come the worked sections of scripts/analyst_guide_topics.py ("Your own
geography", "Rolling windows and weekly totals"): their snippets run the same way, and their figures are drawn
from what the snippets return into docs/img/ (the first loads an example polygon layer with `flowdb
load-geography` if FlowAPI does not publish it yet).

Outputs are also kept in docs/analyst-guide-outputs.json, so `--only KIND ...` reruns a few kinds and
`--render-only` rewrites the guide without a stack (flowclient/tests/test_analyst_guide.py checks the guide
against `render`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "analyst-guide.md"
OUTPUTS = ROOT / "docs" / "analyst-guide-outputs.json"  # what the last run produced, per kind
BEGIN, END = "<!-- analyst-guide:begin -->", "<!-- analyst-guide:end -->"
HEAD_ROWS = 5


def _sibling(name: str) -> ModuleType:
    """A module of this folder (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# The worked sections before the per-kind reference ("Your own geography", "Rolling windows ..."), with figures.
topics = _sibling("analyst_guide_topics")


@dataclass(frozen=True)
class Example:
    kind: str
    summary: str
    code: str
    note: str = ""  # shown under the output, e.g. why it is empty on the demo data


# Shared by the three meaningful_* examples (they are shown in the guide once, under "Meaningful locations").
MEANINGFUL_SETUP = """\
# Each cell cluster is scored by when it is used: +1 in the day/working week, -1 in the evening/weekend.
hour_scores = [-1.0] * 7 + [1.0] * 11 + [-1.0] * 6  # 24 values, one per hour of day
day_scores = {"monday": 1.0, "tuesday": 1.0, "wednesday": 1.0, "thursday": 1.0,
              "friday": 1.0, "saturday": -1.0, "sunday": -1.0}
# A label is a polygon in the (hour score, day score) square [-1, 1] x [-1, 1].
box = lambda x0, x1, y0, y1: {"type": "Polygon",
                              "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}
labels = {"home": box(-1.1, -0.05, -1.1, 1.1), "work": box(0.05, 1.1, 0.05, 1.1)}
"""

TOP_LEVEL: list[Example] = [
    Example(
        "spatial_aggregate",
        "Subscribers per location, each subscriber counted once at their reference location (here their last "
        "location of the day). The building block of population maps.",
        """\
dl = fc.daily_location_spec(date="2016-01-01", aggregation_unit="admin3", method="last")
df = fc.spatial_aggregate(connection=conn, locations=dl).get_result()""",
    ),
    Example(
        "flows",
        "Subscribers moving between each pair of locations of two reference locations (an origin-destination "
        "matrix; pairs with the same origin and destination are those who stayed).",
        """\
day1 = fc.daily_location_spec(date="2016-01-01", aggregation_unit="admin1", method="last")
day7 = fc.daily_location_spec(date="2016-01-07", aggregation_unit="admin1", method="last")
df = fc.flows(connection=conn, from_location=day1, to_location=day7).get_result()""",
    ),
    Example(
        "inflows",
        "Subscribers arriving at each location: the flows matrix summed by destination.",
        """\
day1 = fc.daily_location_spec(date="2016-01-01", aggregation_unit="admin2", method="last")
day7 = fc.daily_location_spec(date="2016-01-07", aggregation_unit="admin2", method="last")
df = fc.inflows(connection=conn, from_location=day1, to_location=day7).get_result()""",
    ),
    Example(
        "outflows",
        "Subscribers leaving each location: the flows matrix summed by origin.",
        """\
day1 = fc.daily_location_spec(date="2016-01-01", aggregation_unit="admin2", method="last")
day7 = fc.daily_location_spec(date="2016-01-07", aggregation_unit="admin2", method="last")
df = fc.outflows(connection=conn, from_location=day1, to_location=day7).get_result()""",
    ),
    Example(
        "unique_subscriber_counts",
        "Distinct subscribers with at least one event at each location in the period (a subscriber seen in two "
        "places counts in both).",
        """\
df = fc.unique_subscriber_counts(
    connection=conn, start_date="2016-01-01", end_date="2016-01-04", aggregation_unit="admin2"
).get_result()""",
    ),
    Example(
        "rolling_unique_subscriber_counts",
        "Ours: distinct subscribers at each location in the `window_days` days ending on each day, for every "
        "day from `start_date + window_days - 1` to the day before `end_date` (so every window lies in the "
        "range), computed in one pass. Each row is what unique_subscriber_counts gives for its window, and is "
        "published only if more than 15 subscribers are behind it.",
        """\
df = fc.rolling_unique_subscriber_counts(
    connection=conn, start_date="2016-01-01", end_date="2016-01-08", aggregation_unit="admin1",
    window_days=3,
).get_result()""",
    ),
    Example(
        "location_event_counts",
        "Events per location per time bucket (`count_interval` `day`, `hour`, `min`, or ours `week` (ISO weeks, "
        "from Monday) and `month`), optionally only incoming or outgoing ones. A bucket is published when more "
        "than 15 subscribers are behind its events.",
        """\
df = fc.location_event_counts(
    connection=conn, start_date="2016-01-01", end_date="2016-01-03", aggregation_unit="admin1",
    count_interval="day", direction="both", event_types=["calls", "sms"],
).get_result()""",
    ),
    Example(
        "location_introversion",
        "The share of each location's interactions (calls, SMS) whose counterpart is in the same location.",
        """\
df = fc.location_introversion(
    connection=conn, start_date="2016-01-01", end_date="2016-01-04", aggregation_unit="admin2"
).get_result()""",
    ),
    Example(
        "total_network_objects",
        "Active cells per location per period (`total_by`: `second` … `year`, and ours `week`, from Monday). A "
        "(location, period) is published "
        "when more than 15 subscribers had events there.",
        """\
df = fc.total_network_objects(
    connection=conn, start_date="2016-01-01", end_date="2016-01-04", aggregation_unit="admin2",
    total_by="day",
).get_result()""",
    ),
    Example(
        "aggregate_network_objects",
        "A statistic (`avg`, `max`, `min`, `median`, …) of a total_network_objects result per coarser period "
        "(`aggregate_by`).",
        """\
tno = fc.aggregates.total_network_objects_spec(
    start_date="2016-01-01", end_date="2016-01-08", aggregation_unit="admin1", total_by="day"
)
df = fc.aggregate_network_objects(
    connection=conn, total_network_objects=tno, statistic="avg", aggregate_by="month"
).get_result()""",
    ),
    Example(
        "joined_spatial_aggregate",
        "A per-location statistic of a per-subscriber metric, each subscriber placed at their reference location "
        "(`method`: `avg`, `max`, `min`, `median`, `mode`, `stddev`, `variance`, …, or `distr` for the "
        "distribution of a categorical metric such as `handset`).",
        """\
locations = fc.modal_location_from_dates_spec(
    start_date="2016-01-01", end_date="2016-01-04", aggregation_unit="admin2", method="last"
)
metric = fc.radius_of_gyration_spec(start_date="2016-01-01", end_date="2016-01-04")
df = fc.joined_spatial_aggregate(
    connection=conn, locations=locations, metric=metric, method="avg"
).get_result()""",
    ),
    Example(
        "histogram_aggregate",
        "A histogram of a per-subscriber metric over all subscribers: `bins` is a number of bins or a list of "
        "edges, `range` optional. A bin resting on 15 or fewer subscribers gets a null `value`.",
        """\
metric = fc.event_count_spec(start_date="2016-01-01", end_date="2016-01-04")
df = fc.histogram_aggregate(connection=conn, metric=metric, bins=8).get_result()""",
    ),
    Example(
        "active_at_reference_location_counts",
        "Per reference location, the subscribers who were also seen there (had an event there) in the period of "
        "the `unique_locations`.",
        """\
home = fc.modal_location_from_dates_spec(
    start_date="2016-01-01", end_date="2016-01-04", aggregation_unit="admin2", method="last"
)
seen = fc.unique_locations_spec(
    start_date="2016-01-05", end_date="2016-01-08", aggregation_unit="admin2"
)
df = fc.active_at_reference_location_counts(
    connection=conn, reference_locations=home, unique_locations=seen
).get_result()""",
    ),
    Example(
        "unique_visitor_counts",
        "Per location, the subscribers seen there who are not active there at their reference location: "
        "visitors.",
        """\
home = fc.modal_location_from_dates_spec(
    start_date="2016-01-01", end_date="2016-01-04", aggregation_unit="admin1", method="last"
)
seen = fc.unique_locations_spec(
    start_date="2016-01-05", end_date="2016-01-08", aggregation_unit="admin1"
)
active = fc.aggregates.active_at_reference_location_counts_spec(
    reference_locations=home, unique_locations=seen
)
counts = fc.aggregates.unique_subscriber_counts_spec(
    start_date="2016-01-05", end_date="2016-01-08", aggregation_unit="admin1"
)
df = fc.unique_visitor_counts(
    connection=conn, active_at_reference_location_counts=active, unique_subscriber_counts=counts
).get_result()""",
    ),
    Example(
        "unmoving_counts",
        "Per location, the subscribers who were seen only there in the period.",
        """\
seen = fc.unique_locations_spec(
    start_date="2016-01-01", end_date="2016-01-02", aggregation_unit="admin2"
)
df = fc.unmoving_counts(connection=conn, unique_locations=seen).get_result()""",
    ),
    Example(
        "unmoving_at_reference_location_counts",
        "Per reference location, the subscribers who were seen only at that location in the period.",
        """\
home = fc.modal_location_from_dates_spec(
    start_date="2016-01-01", end_date="2016-01-04", aggregation_unit="admin2", method="last"
)
seen = fc.unique_locations_spec(
    start_date="2016-01-05", end_date="2016-01-06", aggregation_unit="admin2"
)
df = fc.unmoving_at_reference_location_counts(
    connection=conn, reference_locations=home, unique_locations=seen
).get_result()""",
    ),
    Example(
        "trips_od_matrix",
        "Trips between event locations: for each subscriber, every pair of successive events at different "
        "locations counts as a trip from the first to the second; subscribers counted per origin-destination.",
        """\
df = fc.trips_od_matrix(
    connection=conn, start_date="2016-01-01", end_date="2016-01-02", aggregation_unit="admin1"
).get_result()""",
    ),
    Example(
        "consecutive_trips_od_matrix",
        "Like trips_od_matrix, but a run of consecutive events at one location counts once, so each move "
        "between two locations is one trip.",
        """\
df = fc.consecutive_trips_od_matrix(
    connection=conn, start_date="2016-01-01", end_date="2016-01-02", aggregation_unit="admin1"
).get_result()""",
    ),
    Example(
        "labelled_spatial_aggregate",
        "Subscribers per location and per label: the locations are a `coalesced_location`, the labels a "
        "`mobility_classification` of the same subscribers. A location is published only if every one of its "
        "label rows rests on more than 15 subscribers.",
        """\
def day(date):
    return fc.daily_location_spec(date=date, aggregation_unit="admin1", method="last")

def coalesced(dates):
    visits = fc.location_visits_spec(locations=[day(d) for d in dates])
    majority = fc.majority_location_spec(subscriber_location_weights=visits)
    return fc.coalesced_location_spec(
        preferred_location=majority, fallback_location=majority,
        subscriber_location_weights=visits, weight_threshold=2,
    )

week1 = coalesced(["2016-01-01", "2016-01-02", "2016-01-03"])
week2 = coalesced(["2016-01-05", "2016-01-06", "2016-01-07"])
mobility = fc.mobility_classification_spec(locations=[week1, week2], stay_length_threshold=2)
df = fc.labelled_spatial_aggregate(connection=conn, locations=week2, labels=mobility).get_result()""",
    ),
    Example(
        "labelled_flows",
        "Flows between two `coalesced_location`s, split by a `mobility_classification` label.",
        """\
def day(date):
    return fc.daily_location_spec(date=date, aggregation_unit="admin1", method="last")

def coalesced(dates):
    visits = fc.location_visits_spec(locations=[day(d) for d in dates])
    majority = fc.majority_location_spec(subscriber_location_weights=visits)
    return fc.coalesced_location_spec(
        preferred_location=majority, fallback_location=majority,
        subscriber_location_weights=visits, weight_threshold=2,
    )

week1 = coalesced(["2016-01-01", "2016-01-02", "2016-01-03"])
week2 = coalesced(["2016-01-05", "2016-01-06", "2016-01-07"])
mobility = fc.mobility_classification_spec(locations=[week1, week2], stay_length_threshold=2)
df = fc.labelled_flows(
    connection=conn, from_location=week1, to_location=week2, labels=mobility
).get_result()""",
    ),
    Example(
        "calendar_activity",
        "Subscribers counted by their pattern of activity: `grp` is the list of periods (here days) in which a "
        "subscriber had events (here four 6-hour periods of the first day); each pattern shared by more than 15 "
        "subscribers is published with its count.",
        """\
df = fc.calendar_activity(
    connection=conn, start_date="2016-01-01", total_periods=4, period_unit="hours",
    period_length=6,
).get_result()""",
    ),
    Example(
        "localised_calendar_activity",
        "calendar_activity per reference location (`value_label` is the activity pattern).",
        """\
home = fc.daily_location_spec(date="2016-01-01", aggregation_unit="admin1", method="last")
df = fc.localised_calendar_activity(
    connection=conn, start_date="2016-01-01", total_periods=2, locations=home
).get_result()""",
    ),
    Example(
        "meaningful_locations_aggregate",
        "Meaningful locations (Isaacman et al.): each subscriber's cells are clustered, each cluster scored by "
        "the hours and weekdays it is used and labelled by the polygon of `labels` its score falls in; the result "
        "counts subscribers per location whose cluster carries `label`. `MEANINGFUL_SETUP` below defines "
        "`hour_scores`, `day_scores` and `labels`.",
        MEANINGFUL_SETUP
        + """\
df = fc.meaningful_locations_aggregate(
    connection=conn, start_date="2016-01-01", end_date="2016-01-08", aggregation_unit="admin1",
    label="home", labels=labels, tower_hour_of_day_scores=hour_scores,
    tower_day_of_week_scores=day_scores, tower_cluster_radius=1.0,
).get_result()""",
    ),
    Example(
        "meaningful_locations_between_label_od_matrix",
        "An origin-destination matrix between each subscriber's meaningful locations of two labels (e.g. home "
        "to work).",
        MEANINGFUL_SETUP
        + """\
df = fc.meaningful_locations_between_label_od_matrix(
    connection=conn, start_date="2016-01-01", end_date="2016-01-08", aggregation_unit="admin1",
    label_a="home", label_b="work", labels=labels, tower_hour_of_day_scores=hour_scores,
    tower_day_of_week_scores=day_scores,
).get_result()""",
    ),
    Example(
        "meaningful_locations_between_dates_od_matrix",
        "An origin-destination matrix of one label's meaningful location between two periods (e.g. home before "
        "and after an event).",
        MEANINGFUL_SETUP
        + """\
df = fc.meaningful_locations_between_dates_od_matrix(
    connection=conn, start_date_a="2016-01-01", end_date_a="2016-01-04",
    start_date_b="2016-01-04", end_date_b="2016-01-08", aggregation_unit="admin1",
    label="home", labels=labels, tower_hour_of_day_scores=hour_scores,
    tower_day_of_week_scores=day_scores,
).get_result()""",
    ),
    Example(
        "dfs_metric_total_amount",
        "The daily total of a mobile-money (DFS) metric (`amount`, `commission`, `fee` or `discount`) per "
        "location; the end date is included. Reads FlowDB's `dfs` schema.",
        """\
df = fc.dfs_metric_total_amount(
    connection=conn, metric="amount", start_date="2016-01-01", end_date="2016-01-03",
    aggregation_unit="admin1",
).get_result()""",
    ),
    Example(
        "geography",
        "The boundaries of an aggregation unit as GeoJSON (CRS 4326), one feature per location with its "
        "`pcod` and centroid. flowclient fetches it with `get_geography` (route `/api/0/geography/<unit>`).",
        """\
geo = fc.get_geography(connection=conn, aggregation_unit="admin1")
df = pd.DataFrame([{**f["properties"], "geometry": f["geometry"]["type"]} for f in geo["features"]])""",
    ),
    Example(
        "dummy_query",
        "A query with no data, for testing the API (it waits `dummy_delay` seconds). Its result has no rows.",
        """\
df = fc.dummy_query(connection=conn, dummy_param="hello", aggregation_unit="admin1").get_result()""",
        note="Always empty: dummy_query computes nothing.",
    ),
]

NESTED: list[Example] = [
    Example(
        "daily_location",
        "Each subscriber's location on one day: their `last` location, or their `most-common` one.",
        """\
dl = fc.daily_location_spec(date="2016-01-02", aggregation_unit="admin1", method="most-common")
df = fc.spatial_aggregate(connection=conn, locations=dl).get_result()""",
    ),
    Example(
        "modal_location",
        "Each subscriber's most frequent daily location over a list of daily locations "
        "(`modal_location_from_dates_spec` builds one daily location per day of a period).",
        """\
ml = fc.modal_location_spec(locations=[
    fc.daily_location_spec(date=d, aggregation_unit="admin1", method="last")
    for d in ["2016-01-01", "2016-01-02", "2016-01-03"]
])
df = fc.spatial_aggregate(connection=conn, locations=ml).get_result()""",
    ),
    Example(
        "most_frequent_location",
        "Each subscriber's location with the most events in the period.",
        """\
mfl = fc.most_frequent_location_spec(
    start_date="2016-01-01", end_date="2016-01-04", aggregation_unit="admin2", hours=(20, 6)
)
df = fc.spatial_aggregate(connection=conn, locations=mfl).get_result()""",
    ),
    Example(
        "visited_most_days",
        "Each subscriber's location seen on the most distinct days of the period.",
        """\
vmd = fc.visited_most_days_spec(
    start_date="2016-01-01", end_date="2016-01-08", aggregation_unit="admin2"
)
df = fc.spatial_aggregate(connection=conn, locations=vmd).get_result()""",
    ),
    Example(
        "location_visits",
        "Per subscriber and location, the number of daily (or modal) locations of the list that put them "
        "there: the weights majority_location and coalesced_location use.",
        """\
visits = fc.location_visits_spec(locations=[
    fc.daily_location_spec(date=d, aggregation_unit="admin1", method="last")
    for d in ["2016-01-01", "2016-01-02", "2016-01-03"]
])
ml = fc.majority_location_spec(subscriber_location_weights=visits)
df = fc.spatial_aggregate(connection=conn, locations=ml).get_result()""",
    ),
    Example(
        "majority_location",
        "Each subscriber's location holding more than half of their location-visit weight (subscribers with no "
        "such location are left out, or kept with a null location with `include_unlocatable=True`).",
        """\
visits = fc.location_visits_spec(locations=[
    fc.daily_location_spec(date=d, aggregation_unit="admin2", method="last")
    for d in ["2016-01-01", "2016-01-02", "2016-01-03", "2016-01-04"]
])
ml = fc.majority_location_spec(subscriber_location_weights=visits, minimum_total_weight=3)
df = fc.spatial_aggregate(connection=conn, locations=ml).get_result()""",
    ),
    Example(
        "coalesced_location",
        "A preferred majority location, falling back to another where the subscriber's weight at the preferred "
        "one is below `weight_threshold`.",
        """\
visits = fc.location_visits_spec(locations=[
    fc.daily_location_spec(date=d, aggregation_unit="admin1", method="last")
    for d in ["2016-01-01", "2016-01-02", "2016-01-03"]
])
cl = fc.coalesced_location_spec(
    preferred_location=fc.majority_location_spec(subscriber_location_weights=visits),
    fallback_location=fc.majority_location_spec(
        subscriber_location_weights=visits, include_unlocatable=True
    ),
    subscriber_location_weights=visits, weight_threshold=2,
)
df = fc.spatial_aggregate(connection=conn, locations=cl).get_result()""",
    ),
    Example(
        "unique_locations",
        "Each distinct (subscriber, location) pair seen in the period. Input of flows, unmoving_counts and the "
        "reference-location counts.",
        """\
seen = fc.unique_locations_spec(
    start_date="2016-01-01", end_date="2016-01-02", aggregation_unit="admin1"
)
df = fc.unmoving_counts(connection=conn, unique_locations=seen).get_result()""",
    ),
    Example(
        "mobility_classification",
        "A label per subscriber from a sequence of coalesced locations (e.g. `stable`, `mobile`, `irregular`, "
        "`not_always_locatable`, `unlocatable`); see labelled_spatial_aggregate and labelled_flows above.",
        """\
def day(date):
    return fc.daily_location_spec(date=date, aggregation_unit="admin1", method="last")

def coalesced(dates):
    visits = fc.location_visits_spec(locations=[day(d) for d in dates])
    majority = fc.majority_location_spec(subscriber_location_weights=visits)
    return fc.coalesced_location_spec(
        preferred_location=majority, fallback_location=majority,
        subscriber_location_weights=visits, weight_threshold=1,
    )

periods = [coalesced(["2016-01-01", "2016-01-02"]), coalesced(["2016-01-03", "2016-01-04"]),
           coalesced(["2016-01-05", "2016-01-06"])]
mobility = fc.mobility_classification_spec(locations=periods, stay_length_threshold=2)
df = fc.labelled_spatial_aggregate(
    connection=conn, locations=periods[-1], labels=mobility
).get_result()""",
    ),
    Example(
        "radius_of_gyration",
        "Per subscriber, the radius of gyration of their event locations in km.",
        """\
metric = fc.radius_of_gyration_spec(start_date="2016-01-01", end_date="2016-01-04")
df = fc.histogram_aggregate(connection=conn, metric=metric, bins=6).get_result()""",
    ),
    Example(
        "unique_location_counts",
        "Per subscriber, the number of distinct locations (of an aggregation unit) they were seen at.",
        """\
metric = fc.unique_location_counts_spec(
    start_date="2016-01-01", end_date="2016-01-04", aggregation_unit="admin2"
)
home = fc.daily_location_spec(date="2016-01-01", aggregation_unit="admin1", method="last")
df = fc.joined_spatial_aggregate(
    connection=conn, locations=home, metric=metric, method="avg"
).get_result()""",
    ),
    Example(
        "event_count",
        "Per subscriber, the number of events (optionally of some types, one direction, some hours).",
        """\
metric = fc.event_count_spec(
    start_date="2016-01-01", end_date="2016-01-04", event_types=["calls"], direction="out"
)
home = fc.daily_location_spec(date="2016-01-01", aggregation_unit="admin1", method="last")
df = fc.joined_spatial_aggregate(
    connection=conn, locations=home, metric=metric, method="median"
).get_result()""",
    ),
    Example(
        "subscriber_degree",
        "Per subscriber, the number of distinct counterparts they interacted with (`direction` `in`, `out` or "
        "`both`).",
        """\
metric = fc.subscriber_degree_spec(start_date="2016-01-01", end_date="2016-01-04")
df = fc.histogram_aggregate(connection=conn, metric=metric, bins=5).get_result()""",
    ),
    Example(
        "topup_amount",
        "Per subscriber, a statistic of their top-up amounts (from `events.topups`).",
        """\
metric = fc.topup_amount_spec(start_date="2016-01-01", end_date="2016-01-08", statistic="sum")
home = fc.daily_location_spec(date="2016-01-01", aggregation_unit="admin1", method="last")
df = fc.joined_spatial_aggregate(
    connection=conn, locations=home, metric=metric, method="avg"
).get_result()""",
    ),
    Example(
        "topup_balance",
        "Per subscriber, a statistic of their account balance as recorded at top-ups (from `events.topups`).",
        """\
metric = fc.topup_balance_spec(start_date="2016-01-01", end_date="2016-01-08", statistic="avg")
home = fc.daily_location_spec(date="2016-01-01", aggregation_unit="admin1", method="last")
df = fc.joined_spatial_aggregate(
    connection=conn, locations=home, metric=metric, method="avg"
).get_result()""",
    ),
    Example(
        "handset",
        "Per subscriber, a characteristic of their handset (`hnd_type`, `brand`, `model`, `software_os_name`, "
        "`software_os_vendor`), by `last` or `most-common` use. Categorical: only joined_spatial_aggregate with "
        "`distr` or `mode`.",
        """\
metric = fc.handset_spec(
    start_date="2016-01-01", end_date="2016-01-04", characteristic="hnd_type", method="last"
)
home = fc.daily_location_spec(date="2016-01-01", aggregation_unit="admin1", method="last")
df = fc.joined_spatial_aggregate(
    connection=conn, locations=home, metric=metric, method="distr"
).get_result()""",
    ),
    Example(
        "pareto_interactions",
        "Per subscriber, the number of counterparts who account for `proportion` of their interactions.",
        """\
metric = fc.pareto_interactions_spec(
    start_date="2016-01-01", end_date="2016-01-08", proportion=0.8
)
df = fc.histogram_aggregate(connection=conn, metric=metric, bins=[0, 2, 4, 6, 8, 10]).get_result()""",
    ),
    Example(
        "nocturnal_events",
        "Per subscriber, the percentage of their events that happen at night (`hours`, wrapping midnight).",
        """\
metric = fc.nocturnal_events_spec(start_date="2016-01-01", end_date="2016-01-04", hours=(20, 4))
home = fc.daily_location_spec(date="2016-01-01", aggregation_unit="admin1", method="last")
df = fc.joined_spatial_aggregate(
    connection=conn, locations=home, metric=metric, method="avg"
).get_result()""",
    ),
    Example(
        "displacement",
        "Per subscriber, a statistic of the distance in km between their event locations and a reference "
        "location (which must be `lon-lat`).",
        """\
home = fc.modal_location_from_dates_spec(
    start_date="2016-01-01", end_date="2016-01-04", aggregation_unit="lon-lat", method="last"
)
metric = fc.displacement_spec(
    start_date="2016-01-04", end_date="2016-01-08", statistic="max", reference_location=home
)
df = fc.histogram_aggregate(
    connection=conn, metric=metric, bins=[0, 25, 50, 100, 200, 400, 1000]
).get_result()""",
    ),
    Example(
        "total_active_periods",
        "Per subscriber, the number of periods (`period_unit`, `period_length`) out of `total_periods` in which "
        "they had events.",
        """\
metric = fc.total_active_periods_spec(
    start_date="2016-01-01", total_periods=12, period_unit="hours", period_length=2
)
df = fc.histogram_aggregate(
    connection=conn, metric=metric, bins=[0, 2, 4, 6, 8, 10, 12]
).get_result()""",
    ),
]

EXAMPLES = TOP_LEVEL + NESTED


# -- the kinds FlowMachine publishes, and where the nested ones are accepted ----------------------------------


def published_kinds() -> tuple[list[str], dict[str, list[str]]]:
    """(top-level kinds, {nested kind: sorted kinds that accept it}) from FlowMachine's query schemas, as
    FlowAPI publishes them (`/api/0/spec/openapi.json`)."""
    from flowmachine.core.server.openapi import ROOT_SCHEMA_NAME, query_schemas_spec

    schemas = query_schemas_spec()
    top = sorted(schemas[ROOT_SCHEMA_NAME]["discriminator"]["mapping"])
    kind_of = {
        name: s["properties"]["query_kind"]["enum"][0]
        for name, s in schemas.items()
        if "query_kind" in s.get("properties", {})
    }

    def kinds_in(ref_holder: Any) -> set[str]:
        found: set[str] = set()
        if isinstance(ref_holder, dict):
            ref = ref_holder.get("$ref")
            if ref:
                name = ref.rsplit("/", 1)[-1]
                target = schemas[name]
                if name in kind_of:
                    found.add(kind_of[name])
                elif "oneOf" in target:
                    found |= set(target["discriminator"]["mapping"])
            for value in ref_holder.values():
                if isinstance(value, dict | list):
                    found |= kinds_in(value)
        elif isinstance(ref_holder, list):
            for item in ref_holder:
                found |= kinds_in(item)
        return found

    parents: dict[str, set[str]] = {}
    for name, kind in kind_of.items():
        for child in kinds_in(schemas[name].get("properties", {})):
            parents.setdefault(child, set()).add(kind)
    nested = {k: sorted(parents.get(k, ())) for k in sorted(set(kind_of.values()) - set(top))}
    return top, nested


# -- rendering ----------------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if isinstance(value, float):
        text = "" if value != value else f"{value:.6g}"  # NaN → empty
    elif value is None:
        text = ""
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(df: Any) -> str:
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    return "\n".join(lines)


def _output_lines(output: dict[str, Any] | None, head_rows: int = HEAD_ROWS) -> list[str]:
    parts: list[str] = []
    if output is None:
        parts += ["_Output not generated yet: run `scripts/analyst_guide_examples.py`._", ""]
    elif output["rows"] == 0:
        parts += [
            "Output: **no rows**" + (f" ({output['columns']})" if output["columns"] else "") + ".",
            "",
        ]
    else:
        shown = min(output["rows"], head_rows)
        parts += [
            f"Output: {output['rows']} rows"
            + (f", first {shown}:" if output["rows"] > shown else ":"),
            "",
        ]
        parts += [output["head"], ""]
    return parts


def _section(ex: Example, output: dict[str, Any] | None, used_in: list[str] | None) -> str:
    parts = [f"### `{ex.kind}`", "", ex.summary, ""]
    if used_in is not None:
        parts += ["Accepted inside: " + ", ".join(f"`{k}`" for k in used_in) + ".", ""]
    parts += ["```python", ex.code, "```", ""]
    parts += _output_lines(output)
    if ex.note:
        parts += [ex.note, ""]
    return "\n".join(parts)


def _topic_section(topic: Any, outputs: dict[str, dict[str, Any]]) -> str:
    parts = [f"## {topic.title}", ""]
    for block in topic.blocks:
        if isinstance(block, topics.Text):
            parts += [block.markdown, ""]
        elif isinstance(block, topics.Snippet):
            parts += ["```python", block.code, "```", ""]
            parts += _output_lines(outputs.get(f"topic:{block.key}"), block.rows)
        else:
            parts += [f"![{block.alt}](img/{block.file})", ""]
    return "\n".join(parts)


def render(outputs: dict[str, dict[str, Any]]) -> str:
    """The generated part of the guide (without the markers)."""
    _, nested = published_kinds()
    head = [
        "",
        "_Generated by `scripts/analyst_guide_examples.py` against the `make demo` data "
        f"({outputs.get('_data', 'synthetic data')}); do not edit by hand._",
        "",
    ]
    head += [_topic_section(topic, outputs) for topic in topics.TOPICS]
    head += ["## Top-level query kinds", ""]
    body = [_section(ex, outputs.get(ex.kind), None) for ex in TOP_LEVEL]
    body += [
        "## Nested query kinds",
        "",
        "These are individual-level (one row per subscriber) and are never returned on their own: they are "
        "parameters of the kinds above. Each example shows the kind inside an aggregate.",
        "",
    ]
    body += [_section(ex, outputs.get(ex.kind), nested.get(ex.kind, [])) for ex in NESTED]
    return "\n".join(head + body)


def write_guide(outputs: dict[str, dict[str, Any]]) -> None:
    text = GUIDE.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    GUIDE.write_text(text[:start] + render(outputs) + "\n" + text[end:])


# -- running ------------------------------------------------------------------------------------------------


def connect() -> Any:
    import flowclient as fc

    sys.path.insert(0, str(ROOT / "scripts"))
    import demo_api  # the same token as `make demo`: every scope FlowAPI publishes, signed with the dev key

    warnings.filterwarnings("ignore", message=".*NOT SECURE.*")
    return fc.connect(url=demo_api.API, token=demo_api.token())


def _namespace(conn: Any) -> dict[str, Any]:
    import pandas as pd

    import flowclient as fc

    return {"fc": fc, "conn": conn, "pd": pd}


def _recorded(df: Any, head_rows: int = HEAD_ROWS) -> dict[str, Any]:
    return {
        "rows": len(df),
        "columns": ", ".join(map(str, df.columns)),
        "head": markdown_table(df.head(head_rows)),
    }


def run_example(ex: Example, conn: Any) -> dict[str, Any]:
    namespace = _namespace(conn)
    exec(compile(ex.code, f"<{ex.kind}>", "exec"), namespace)
    return _recorded(namespace["df"])


def run_topic(topic: Any, conn: Any, outputs: dict[str, Any]) -> None:
    """Run a topic's snippets in order in one namespace, record each `df`, and draw its figures."""
    namespace = _namespace(conn)
    for block in topic.blocks:
        t0 = time.monotonic()
        if isinstance(block, topics.Snippet):
            exec(compile(block.code, f"<topic {block.key}>", "exec"), namespace)
            outputs[f"topic:{block.key}"] = _recorded(namespace["df"], block.rows)
            print(f"{topic.title}, {block.key}: {len(namespace['df'])} rows", end="", flush=True)
        elif isinstance(block, topics.Figure):
            topics.IMG.mkdir(parents=True, exist_ok=True)
            block.draw(namespace, topics.IMG / block.file)
            print(f"{topic.title}: wrote docs/img/{block.file}", end="", flush=True)
        else:
            continue
        print(f" in {time.monotonic() - t0:.1f} s", flush=True)


def data_description(conn: Any) -> str:
    import flowclient as fc

    dates = sorted({d for ds in fc.get_available_dates(connection=conn).values() for d in ds})
    return f"events from {dates[0]} to {dates[-1]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        nargs="*",
        help="run only these kinds, or `topics` for the worked sections and their figures (others keep their "
        "last output)",
    )
    parser.add_argument(
        "--render-only", action="store_true", help="rewrite the guide from the recorded outputs"
    )
    args = parser.parse_args()
    outputs: dict[str, Any] = json.loads(OUTPUTS.read_text()) if OUTPUTS.exists() else {}
    if not args.render_only:
        run_topics = not args.only or "topics" in args.only
        # a topic's preparation comes before the token is minted, so that the token carries new scopes
        for topic in topics.TOPICS if run_topics else []:
            if topic.prepare is not None:
                topic.prepare(_sibling("demo_api").API)
        conn = connect()
        outputs["_data"] = data_description(conn)
        for topic in topics.TOPICS if run_topics else []:
            run_topic(topic, conn, outputs)
        for ex in EXAMPLES:
            if args.only and ex.kind not in args.only:
                continue
            t0 = time.monotonic()
            outputs[ex.kind] = run_example(ex, conn)
            print(
                f"{ex.kind}: {outputs[ex.kind]['rows']} rows in {time.monotonic() - t0:.1f} s",
                flush=True,
            )
            OUTPUTS.write_text(json.dumps(outputs, indent=1, sort_keys=True) + "\n")
        outputs["_generated"] = dt.date.today().isoformat()
        OUTPUTS.write_text(json.dumps(outputs, indent=1, sort_keys=True) + "\n")
    write_guide(outputs)
    empty = [k for k, o in outputs.items() if not k.startswith("_") and o["rows"] == 0]
    print(f"wrote {GUIDE.relative_to(ROOT)}; empty results: {', '.join(empty) or 'none'}")


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
