"""FlowMachine query speed, against hand-written SQL measured in the same run and FlowKit 1.34's baseline.

Usage: uv run python bench/queries.py [--scale 1.0] [--runs 3] [--only a_S,b,...] [--no-write]

Starts a private FlowDB (tuned for this machine, as `flowdb start` tunes it) and a private Redis, loads the
baseline's datasets (`../shared/reference/baseline-flowkit-1.34.md`), by default with the baseline's own data
model (bench/baseline_data.py: subscribers mostly at a home and a second cell), or with `--data flowdb` with
FlowDB's synthetic generator (events spread over the home region: ~3x the distinct subscriber-cell pairs):

- S: 7 days from 2016-01-01, 200,000 subscribers, 750 k calls a day (1.5 M rows a day), calls only;
- L: 1 day, 2016-02-01, 2,000,000 subscribers, 7 M calls (14 M rows), loaded after S's queries (a synthetic
  run replaces the previous one);

and times the baseline's six queries:

- ours: the FlowMachine server's default path from an empty cache (every cache table of the query and its
  dependencies dropped first, cell mappings included): `compute_answer(ctx, query)` stores the cell mapping,
  then computes the query with its other dependencies inlined into one statement (ADR 7). The dependencies
  are then stored as the server stores them in idle time (`compute_dependencies`), timed apart and reported
  as "then stored";
- FlowKit's order: `compute(ctx, query)` from an empty cache, every dependency (cell mapping, daily
  locations, metric) stored before the query, as FlowKit's server mode (and ours with
  FLOWMACHINE_SERVER_STORE_DEPENDENCIES_FIRST=true) does;
- hand: one SQL statement giving the same rows (the best of the formulations listed for it), fetched. It may
  use `bench.cells`, a cell -> admin/point mapping built once, untimed (as the baseline's `bench.cell_admin`).

Each is the median of `--runs` runs. The rows of ours and of every hand formulation are compared (floats to a
relative 1e-9). Ratios: ours / hand (target <= 1.2) and ours / FlowKit 1.34 server mode (target <= 0.5; the
L query also <= 8 s). `--scale` multiplies subscribers and calls, for a quick smoke run; only a full-scale run
is comparable with the baseline. Results are written into bench/RESULTS.md between markers.

Rolling windows (`--only rolling`, also part of a run without `--only`): on R, 28 days from 2016-01-01 of the
baseline data model (200,000 subscribers and 750 k calls a day at scale 1), the 7-day unique-subscriber series
per admin3 (`rolling_unique_subscriber_counts`, one pass: 22 windows) against one 7-day unique_subscriber_counts
and against the same 22 windows as 22 separate unique_subscriber_counts queries, each from an empty cache, in
the same run; the series' rows must equal the separate queries' rows. Target: the series costs at most 2x one
7-day count. Two more rows give the floor of any exact one-pass series: one statement that only reads and
locates every event of the 28 days (and of the first 7), counting nothing, with the pages it reads.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import psycopg
from baseline_data import load_baseline_dataset
from results_file import write_section

from flowdb.cluster import Cluster
from flowdb.settings import Settings as FlowDBSettings
from flowdb.synthetic.config import SyntheticConfig
from flowdb.synthetic.run import generate
from flowdb.testing import free_port, start_redis
from flowdb.tuning import machine_cores, machine_memory_bytes
from flowmachine.core.cache import (
    compute,
    compute_answer,
    compute_dependencies,
    invalidate,
    storable_dependencies,
)
from flowmachine.core.context import Context
from flowmachine.core.query import Query
from flowmachine.core.settings import Settings
from flowmachine.core.spatial_unit import make_spatial_unit
from flowmachine.features.location.flows import Flows
from flowmachine.features.location.location_event_counts import LocationEventCounts
from flowmachine.features.location.meaningful_locations import MeaningfulLocationsAggregate
from flowmachine.features.location.rolling_unique_subscriber_counts import (
    RollingUniqueSubscriberCounts,
)
from flowmachine.features.location.spatial_aggregate import SpatialAggregate
from flowmachine.features.location.trips_od_matrix import ConsecutiveTripsODMatrix, TripsODMatrix
from flowmachine.features.location.unique_subscriber_counts import UniqueSubscriberCounts
from flowmachine.features.nonspatial_aggregates.histogram_aggregation import HistogramAggregation
from flowmachine.features.subscriber.daily_location import daily_location
from flowmachine.features.subscriber.meaningful_locations import MeaningfulLocations
from flowmachine.features.subscriber.modal_location import ModalLocation
from flowmachine.features.subscriber.radius_of_gyration import RadiusOfGyration

BEGIN, END = "<!-- queries:begin -->", "<!-- queries:end -->"

# FlowKit 1.34 server mode (store with dependencies), median seconds, from the baseline document.
FLOWKIT_SERVER = {
    "a_S": 4.04,
    "a_L": 19.06,
    "b": 12.60,
    "c": 5.07,
    "d": 11.05,
    "e": 4.16,
    "f": 26.88,
}
TARGET_HAND, TARGET_FLOWKIT, TARGET_L_SECONDS = 1.2, 0.5, 8.0

S_DAYS = [dt.date(2016, 1, 1) + dt.timedelta(days=k) for k in range(7)]
L_DAY = dt.date(2016, 2, 1)
R_DAYS = [dt.date(2016, 1, 1) + dt.timedelta(days=k) for k in range(28)]
ROLLING_WINDOW, TARGET_ROLLING = 7, 2.0
ROLLING_BEGIN, ROLLING_END = "<!-- rolling:begin -->", "<!-- rolling:end -->"
ROLLING_HEADING = "## Rolling windows (`bench/queries.py --only rolling`)"

# A cell mapping for hand SQL (built once per dataset, untimed): each cell's admin units (the smallest pcod
# covering its point, as FlowMachine's admin units), point and `rank`, its position in location_id order, so a
# packed (time, rank) bigint breaks ties on the greater location_id as FlowMachine does.
CELLS_SQL = """
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;
CREATE TABLE bench.cells AS
SELECT c.id AS location_id, c.date_of_first_service AS first_day, c.date_of_last_service AS last_day,
       (dense_rank() OVER (ORDER BY c.id))::int AS rank,
       (SELECT min(a.admin1pcod) FROM geography.admin1 a WHERE ST_Covers(a.geom, c.geom_point)) AS a1,
       (SELECT min(a.admin2pcod) FROM geography.admin2 a WHERE ST_Covers(a.geom, c.geom_point)) AS a2,
       (SELECT min(a.admin3pcod) FROM geography.admin3 a WHERE ST_Covers(a.geom, c.geom_point)) AS a3,
       ST_X(c.geom_point) AS lon, ST_Y(c.geom_point) AS lat
