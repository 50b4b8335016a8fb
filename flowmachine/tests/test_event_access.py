"""The event access layer: windows, hours, event types, errors, and partition pruning."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from flowdb.synthetic.loading import day_partition
from flowmachine.core.errors import InvalidSpecError, MissingDateError
from flowmachine.core.spatial_unit import make_spatial_unit
from flowmachine.features.subscriber.daily_location import daily_location
from flowmachine.features.subscriber.event_count import EventCount
from flowmachine.features.utilities.events_tables_union import EventsTablesUnion

PRUNING_DAYS = [dt.date(2017, 1, 1) + dt.timedelta(days=i) for i in range(30)]


@pytest.fixture(scope="module")
def thirty_days(flowdb_cluster, fixture_db):
    """30 one-row day partitions of calls and sms (2017-01-01..30) next to the fixture's days."""
    with flowdb_cluster.connect() as conn:
        for day in PRUNING_DAYS:
            for cdr in ("calls", "sms"):
                with day_partition(conn, cdr, day) as table:
                    conn.execute(
                        psycopg_sql_insert(table),
                        (f"p{cdr}{day}", dt.datetime.combine(day, dt.time(12), dt.UTC)),
                    )
    return PRUNING_DAYS


def psycopg_sql_insert(table):
    from psycopg import sql

    return sql.SQL(
        "INSERT INTO {} (id, outgoing, datetime, msisdn, msisdn_counterpart, location_id) "
        "VALUES (%s, true, %s, 'x', 'y', 'C00')"
    ).format(table)


def _scanned_relations(plan: dict) -> set[str]:
    found = set()

    def walk(node):
        if "Relation Name" in node:
            found.add(node["Relation Name"])
        for child in node.get("Plans", []):
            walk(child)

    walk(plan["Plan"])
    return found


def test_one_day_query_reads_one_partition_per_table(ctx, thirty_days):
    q = daily_location("2017-01-10", make_spatial_unit("admin3"))
    plan = q.explain(ctx, format="json")
    if isinstance(plan, str):
        plan = json.loads(plan)
    scanned = {r for r in _scanned_relations(plan[0]) if r.startswith(("calls", "sms"))}
    assert scanned == {"calls_20170110", "sms_20170110"}


def test_one_day_query_reads_one_partition_with_an_hours_window(ctx, thirty_days):
    q = EventCount("2017-01-10", "2017-01-11", hours=(22, 3), tables=["calls"])
    plan = q.explain(ctx, format="json")
    scanned = {r for r in _scanned_relations(plan[0]) if r.startswith("calls")}
    assert scanned == {"calls_20170110"}


def _nodes(node: dict) -> list[dict]:
    """`node` and every node below it, depth first."""
    return [node, *(n for child in node.get("Plans", []) for n in _nodes(child))]


def _sorts_events(node: dict, sorting: bool = False) -> bool:
    """Whether some Sort in the plan sorts rows of an events table (not already reduced by a Unique)."""
    if node["Node Type"] == "Unique":
        sorting = False
    if node["Node Type"] in ("Sort", "Incremental Sort"):
        sorting = True
    if sorting and node.get("Relation Name", "").startswith(("calls_", "sms_")):
        return True
    return any(_sorts_events(child, sorting) for child in node.get("Plans", []))


def test_last_location_reads_each_subscribers_events_in_index_order(ctx, fixture_db):
    """The latest event per subscriber comes from the msisdn index's order: no sort of the day's events.

    With sorting disabled, a plan without a Sort of events rows exists only if FlowDB's msisdn index holds
    (msisdn, datetime, location_id) and the query asks each table for exactly its (backward) order."""
    from psycopg import sql

    q = daily_location("2016-01-01", make_spatial_unit("admin3"))  # calls and sms
    explain = sql.SQL("EXPLAIN (FORMAT JSON) {}").format(q.get_query(ctx))
    with ctx.pool.connection() as conn:
        conn.execute("SET enable_sort = off")
        try:
            plan = conn.execute(explain).fetchone()[0]
        finally:
            conn.execute("RESET enable_sort")
    # the outer side of the LATERAL join (its inner side looks up one subscriber's events at a time)
    lateral = next(
        n
        for n in _nodes(plan[0]["Plan"])
        if n["Node Type"] == "Nested Loop" and n.get("Join Type") == "Left"
    )
    latest = lateral["Plans"][0]
    scans = {n.get("Relation Name"): n["Node Type"] for n in _nodes(latest)}
    assert scans.get("calls_20160101") == scans.get("sms_20160101") == "Index Only Scan"
    assert not _sorts_events(latest)