FROM infrastructure.cells c;
ALTER TABLE bench.cells ADD COLUMN a3rank int;
UPDATE bench.cells c SET a3rank = r.rank
FROM (SELECT a3, dense_rank() OVER (ORDER BY a3) AS rank FROM bench.cells WHERE a3 IS NOT NULL) r
WHERE r.a3 = c.a3;
ANALYZE bench.cells;
-- each cell's site version and point (for meaningful locations; check_cells makes sure it is static)
CREATE TABLE bench.cell_sites AS
SELECT c.id AS location_id, s.id AS site_id, s.version, s.date_of_first_service AS first_day,
       s.date_of_last_service AS last_day, ST_X(s.geom_point) AS lon, ST_Y(s.geom_point) AS lat
FROM infrastructure.cells c JOIN infrastructure.sites s ON s.id = c.site_id;
ANALYZE bench.cell_sites;
{leader_clusters}
GRANT USAGE ON SCHEMA bench TO flowmachine;
GRANT SELECT ON ALL TABLES IN SCHEMA bench TO flowmachine;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA bench TO flowmachine;
"""

# Hartigan leader clustering of one subscriber's sites, procedurally (as FlowKit's own procedural aggregate):
# the sites come in clustering order (most call days first, then site id, then version); each joins the first
# cluster, in creation order, whose centroid is less than `radius` km away on a sphere of radius 6371.0088 km
# (haversine), moving its centroid to the call-day-weighted mean, else starts a new cluster. Returns each
# cluster weighing at least `threshold` call days, with the unweighted mean hour and day scores of its sites.
LEADER_CLUSTERS_SQL = """
CREATE FUNCTION bench.leader_clusters(
    site_lon float8[], site_lat float8[], site_days float8[], site_hour float8[], site_dow float8[],
    radius float8, threshold float8)
RETURNS TABLE (cluster int, lon float8, lat float8, calldays float8, score_hour float8, score_dow float8)
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    c_lon float8[] := '{}';
    c_lat float8[] := '{}';
    c_days float8[] := '{}';
    c_hour float8[] := '{}';
    c_dow float8[] := '{}';
    c_sites int[] := '{}';
    n int := 0;
    found_at int;
    a float8;
BEGIN
    FOR i IN 1 .. coalesce(array_length(site_lon, 1), 0) LOOP
        found_at := NULL;
        FOR j IN 1 .. n LOOP
            a := sin(radians(site_lat[i] - c_lat[j]) / 2) ^ 2
                 + cos(radians(c_lat[j])) * cos(radians(site_lat[i])) * sin(radians(site_lon[i] - c_lon[j]) / 2) ^ 2;
            IF 2 * 6371.0088 * asin(least(1.0, sqrt(a))) < radius THEN
                found_at := j;
                EXIT;
            END IF;
        END LOOP;
        IF found_at IS NULL THEN
            n := n + 1;
            c_lon[n] := site_lon[i];
            c_lat[n] := site_lat[i];
            c_days[n] := site_days[i];
            c_hour[n] := site_hour[i];
            c_dow[n] := site_dow[i];
            c_sites[n] := 1;
        ELSE
            c_lon[found_at] := (c_lon[found_at] * c_days[found_at] + site_lon[i] * site_days[i])
                               / (c_days[found_at] + site_days[i]);
            c_lat[found_at] := (c_lat[found_at] * c_days[found_at] + site_lat[i] * site_days[i])
                               / (c_days[found_at] + site_days[i]);
            c_days[found_at] := c_days[found_at] + site_days[i];
            c_hour[found_at] := c_hour[found_at] + site_hour[i];
            c_dow[found_at] := c_dow[found_at] + site_dow[i];
            c_sites[found_at] := c_sites[found_at] + 1;
        END IF;
    END LOOP;
    FOR j IN 1 .. n LOOP
        IF c_days[j] >= threshold THEN
            cluster := j;
            lon := c_lon[j];
            lat := c_lat[j];
            calldays := c_days[j];
            score_hour := c_hour[j] / c_sites[j];
            score_dow := c_dow[j] / c_sites[j];
            RETURN NEXT;
        END IF;
    END LOOP;
END
$$;
"""
CELLS_SQL = CELLS_SQL.replace("{leader_clusters}", LEADER_CLUSTERS_SQL)


def window(first: dt.date, last: dt.date) -> dict[str, str]:
    """Placeholders of a hand query over whole days first..last: bounds and the mapping of the window."""
    stop = last + dt.timedelta(days=1)
    return {
        "start": f"'{first}T00:00:00+00'::timestamptz",
        "stop": f"'{stop}T00:00:00+00'::timestamptz",
        # every mapped cell here is in service on every day of the window (checked by check_cells)
        "cells": "bench.cells",
    }


def last_location_sql(day: dt.date, column: str, packed: bool | str) -> str:
    """`msisdn, loc` of each subscriber's last located event on `day` (latest time, then greater cell id).

    `packed`: True for the packed max, False for DISTINCT ON over the located events, "index" for DISTINCT ON
    over the events in the msisdn index's order, located afterwards (exact here: check_cells makes sure every
    cell is located at every level)."""
    w = window(day, day)
    if packed == "index":
        return f"""SELECT l.msisdn, m.{column} AS loc
            FROM (SELECT DISTINCT ON (msisdn) msisdn, location_id FROM events.calls
                  WHERE datetime >= {w["start"]} AND datetime < {w["stop"]} AND location_id IS NOT NULL
                  ORDER BY msisdn DESC, datetime DESC, location_id DESC) l
            JOIN {w["cells"]} m ON m.location_id = l.location_id"""
    if packed:  # no sort: max() of (microseconds into the day << 20 | cell rank) per subscriber
        return f"""SELECT x.msisdn, m.{column} AS loc
            FROM (SELECT e.msisdn,
                         max((extract(epoch FROM e.datetime - {w["start"]}) * 1000000)::bigint << 20
                             | m.rank) AS k
                  FROM events.calls e JOIN {w["cells"]} m ON m.location_id = e.location_id
                  WHERE e.datetime >= {w["start"]} AND e.datetime < {w["stop"]} AND m.{column} IS NOT NULL
                  GROUP BY e.msisdn) x
            JOIN {w["cells"]} m ON m.rank = (x.k & 1048575)"""
    return f"""SELECT DISTINCT ON (e.msisdn) e.msisdn, m.{column} AS loc
        FROM events.calls e JOIN {w["cells"]} m ON m.location_id = e.location_id
        WHERE e.datetime >= {w["start"]} AND e.datetime < {w["stop"]} AND m.{column} IS NOT NULL
        ORDER BY e.msisdn, e.datetime DESC, e.location_id DESC"""


def hand_a(day: dt.date, packed: bool | str) -> str:
    return f"""SELECT loc, count(*) FROM ({last_location_sql(day, "a3", packed)}) l
        GROUP BY loc HAVING count(*) > 15"""


def hand_b(packed: bool | str) -> str:
    """Modal admin3 of 7 daily last locations: most days, then latest day, then greater pcod."""
    if packed is True:
        w = window(S_DAYS[0], S_DAYS[-1])
        per_day = f"""SELECT e.msisdn, e.datetime::date AS day,
                        max((extract(epoch FROM e.datetime - e.datetime::date::timestamptz) * 1000000)::bigint
                            << 20 | m.rank) AS k
                 FROM events.calls e JOIN {w["cells"]} m ON m.location_id = e.location_id
                 WHERE e.datetime >= {w["start"]} AND e.datetime < {w["stop"]} AND m.a3 IS NOT NULL
                 GROUP BY e.msisdn, e.datetime::date"""
        votes = f"""SELECT d.msisdn, m.a3rank, count(*) AS votes, max(d.day - DATE '2000-01-01') AS latest
                 FROM ({per_day}) d JOIN {w["cells"]} m ON m.rank = (d.k & 1048575)
                 GROUP BY d.msisdn, m.a3rank"""
        modal = f"""SELECT msisdn, max((votes << 40) | (latest::bigint << 16) | a3rank) AS k
                 FROM ({votes}) v GROUP BY msisdn"""
        return f"""SELECT r.a3, count(*)
            FROM ({modal}) x JOIN (SELECT DISTINCT a3, a3rank FROM bench.cells) r ON r.a3rank = (x.k & 65535)
            GROUP BY r.a3 HAVING count(*) > 15"""
    days = " UNION ALL ".join(
        f"SELECT msisdn, loc, DATE '{d}' AS day FROM ({last_location_sql(d, 'a3', packed)}) l{i}"
        for i, d in enumerate(S_DAYS)
    )
    return f"""SELECT loc, count(*) FROM (
            SELECT DISTINCT ON (msisdn) msisdn, loc
            FROM (SELECT msisdn, loc, count(*) AS votes, max(day) AS latest FROM ({days}) u
                  GROUP BY msisdn, loc) g
            ORDER BY msisdn, votes DESC, latest DESC, loc DESC) m
        GROUP BY loc HAVING count(*) > 15"""


def hand_c(packed: bool | str) -> str:
    a = last_location_sql(S_DAYS[0], "a1", packed)
    b = last_location_sql(S_DAYS[1], "a1", packed)
    return f"""SELECT a.loc, b.loc, count(*) FROM ({a}) a JOIN ({b}) b USING (msisdn)
        GROUP BY a.loc, b.loc HAVING count(*) > 15"""


def hand_d() -> str:
    """Distinct subscribers per admin2 over 7 days: collapse to (subscriber, cell) first, then map."""
    w = window(S_DAYS[0], S_DAYS[-1])
    return f"""SELECT m.a2, count(DISTINCT sc.msisdn)
        FROM (SELECT msisdn, location_id FROM events.calls
              WHERE datetime >= {w["start"]} AND datetime < {w["stop"]} GROUP BY msisdn, location_id) sc
        JOIN {w["cells"]} m ON m.location_id = sc.location_id WHERE m.a2 IS NOT NULL
        GROUP BY m.a2 HAVING count(DISTINCT sc.msisdn) > 15"""


def hand_d_two_level() -> str:
    """Distinct subscribers per admin2 over 7 days: (admin2, subscriber) pairs by hash, then counted."""
    w = window(S_DAYS[0], S_DAYS[-1])
    return f"""SELECT a2, count(*)
        FROM (SELECT m.a2, e.msisdn FROM events.calls e JOIN {w["cells"]} m ON m.location_id = e.location_id
              WHERE e.datetime >= {w["start"]} AND e.datetime < {w["stop"]} AND m.a2 IS NOT NULL
              GROUP BY m.a2, e.msisdn) s
        GROUP BY a2 HAVING count(*) > 15"""


def hand_e() -> str:
    """Events per admin1 and hour of day 1 (both directions), kept where more than 15 subscribers."""
    w = window(S_DAYS[0], S_DAYS[0])
    return f"""SELECT a1, '{S_DAYS[0]}' AS date, hour, sum(n)::bigint, count(*)
        FROM (SELECT m.a1, extract(hour FROM e.datetime)::int AS hour, e.msisdn, count(*) AS n
              FROM events.calls e JOIN {w["cells"]} m ON m.location_id = e.location_id
              WHERE e.datetime >= {w["start"]} AND e.datetime < {w["stop"]} AND m.a1 IS NOT NULL
              GROUP BY m.a1, hour, e.msisdn) s
        GROUP BY a1, hour HAVING count(*) > 15"""


def hand_g() -> str:
    """Trips between admin2 units over days 1-2: a subscriber counts for (A, B), A <> B, when first seen at A
    before last seen at B; pairs of more than 15 subscribers."""
    w = window(S_DAYS[0], S_DAYS[1])
    return f"""WITH v AS (
            SELECT e.msisdn, m.a2 AS loc, min(e.datetime) AS first_seen, max(e.datetime) AS last_seen
            FROM events.calls e JOIN {w["cells"]} m ON m.location_id = e.location_id
            WHERE e.datetime >= {w["start"]} AND e.datetime < {w["stop"]}
            GROUP BY e.msisdn, m.a2)
        SELECT a.loc, b.loc, count(*) FROM v a JOIN v b
          ON a.msisdn = b.msisdn AND a.first_seen < b.last_seen AND a.loc <> b.loc
        GROUP BY a.loc, b.loc HAVING count(*) > 15"""


def hand_h() -> str:
    """Consecutive trips between admin2 units on day 1: an event at A directly followed (time, then cell) by
    one at B; distinct subscribers per pair, more than 15."""
    w = window(S_DAYS[0], S_DAYS[0])
    return f"""SELECT loc, next_loc, count(*) FROM (
            SELECT DISTINCT msisdn, loc, next_loc FROM (
                SELECT e.msisdn, m.a2 AS loc,
                       lead(m.a2) OVER (PARTITION BY e.msisdn ORDER BY e.datetime, e.location_id) AS next_loc
                FROM events.calls e JOIN {w["cells"]} m ON m.location_id = e.location_id
                WHERE e.datetime >= {w["start"]} AND e.datetime < {w["stop"]}) s
            WHERE next_loc IS NOT NULL) p
        GROUP BY loc, next_loc HAVING count(*) > 15"""


# FlowKit's worked example of meaningful locations ("commuting patterns"): hour and day-of-week scores, and the
# home/work label polygons (rings closed here), clustering radius 1 km, no call threshold.
ML_HOUR_SCORES = [-1.0] * 7 + [0.0] + [1.0] * 9 + [0.0] * 2 + [-1.0] * 5
ML_DAY_SCORES = {
    "monday": 1.0, "tuesday": 1.0, "wednesday": 1.0, "thursday": 1.0, "friday": 1.0,
    "saturday": -1.0, "sunday": -1.0,
}  # fmt: skip
ML_LABELS = {
    "home": {
        "type": "Polygon",
        "coordinates": [[[-1, 1], [-1, -1], [-1e-06, -1], [-1e-06, 1], [-1, 1]]],
    },
    "work": {"type": "Polygon", "coordinates": [[[0, 1], [0, -1], [1, -1], [1, 1], [0, 1]]]},
}
ML_RADIUS, ML_THRESHOLD = 1.0, 0


def hand_i() -> str:
    """Meaningful locations labelled home per admin3 over 7 days: per (subscriber, site version) call days and
    mean event scores, each subscriber's sites clustered by bench.leader_clusters (procedural), clusters
    labelled by the (axis-aligned) label rectangles that strictly contain their mean scores, Σ 1/n_home per
    region strictly containing the centroid (NULL region otherwise), regions of more than 15 subscribers."""
    w = window(S_DAYS[0], S_DAYS[-1])
    hours = ", ".join(str(v) for v in ML_HOUR_SCORES)
    days = ", ".join(  # isodow 1..7
        str(ML_DAY_SCORES[d])
        for d in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    )
    # "home" is the first label in name order, so a cluster strictly inside its rectangle is labelled home
    ring = ML_LABELS["home"]["coordinates"][0]
    x0, x1 = min(p[0] for p in ring), max(p[0] for p in ring)
    y0, y1 = min(p[1] for p in ring), max(p[1] for p in ring)
    return f"""WITH per_day AS (
            SELECT e.msisdn, m.site_id, m.version, m.lon, m.lat, e.datetime::date AS day, count(*) AS n,
                   sum((ARRAY[{hours}]::float8[])[extract(hour FROM e.datetime)::int + 1]) AS sh,
                   sum((ARRAY[{days}]::float8[])[extract(isodow FROM e.datetime)::int]) AS sd
            FROM events.calls e JOIN bench.cell_sites m ON m.location_id = e.location_id
            WHERE e.datetime >= {w["start"]} AND e.datetime < {w["stop"]}
            GROUP BY 1, 2, 3, 4, 5, 6),
        sites AS (
            SELECT msisdn, site_id, version, lon, lat, count(*)::float8 AS calldays,
                   sum(sh) / sum(n) AS sh, sum(sd) / sum(n) AS sd
            FROM per_day GROUP BY 1, 2, 3, 4, 5),
        clusters AS (
            SELECT s.msisdn, c.*
            FROM (SELECT msisdn,
                         array_agg(lon ORDER BY calldays DESC, site_id, version) AS lon,
                         array_agg(lat ORDER BY calldays DESC, site_id, version) AS lat,
                         array_agg(calldays ORDER BY calldays DESC, site_id, version) AS calldays,
                         array_agg(sh ORDER BY calldays DESC, site_id, version) AS sh,
                         array_agg(sd ORDER BY calldays DESC, site_id, version) AS sd
                  FROM sites GROUP BY msisdn) s,
                 bench.leader_clusters(s.lon, s.lat, s.calldays, s.sh, s.sd, {ML_RADIUS}, {ML_THRESHOLD}) c),
        home AS (
            SELECT msisdn, lon, lat, count(*) OVER (PARTITION BY msisdn) AS n
            FROM clusters
            WHERE score_hour > {x0} AND score_hour < {x1} AND score_dow > {y0} AND score_dow < {y1}
)
        SELECT 'home' AS label, a.admin3pcod, sum(1::float8 / h.n)
        FROM home h LEFT JOIN geography.admin3 a
          ON ST_Contains(a.geom, ST_SetSRID(ST_MakePoint(h.lon, h.lat), 4326))
        GROUP BY a.admin3pcod HAVING count(DISTINCT h.msisdn) > 15"""


def hand_i_sorted() -> tuple[dict[str, str], str]:
    """hand_i with each subscriber's sites as one two-dimensional array (one sort per subscriber, not five),
    clustered by FlowDB's public.leader_clusters, and the site aggregation sorted in parallel (hashagg off)."""
    text = hand_i()
    head, tail = text.split("        clusters AS (", 1)
    tail = tail.split("        home AS (", 1)[1]
    clusters = f"""        clusters AS (
            SELECT s.msisdn, c.lon, c.lat, c.mean_a AS score_hour, c.mean_b AS score_dow
            FROM (SELECT msisdn, array_agg(ARRAY[lon, lat, calldays, sh, sd]
                                           ORDER BY calldays DESC, site_id, version) AS points
                  FROM sites GROUP BY msisdn) s,
                 public.leader_clusters(s.points, {ML_RADIUS}) c
            WHERE c.weight >= {ML_THRESHOLD}),
"""
    return {"enable_hashagg": "off"}, head + clusters + "        home AS (" + tail