def test_missing_dates_are_a_clear_error(ctx, fixture_db):
    q = EventCount("2010-01-01", "2010-01-05")
    with pytest.raises(MissingDateError, match="no calls/sms data between 2010-01-01"):
        q.get_dataframe(ctx)


def test_tables_without_data_in_the_window_are_skipped(ctx, fixture_db):
    q = EventsTablesUnion("2016-01-01", "2016-01-02", columns=["datetime"], tables=["calls", "mds"])
    assert q.resolved_tables(ctx) == ("calls",)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"hours": (5, 5)}, "select no time of day"),
        ({"hours": (3, 25)}, "hours must be"),
        ({"direction": "sideways"}, "direction must be"),
        ({"tables": ["faxes"]}, "unknown event type"),
        ({"tables": ["mds"], "direction": "out"}, "direction needs 'outgoing'"),
    ],
)
def test_bad_parameters_are_refused_at_construction(kwargs, message):
    with pytest.raises(InvalidSpecError, match=message):
        EventCount("2016-01-01", "2016-01-02", **kwargs)


def test_window_must_not_be_empty():
    with pytest.raises(InvalidSpecError, match="must end after it starts"):
        EventCount("2016-01-02", "2016-01-02")


def test_hours_to_midnight_and_whole_day(ctx, fixture_db):
    late = EventsTablesUnion("2016-01-01", "2016-01-02", columns=["datetime"], hours=(22, 24))
    assert late.hours == (22, 24)
    whole = EventsTablesUnion("2016-01-01", "2016-01-02", columns=["datetime"], hours=(0, 24))
    assert whole.hours is None
    df = late.get_dataframe(ctx)
    assert len(df) > 0 and (df.datetime.dt.hour >= 22).all()


def test_dates_are_utc_instants():
    a = EventCount("2016-01-01T02:00:00+02:00", "2016-01-02")
    b = EventCount("2016-01-01 00:00:00", "2016-01-02")
    assert a.query_id == b.query_id
    assert EventCount("20160101", "2016-01-02").query_id == b.query_id


def test_last_location_leaves_out_the_fallback_when_every_event_is_located(ctx, fixture_db):
    """A loose scan of the window's cells proves whether the unit places every event: on the generated days
    (known cells, always in service) it does and the SQL has no LATERAL fallback; on the hand-made days
    (unknown cells, a cell out of service) it does not, and the fallback stays."""
    from psycopg import sql

    unit = make_spatial_unit("admin3")
    generated = daily_location("2016-03-02", unit)
    hand = daily_location("2016-01-01", unit)
    assert generated.subscriber_locations.every_event_located(ctx)
    assert not hand.subscriber_locations.every_event_located(ctx)
    assert not daily_location(
        "2016-03-02", make_spatial_unit("cell")
    ).subscriber_locations.every_event_located(ctx)

    def has_left_nested_loop(q) -> bool:
        explain = sql.SQL("EXPLAIN (FORMAT JSON) {}").format(q.get_query(ctx))
        with ctx.pool.connection() as conn:
            plan = conn.execute(explain).fetchone()[0]
        return any(
            n["Node Type"] == "Nested Loop" and n.get("Join Type") == "Left"
            for n in _nodes(plan[0]["Plan"])
        )

    assert not has_left_nested_loop(generated)
    assert has_left_nested_loop(hand)


def test_cells_outside_the_mapping_in_the_window_defeat_the_proof(ctx, flowdb_cluster, fixture_db):
    """One event at a cell the unit cannot place, on an otherwise fully located day, is enough."""
    from flowmachine.features.utilities.subscriber_locations import SubscriberLocations

    located = SubscriberLocations("2016-03-02", "2016-03-03", make_spatial_unit("admin3"))
    assert located.every_event_located(ctx)
    with flowdb_cluster.connect() as conn:
        with conn.transaction(force_rollback=True):
            conn.execute(
                "INSERT INTO events.calls (id, outgoing, datetime, msisdn, location_id) "
                "VALUES ('x', true, '2016-03-02 12:00:00+00', 'subX', 'NOWHERE')"
            )
            assert conn.execute(located.unplaced_location_query(ctx, "calls")).fetchone()[0]