def hand_f() -> str:
    """10-bin histogram of radius of gyration over 7 days; a bin of 15 or fewer subscribers reads NULL."""
    w = window(S_DAYS[0], S_DAYS[-1])
    return f"""WITH cells AS (
            SELECT msisdn, location_id, count(*) AS n FROM events.calls
            WHERE datetime >= {w["start"]} AND datetime < {w["stop"]} GROUP BY msisdn, location_id),
        points AS (
            SELECT c.msisdn, m.lon, m.lat, sum(c.n) AS n
            FROM cells c JOIN {w["cells"]} m ON m.location_id = c.location_id WHERE m.lon IS NOT NULL
            GROUP BY c.msisdn, m.lon, m.lat),
        centres AS (
            SELECT msisdn, sum(n * lon) / sum(n) AS lon, sum(n * lat) / sum(n) AS lat FROM points GROUP BY msisdn),
        rog AS (
            SELECT sqrt(sum(p.n * ST_Distance(ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326)::geography,
                                              ST_SetSRID(ST_MakePoint(c.lon, c.lat), 4326)::geography) ^ 2)
                        / sum(p.n)) / 1000 AS v
            FROM points p JOIN centres c USING (msisdn) GROUP BY p.msisdn),
        bounds AS (SELECT min(v) AS lo, max(v) AS hi FROM rog),
        counts AS (SELECT least(width_bucket(v, lo, hi, 10), 10) AS i, count(*) AS n FROM rog, bounds GROUP BY 1)
        SELECT CASE WHEN coalesce(n, 0) > 15 THEN coalesce(n, 0) END,
               lo + (hi - lo) * (i - 1) / 10, CASE WHEN i = 10 THEN hi ELSE lo + (hi - lo) * i / 10 END
        FROM bounds, generate_series(1, 10) i LEFT JOIN counts USING (i) ORDER BY i"""


@dataclass
class Case:
    key: str
    label: str
    dataset: str
    ours: Callable[[], Query]
    hand: dict[str, str | tuple[dict[str, str], str]]  # SQL, or (planner settings for it, SQL)
    ordered: bool = False  # compare rows in order (histogram bins) rather than as sets
    drop_columns: tuple[int, ...] = field(
        default=()
    )  # hand-only columns (not in ours) left out of comparison


def cases() -> list[Case]:
    admin = make_spatial_unit
    day1, day2 = S_DAYS[0], S_DAYS[1]
    return [
        Case(
            "a_S",
            "spatial_aggregate(daily_location 2016-01-01, admin3, last)",
            "S",
            lambda: SpatialAggregate(daily_location(day1, admin("admin3"))),
            {
                "packed max": hand_a(day1, True),
                "DISTINCT ON": hand_a(day1, False),
                "index DISTINCT ON": hand_a(day1, "index"),
            },
        ),
        Case(
            "b",
            "spatial_aggregate(modal_location of 7 daily_locations, admin3)",
            "S",
            lambda: SpatialAggregate(
                ModalLocation([daily_location(d, admin("admin3")) for d in S_DAYS])
            ),
            {
                "packed max": hand_b(True),
                "DISTINCT ON": hand_b(False),
                "index DISTINCT ON": hand_b("index"),
            },
        ),
        Case(
            "c",
            "flows(daily_location day 1 -> day 2, admin1)",
            "S",
            lambda: Flows(
                daily_location(day1, admin("admin1")), daily_location(day2, admin("admin1"))
            ),
            {
                "packed max": hand_c(True),
                "DISTINCT ON": hand_c(False),
                "index DISTINCT ON": hand_c("index"),
            },
        ),
        Case(
            "d",
            "unique_subscriber_counts admin2, 7 days",
            "S",
            lambda: UniqueSubscriberCounts(
                S_DAYS[0], S_DAYS[-1] + dt.timedelta(days=1), admin("admin2")
            ),
            {"hash": hand_d(), "two-level hash": hand_d_two_level()},
        ),
        Case(
            "e",
            "location_event_counts, hour, admin1, 1 day, both",
            "S",
            lambda: LocationEventCounts(
                day1, day2, admin("admin1"), interval="hour", direction="both"
            ),
            {"hash": hand_e()},
            drop_columns=(4,),
        ),
        Case(
            "f",
            "histogram_aggregate(radius_of_gyration 7 days, 10 bins)",
            "S",
            lambda: HistogramAggregation(
                RadiusOfGyration(S_DAYS[0], S_DAYS[-1] + dt.timedelta(days=1)), bins=10
            ),
            {"collapse + hash": hand_f()},
            ordered=True,
        ),
        Case(
            "g",
            "trips_od_matrix admin2, 2 days",
            "S",
            lambda: TripsODMatrix(S_DAYS[0], S_DAYS[2], admin("admin2")),
            {"hash": hand_g()},
        ),
        Case(
            "h",
            "consecutive_trips_od_matrix admin2, 1 day",
            "S",
            lambda: ConsecutiveTripsODMatrix(S_DAYS[0], S_DAYS[1], admin("admin2")),
            {"window": hand_h()},
        ),
        Case(
            "i",
            "meaningful_locations_aggregate home, admin3, 7 days (radius 1 km)",
            "S",
            lambda: MeaningfulLocationsAggregate(
                MeaningfulLocations(
                    start=S_DAYS[0],
                    stop=S_DAYS[-1] + dt.timedelta(days=1),
                    label="home",
                    labels=ML_LABELS,
                    hour_scores=ML_HOUR_SCORES,
                    day_scores=ML_DAY_SCORES,
                    radius=ML_RADIUS,
                    call_threshold=ML_THRESHOLD,
                ),
                admin("admin3"),
            ),
            {
                "plpgsql leader clustering": hand_i(),
                "2-D array, sorted aggregation": hand_i_sorted(),
            },
        ),
        Case(
            "a_L",
            "same as a_S on L: 2016-02-01, 14 M rows, 2 M subscribers",
            "L",
            lambda: SpatialAggregate(daily_location(L_DAY, admin("admin3"))),
            {
                "packed max": hand_a(L_DAY, True),
                "DISTINCT ON": hand_a(L_DAY, False),
                "index DISTINCT ON": hand_a(L_DAY, "index"),
            },
        ),
    ]


def dataset_config(name: str, scale: float) -> SyntheticConfig:
    common = dict(
        n_sms=0, n_mds=0, n_topups=0, n_cells=1000, n_sites=500, n_admin3=150, generator="python"
    )
    if name == "S":
        sizes = dict(n_days=7, start_date=S_DAYS[0], n_subscribers=200_000, n_calls=750_000)
    elif name == "R":
        sizes = dict(n_days=28, start_date=R_DAYS[0], n_subscribers=200_000, n_calls=750_000)
    else:
        sizes = dict(n_days=1, start_date=L_DAY, n_subscribers=2_000_000, n_calls=7_000_000)
    sizes["n_subscribers"] = max(2, int(sizes["n_subscribers"] * scale))
    sizes["n_calls"] = max(1, int(sizes["n_calls"] * scale))
    return SyntheticConfig(**common, **sizes).validate()


def normalise(rows: list[tuple], drop: tuple[int, ...] = (), ordered: bool = False) -> list[tuple]:
    out = []
    for row in rows:
        values = []
        for i, v in enumerate(row):
            if i in drop:
                continue
            if isinstance(v, dt.date):
                v = v.isoformat()
            elif v is not None and not isinstance(v, str):
                v = None if isinstance(v, float) and math.isnan(v) else float(v)  # pandas' NULL
            values.append(v)
        out.append(tuple(values))
    return out if ordered else sorted(out, key=lambda r: tuple((x is None, x) for x in r))


def same_rows(a: list[tuple], b: list[tuple]) -> bool:
    if len(a) != len(b):
        return False
    for ra, rb in zip(a, b, strict=True):
        for x, y in zip(ra, rb, strict=True):
            if isinstance(x, float) and isinstance(y, float):
                if not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12):
                    return False
            elif x != y:
                return False
    return True


def reset(ctx: Context, query: Query) -> None:
    """Drop the cache tables of `query` and every stored query below it, so compute() starts from scratch."""
    for q in [*storable_dependencies(query), query]:
        invalidate(ctx, q.query_id, cascade=True)


def check_cells(conn: psycopg.Connection, first: dt.date, last: dt.date) -> None:
    """The hand SQL skips per-event service-date checks; that is exact only if every cell covers the data."""
    bad = conn.execute(
        """SELECT count(*) FROM bench.cells
           WHERE coalesce(first_day, '-infinity') > %s OR coalesce(last_day, 'infinity') < %s
              OR a1 IS NULL OR a2 IS NULL OR a3 IS NULL
              OR location_id IN (SELECT location_id FROM bench.cells GROUP BY 1 HAVING count(*) > 1)""",
        (first, last),
    ).fetchone()[0]
    if bad:
        raise SystemExit(
            f"{bad} cells are versioned, outside some admin unit or not in service all through: "
            "the hand SQL would be wrong"
        )
    bad_sites = conn.execute(
        """SELECT count(*) FROM bench.cell_sites
           WHERE coalesce(first_day, '-infinity') > %s OR coalesce(last_day, 'infinity') < %s
              OR lon IS NULL OR lat IS NULL
              OR location_id IN (SELECT location_id FROM bench.cell_sites GROUP BY 1 HAVING count(*) > 1)
              OR location_id NOT IN (SELECT location_id FROM bench.cells)""",
        (first, last),
    ).fetchone()[0]
    if bad_sites:
        raise SystemExit(
            f"{bad_sites} cells have a versioned site, one not in service all through or without a point: "
            "the hand SQL of meaningful locations would be wrong"
        )


@dataclass
class Result:
    case: Case
    rows: int
    ours: list[float]
    then_stored: list[float]
    deps_first: list[float]
    hand: dict[str, list[float]]
    agree: dict[str, bool]

    @property
    def ours_median(self) -> float:
        return statistics.median(self.ours)

    @property
    def then_stored_median(self) -> float:
        return statistics.median(self.then_stored)

    @property
    def deps_first_median(self) -> float:
        return statistics.median(self.deps_first)

    @property
    def best_hand(self) -> tuple[str, float]:
        return min(((k, statistics.median(v)) for k, v in self.hand.items()), key=lambda kv: kv[1])


def run_case(ctx: Context, fm_conn: psycopg.Connection, case: Case, runs: int) -> Result:
    hand_times: dict[str, list[float]] = {k: [] for k in case.hand}
    hand_rows: dict[str, list[tuple]] = {}
    for name, formulation in case.hand.items():
        settings, text = formulation if isinstance(formulation, tuple) else ({}, formulation)
        for setting, value in settings.items():
            fm_conn.execute(f"SET {setting} = {value}")
        for _ in range(runs):
            started = time.perf_counter()
            rows = fm_conn.execute(text).fetchall()
            hand_times[name].append(time.perf_counter() - started)
        for setting in settings:
            fm_conn.execute(f"RESET {setting}")
        hand_rows[name] = normalise(rows, case.drop_columns, case.ordered)
        print(
            f"  hand {name}: {[round(t, 2) for t in hand_times[name]]} s, {len(rows)} rows",
            flush=True,
        )
    ours_times, then_stored = [], []
    query = case.ours()
    for _ in range(runs):
        reset(ctx, query)
        started = time.perf_counter()
        compute_answer(ctx, query)
        ours_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        compute_dependencies(ctx, query)  # what the server then does in idle time
        then_stored.append(time.perf_counter() - started)
    ours_rows = normalise(
        [tuple(r) for r in query.get_dataframe(ctx).itertuples(index=False)], (), case.ordered
    )
    first_times = []
    for _ in range(runs):
        reset(ctx, query)
        started = time.perf_counter()
        compute(ctx, query)
        first_times.append(time.perf_counter() - started)
    first_rows = normalise(
        [tuple(r) for r in query.get_dataframe(ctx).itertuples(index=False)], (), case.ordered
    )
    reset(ctx, query)
    if not same_rows(ours_rows, first_rows):
        print("  !! answering first differs from storing the dependencies first")
    agree = {name: same_rows(ours_rows, rows) for name, rows in hand_rows.items()}
    print(
        f"  ours: {[round(t, 2) for t in ours_times]} s, then stored {[round(t, 2) for t in then_stored]}"
        f" s; dependencies first {[round(t, 2) for t in first_times]} s; {len(ours_rows)} rows, "
        f"agree {agree}",
        flush=True,
    )
    for name, ok in agree.items():
        if not ok:
            diff = [
                (a, b)
                for a, b in zip(ours_rows, hand_rows[name], strict=False)
                if not same_rows([a], [b])
            ]
            print(
                f"  !! {name} differs: {len(ours_rows)} vs {len(hand_rows[name])} rows; ours/hand {diff[:5]}"
            )
    agree["dependencies first"] = same_rows(ours_rows, first_rows)
    return Result(case, len(ours_rows), ours_times, then_stored, first_times, hand_times, agree)


@dataclass
class RollingResult:
    series: list[float]  # the one-pass series
    one: list[float]  # one 7-day count
    whole: list[float]  # one count over the whole 28 days (the same events as the series)
    separate: list[float]  # every window as its own query, all of them
    windows: int
    rows: int
    agree: bool
    # the floor of any exact one-pass series: reading and locating every event of the range, counting nothing
    read_week: list[float] = field(default_factory=list)  # the first 7 days' events
    read_range: list[float] = field(default_factory=list)  # all 28 days' events
    pages_week: int = 0  # 8 kB pages that read touches (the covering index of each day's partition)
    pages_range: int = 0


def _compute_timed(ctx: Context, queries: list[Query]) -> float:
    """Seconds to answer `queries` one after the other, each from an empty cache (all reset first)."""
    for q in queries:
        reset(ctx, q)
    started = time.perf_counter()
    for q in queries:
        compute_answer(ctx, q)
    return time.perf_counter() - started


# Every event of a range read and located (its subscriber and its admin3 unit looked at), nothing counted: what
# any exact series must at least do once per event. Dates are bound values.
READ_AND_LOCATE_SQL = """
SELECT count(*), bool_and(e.msisdn IS NOT NULL AND c.a3 IS NOT NULL)
FROM events.calls e JOIN bench.cells c ON c.location_id = e.location_id
WHERE e.datetime >= %(start)s AND e.datetime < %(stop)s
"""


def _read_and_locate(
    ctx: Context, start: dt.date, stop: dt.date, runs: int
) -> tuple[list[float], int]:
    """Seconds to read and locate the events of [start, stop) (`READ_AND_LOCATE_SQL`), and the pages read."""
    bounds = {
        "start": dt.datetime.combine(start, dt.time(), dt.UTC),
        "stop": dt.datetime.combine(stop, dt.time(), dt.UTC),
    }
    times = []
    with ctx.pool.connection() as conn:
        for _ in range(runs):
            started = time.perf_counter()
            conn.execute(READ_AND_LOCATE_SQL, bounds).fetchall()
            times.append(time.perf_counter() - started)
        plan = conn.execute(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + READ_AND_LOCATE_SQL, bounds
        ).fetchone()[0][0]["Plan"]
    return times, plan["Shared Hit Blocks"] + plan["Shared Read Blocks"]


def run_rolling(ctx: Context, runs: int) -> RollingResult:
    """The 7-day series over R's 28 days against one 7-day count and against one count per window."""
    unit = make_spatial_unit("admin3")
    day = dt.timedelta(days=1)
    start, stop = R_DAYS[0], R_DAYS[-1] + day
    series = RollingUniqueSubscriberCounts(start, stop, unit, window=ROLLING_WINDOW)
    ends = R_DAYS[ROLLING_WINDOW - 1 :]
    separate = [
        UniqueSubscriberCounts(end - (ROLLING_WINDOW - 1) * day, end + day, unit) for end in ends
    ]
    one = separate[0]
    whole = UniqueSubscriberCounts(start, stop, unit)
    times: dict[str, list[float]] = {"series": [], "one": [], "whole": [], "separate": []}
    for _ in range(runs):
        times["series"].append(_compute_timed(ctx, [series]))
        times["one"].append(_compute_timed(ctx, [one]))
        times["whole"].append(_compute_timed(ctx, [whole]))
        times["separate"].append(_compute_timed(ctx, separate))
        print(f"  { ({k: round(v[-1], 2) for k, v in times.items()}) } s", flush=True)
    got = normalise([tuple(r) for r in series.get_dataframe(ctx).itertuples(index=False)])
    expected = normalise(
        [
            (*row[:-1], end.isoformat(), row[-1])
            for end, q in zip(ends, separate, strict=True)
            for row in q.get_dataframe(ctx).itertuples(index=False)
        ]
    )
    agree = same_rows(got, expected)
    if not agree:
        print(
            f"  !! the series differs from the separate counts: {len(got)} vs {len(expected)} rows"
        )
    for q in [series, whole, *separate]:
        reset(ctx, q)
    read_week, pages_week = _read_and_locate(ctx, start, ends[0] + day, runs)
    read_range, pages_range = _read_and_locate(ctx, start, stop, runs)
    return RollingResult(
        times["series"],
        times["one"],
        times["whole"],
        times["separate"],
        len(ends),
        len(got),
        agree,
        read_week,
        read_range,
        pages_week,
        pages_range,
    )


def format_rolling(r: RollingResult, args: argparse.Namespace, size: str, pg: dict) -> str:
    series, one, whole, separate, read_week, read_range = (
        statistics.median(v)
        for v in (r.series, r.one, r.whole, r.separate, r.read_week, r.read_range)
    )
    ok = "✓" if series / one <= TARGET_ROLLING else "✗"
    return "\n".join(
        [
            f"Measured {dt.date.today()} on {platform.node() or 'this machine'}: {machine_cores()} cores, "
            f"{machine_memory_bytes() / 2**30:.0f} GiB RAM, PostgreSQL 15 (work_mem {pg['work_mem']}, "
            f"max_parallel_workers_per_gather {pg['max_parallel_workers_per_gather']}), "
            f"`uv run python bench/queries.py --only rolling --scale {args.scale} --runs {args.runs}`; "
            f"median of {args.runs} runs, each query from an empty cache (cell mapping included). "
            f"Data: R: {size}.",
            "",
            f"| query (admin3, {ROLLING_WINDOW}-day windows) | seconds | ÷ one {ROLLING_WINDOW}-day count "
            f"(series ≤ {TARGET_ROLLING:g}) | rows | agree |",
            "|---|---|---|---|---|",
            f"| one {ROLLING_WINDOW}-day unique_subscriber_counts | {one:.2f} | 1.00 | | |",
            f"| rolling_unique_subscriber_counts, {r.windows} windows in one pass | **{series:.2f}** | "
            f"{series / one:.2f} {ok} | {r.rows} | {'yes' if r.agree else 'NO'} |",
            f"| one unique_subscriber_counts over all {len(R_DAYS)} days (the series' events) | "
            f"{whole:.2f} | {whole / one:.2f} | | |",
            f"| the same {r.windows} windows as {r.windows} separate unique_subscriber_counts | "
            f"{separate:.2f} | {separate / one:.2f} | | |",
            f"| floor: only read and locate the {len(R_DAYS)} days' events, counting nothing "
            f"({r.pages_range * 8 / 1024:.0f} MB of index pages) | {read_range:.2f} | "
            f"{read_range / one:.2f} | | |",
            f"| the same for the first {ROLLING_WINDOW} days' events "
            f"({r.pages_week * 8 / 1024:.0f} MB) | {read_week:.2f} | {read_week / one:.2f} | | |",
            "",
            f"One pass is {separate / series:.1f}x faster than the separate queries, and costs "
            f"{series / whole:.2f}x one count over the same {len(R_DAYS)} days. The series reads "
            f"{r.pages_range / max(r.pages_week, 1):.1f}x the pages of one {ROLLING_WINDOW}-day count; "
            f"reading and locating its events, counting nothing, already costs {read_range / one:.2f}x "
            f"one {ROLLING_WINDOW}-day count.",
        ]
    )


def format_table(
    results: list[Result], args: argparse.Namespace, sizes: dict[str, str], pg: dict
) -> str:
    lines = [
        f"Measured {dt.date.today()} on {platform.node() or 'this machine'}: {machine_cores()} cores, "
        f"{machine_memory_bytes() / 2**30:.0f} GiB RAM, {platform.platform()}, PostgreSQL 15 "
        f"(work_mem {pg['work_mem']}, max_parallel_workers_per_gather {pg['max_parallel_workers_per_gather']}, "
        f"jit {pg['jit']}), `uv run python bench/queries.py --scale {args.scale}`; "
        f"median of {args.runs} runs. Data: "
        + "; ".join(f"{k}: {v}" for k, v in sizes.items())
        + ".",
        "",
        "| # | query | ours (answer, empty cache) | then stored (idle) | hand SQL (best) | "
        "ours ÷ hand (≤ 1.2) | dependencies first ÷ hand | FlowKit 1.34 server | ours ÷ FlowKit (≤ 0.5) | "
        "rows | agree |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        name, hand = r.best_hand
        ours = r.ours_median
        flowkit = FLOWKIT_SERVER.get(r.case.key)
        others = ", ".join(
            f"{k} {statistics.median(v):.2f}" for k, v in r.hand.items() if k != name
        )
        ok_hand = "✓" if ours / hand <= TARGET_HAND else "✗"
        if flowkit is None:  # not in the baseline document
            fk_cells = "– | –"
        else:
            ok_fk = ours / flowkit <= TARGET_FLOWKIT and (
                r.case.dataset != "L" or ours <= TARGET_L_SECONDS
            )
            fk_cells = f"{flowkit:.2f} | {ours / flowkit:.2f} {'✓' if ok_fk else '✗'}"
        lines.append(
            f"| {r.case.key} | {r.case.label} | **{ours:.2f}** | {r.then_stored_median:.2f} | {hand:.2f} ({name}"
            + (f"; {others}" if others else "")
            + f") | {ours / hand:.2f} {ok_hand} | {r.deps_first_median:.2f} ÷ {hand:.2f} = "
            f"{r.deps_first_median / hand:.2f} | {fk_cells} | "
            f"{r.rows} | {'yes' if all(r.agree.values()) else 'NO: ' + str(r.agree)} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply subscribers and calls (default 1)"
    )
    parser.add_argument("--runs", type=int, default=3, help="timed runs per query (default 3)")
    parser.add_argument(
        "--only", default="", help="comma list of cases: a_S,b,c,d,e,f,g,h,i,a_L,rolling"
    )
    parser.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    parser.add_argument(
        "--data",
        choices=("baseline", "flowdb"),
        default="baseline",
        help="the baseline's data model (default) or FlowDB's synthetic generator",
    )
    args = parser.parse_args()
    selected = [c for c in cases() if not args.only or c.key in args.only.split(",")]
    rolling_wanted = not args.only or "rolling" in args.only.split(",")
    rolling: RollingResult | None = None

    root = Path(tempfile.mkdtemp(prefix="flowmachine-bench-"))
    root.chmod(0o755)
    port = free_port()
    db_settings = FlowDBSettings.from_env(
        {**os.environ, "FLOWDB_DATA_DIR": str(root / "db"), "FLOWDB_PORT": str(port)}
    )
    cluster = Cluster(db_settings)
    redis_proc = None
    results: list[Result] = []
    sizes: dict[str, str] = {}
    try:
        cluster.start()
        redis_proc, redis_port = start_redis(root / "redis")
        connect = partial(psycopg.connect, db_settings.url(), autocommit=True)
        fm_settings = Settings(
            flowdb_host="127.0.0.1",
            flowdb_port=port,
            flowdb_password=db_settings.role_password("flowmachine"),
            redis_host="127.0.0.1",
            redis_port=redis_port,
        )
        with connect() as conn:
            pg = {k: conn.execute(f"SHOW {k}").fetchone()[0] for k in
                  ("work_mem", "max_parallel_workers_per_gather", "jit")}  # fmt: skip
        for dataset in ("S", "L", "R"):
            todo = [c for c in selected if c.dataset == dataset]
            if not todo and not (dataset == "R" and rolling_wanted):
                continue
            config = dataset_config(dataset, args.scale)
            print(f"== loading {dataset}: {config.n_days} days x {config.rows_per_day:,} rows/day, "
                  f"{config.n_subscribers:,} subscribers", flush=True)  # fmt: skip
            say = lambda m: print("  " + m, flush=True)  # noqa: E731
            if args.data == "baseline":
                report = load_baseline_dataset(connect, config, progress=say)
            else:
                report = generate(connect, config, workers=machine_cores(), progress=say)
            sizes[dataset] = (
                f"{config.n_days} day(s) from {config.start_date}, {config.n_subscribers:,} subscribers, "
                f"{report.total_rows:,} call rows, {args.data} data model (loaded in {report.seconds:.0f} s)"
            )
            with connect() as conn:
                conn.execute(CELLS_SQL)
                check_cells(conn, config.dates[0], config.dates[-1])
            with (
                Context.open(fm_settings) as ctx,
                psycopg.connect(fm_settings.conninfo(), autocommit=True) as fm,
            ):
                for case in todo:
                    print(f"== {case.key}: {case.label}", flush=True)
                    results.append(run_case(ctx, fm, case, args.runs))
                if dataset == "R":
                    print(
                        "== rolling: 7-day series over 28 days vs one and separate counts",
                        flush=True,
                    )
                    rolling = run_rolling(ctx, args.runs)
    finally:
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait(timeout=10)
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)

    if results:
        text = format_table(results, args, sizes, pg)
        print("\n" + text)
        if not args.no_write:
            write_section(BEGIN, END, text)
    if rolling is not None:
        text = format_rolling(rolling, args, sizes["R"], pg)
        print("\n" + text)
        if not args.no_write:
            write_section(ROLLING_BEGIN, ROLLING_END, text, heading=ROLLING_HEADING)


if __name__ == "__main__":
    main()
