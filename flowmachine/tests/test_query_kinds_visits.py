"""The "visits" query kinds (built on unique locations and trips) against independent pandas computations on
the fixture FlowDB, their API schemas, and their redaction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import reference as ref
import reference_visits as rv
from marshmallow import ValidationError
from test_query_kinds import GEN, HAND, result, same

from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.server.query_schemas.flowmachine_query import FlowmachineQuerySchema
from flowmachine.core.spatial_unit import make_spatial_unit
from flowmachine.features.dummy_query import DummyQuery
from flowmachine.features.location.active_at_reference_location_counts import (
    ActiveAtReferenceLocationCounts,
    UniqueVisitorCounts,
    UnmovingAtReferenceLocationCounts,
    UnmovingCounts,
)
from flowmachine.features.location.location_introversion import LocationIntroversion
from flowmachine.features.location.trips_od_matrix import ConsecutiveTripsODMatrix, TripsODMatrix
from flowmachine.features.location.unique_subscriber_counts import UniqueSubscriberCounts
from flowmachine.features.subscriber.last_location import LastLocation
from flowmachine.features.subscriber.most_frequent_location import MostFrequentLocation
from flowmachine.features.subscriber.unique_locations import UniqueLocations

DAY1 = ("2016-03-01", "2016-03-02")


def _inputs(fx, unit: str, ul_window=GEN, ref_window=GEN):
    """UniqueLocations and MostFrequentLocation queries with their pandas references."""
    su = make_spatial_unit(unit)
    return (
        UniqueLocations(*ul_window, su),
        MostFrequentLocation(*ref_window, su),
        ref.unique_locations(fx, unit, *ul_window),
        ref.most_frequent_location(fx, unit, *ref_window),
    )


# active at reference location, unmoving ------------------------------------------------------------------


@pytest.mark.parametrize("redact", [False, True])
@pytest.mark.parametrize("unit", ["admin3", "lon-lat"])
def test_active_at_reference_location_counts(ctx, fixture_db, unit, redact):
    ul, rl, ul_df, rl_df = _inputs(fixture_db, unit, ul_window=DAY1)
    q = ActiveAtReferenceLocationCounts(ul, rl, redact=redact)
    expected = rv.active_at_reference_location_counts(ul_df, rl_df, ref.UNIT_COLUMNS[unit], redact)
    assert 0 < len(expected)
    same(result(ctx, q), expected)


@pytest.mark.parametrize("redact", [False, True])
@pytest.mark.parametrize("unit", ["admin2", "admin3", "cell"])
def test_unmoving_counts(ctx, fixture_db, unit, redact):
    ul = UniqueLocations(*DAY1, make_spatial_unit(unit))
    expected = rv.unmoving_counts(
        ref.unique_locations(fixture_db, unit, *DAY1), ref.UNIT_COLUMNS[unit], redact
    )
    same(result(ctx, UnmovingCounts(ul, redact=redact)), expected)


def test_unmoving_counts_on_hand_data(ctx, fixture_db):
    ul = UniqueLocations(*HAND, make_spatial_unit("cell"))
    expected = rv.unmoving_counts(
        ref.unique_locations(fixture_db, "cell", *HAND), ["location_id"], False
    )
    assert len(expected) > 0
    same(result(ctx, UnmovingCounts(ul, redact=False)), expected)


@pytest.mark.parametrize("redact", [False, True])
@pytest.mark.parametrize("unit", ["admin1", "admin2", "lon-lat"])
def test_unmoving_at_reference_location_counts(ctx, fixture_db, unit, redact):
    ul, rl, ul_df, rl_df = _inputs(fixture_db, unit, ul_window=DAY1)
    q = UnmovingAtReferenceLocationCounts(ul, rl, redact=redact)
    expected = rv.unmoving_at_reference_location_counts(
        ul_df, rl_df, ref.UNIT_COLUMNS[unit], redact
    )
    same(result(ctx, q), expected)


def test_unmoving_at_reference_location_counts_on_hand_data(ctx, fixture_db):
    ul, rl, ul_df, rl_df = _inputs(fixture_db, "cell", ul_window=HAND, ref_window=HAND)
    q = UnmovingAtReferenceLocationCounts(ul, rl, redact=False)
    expected = rv.unmoving_at_reference_location_counts(ul_df, rl_df, ["location_id"], False)
    assert (expected.value == 0).any() and (expected.value > 0).any()
    same(result(ctx, q), expected)


def test_inputs_must_share_a_unit():
    ul = UniqueLocations(*DAY1, make_spatial_unit("admin1"))
    rl = LastLocation(*DAY1, make_spatial_unit("admin2"))
    for cls in (ActiveAtReferenceLocationCounts, UnmovingAtReferenceLocationCounts):
        with pytest.raises(InvalidSpecError):
            cls(ul, rl)


# unique visitors ----------------------------------------------------------------------------------------


def _visitor_case(fx, unit: str, seen_window, ul_window, ref_window):
    ul, rl, ul_df, rl_df = _inputs(fx, unit, ul_window=ul_window, ref_window=ref_window)
    usc = UniqueSubscriberCounts(*seen_window, make_spatial_unit(unit))
    seen = ref.located(fx, unit, *seen_window)
    return ActiveAtReferenceLocationCounts(ul, rl), usc, seen, ul_df, rl_df


@pytest.mark.parametrize("redact", [False, True])
@pytest.mark.parametrize(
    "unit,seen_window,ul_window",
    [
        ("admin2", DAY1, DAY1),
        ("admin3", DAY1, DAY1),
        ("admin3", ("2016-03-01", "2016-03-03"), DAY1),  # windows differ: unseen residents
        ("lon-lat", DAY1, ("2016-03-01", "2016-03-03")),
    ],
)
def test_unique_visitor_counts(ctx, fixture_db, unit, seen_window, ul_window, redact):
    active, usc, seen, ul_df, rl_df = _visitor_case(fixture_db, unit, seen_window, ul_window, GEN)
    L = ref.UNIT_COLUMNS[unit]
    q = UniqueVisitorCounts(active, usc, redact=redact)
    expected = rv.unique_visitor_counts(seen, ul_df, rl_df, L, redact)
    same(result(ctx, q), expected)


def test_unique_visitor_counts_never_reveal_a_small_difference(ctx, fixture_db):
    """No published visitor count, minus or subtracted from the published unique subscriber and active counts
    of the same location, gives a number resting on 1..15 subscribers (FlowKit issue #5258)."""
    checked = 0
    for unit, seen_window, ul_window, ref_window in [
        ("admin3", DAY1, DAY1, GEN),
        ("admin2", ("2016-03-01", "2016-03-03"), DAY1, GEN),
        ("admin3", ("2016-03-02", "2016-03-04"), ("2016-03-01", "2016-03-03"), DAY1),
        ("lon-lat", DAY1, ("2016-03-01", "2016-03-04"), ("2016-03-02", "2016-03-05")),
    ]:
        active, usc, seen, ul_df, rl_df = _visitor_case(
            fixture_db, unit, seen_window, ul_window, ref_window
        )
        L = ref.UNIT_COLUMNS[unit]
        uvc = result(ctx, UniqueVisitorCounts(active, usc)).set_index(L).value
        aarlc = result(ctx, active).set_index(L).value
        usc_df = result(ctx, usc).set_index(L).value
        parts = rv.unique_visitor_parts(seen, ul_df, rl_df, L).set_index(L)
        for key, visitors in uvc.items():
            checked += 1
            assert visitors > 15
            derived = []
            if key in usc_df.index:
                derived.append(usc_df[key] - visitors)  # the seen residents
            if key in aarlc.index and key in usc_df.index:
                derived.append(aarlc[key] - (usc_df[key] - visitors))  # the unseen residents
            for d in derived:
                assert d == 0 or d > 15, (unit, key, d)
            assert parts.loc[key, "seen_residents"] > 15
    assert checked > 0


def test_unique_visitor_counts_inputs_must_share_a_unit():
    ul = UniqueLocations(*DAY1, make_spatial_unit("admin1"))
    active = ActiveAtReferenceLocationCounts(ul, LastLocation(*DAY1, make_spatial_unit("admin1")))
    with pytest.raises(InvalidSpecError):
        UniqueVisitorCounts(active, UniqueSubscriberCounts(*DAY1, make_spatial_unit("admin2")))


# trips --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("redact", [False, True])
@pytest.mark.parametrize("unit", ["admin1", "admin3", "lon-lat"])
def test_trips_od_matrix(ctx, fixture_db, unit, redact):
    q = TripsODMatrix(*DAY1, make_spatial_unit(unit), redact=redact)
    loc = ref.located(fixture_db, unit, *DAY1)
    same(result(ctx, q), rv.trips_od_matrix(loc, ref.UNIT_COLUMNS[unit], redact))


def test_trips_od_matrix_redaction_drops_small_pairs(ctx, fixture_db):
    q = TripsODMatrix(*DAY1, make_spatial_unit("admin3"), hours=(0, 6))
    loc = ref.located(fixture_db, "admin3", *DAY1, hours=(0, 6))
    expected = rv.trips_od_matrix(loc, ["pcod"], True)
    assert 0 < len(expected) < len(rv.trips_od_matrix(loc, ["pcod"], False))
    same(result(ctx, q), expected)


@pytest.mark.parametrize("unit", ["cell", "versioned-cell", "admin3"])
def test_trips_od_matrix_hand_data_with_filters(ctx, fixture_db, unit):
    f = {"hours": (20, 4), "tables": ("calls",)}
    q = TripsODMatrix(*HAND, make_spatial_unit(unit), hours=(20, 4), tables=["calls"], redact=False)
    loc = ref.located(fixture_db, unit, *HAND, **f)
    expected = rv.trips_od_matrix(loc, ref.UNIT_COLUMNS[unit], False)
    assert len(expected) > 0
    same(result(ctx, q), expected)


@pytest.mark.parametrize("redact", [False, True])
@pytest.mark.parametrize("unit", ["admin1", "admin2", "lon-lat"])
def test_consecutive_trips_od_matrix(ctx, fixture_db, unit, redact):
    q = ConsecutiveTripsODMatrix(*DAY1, make_spatial_unit(unit), redact=redact)
    loc = ref.located(fixture_db, unit, *DAY1)
    expected = rv.consecutive_trips_od_matrix(loc, ref.UNIT_COLUMNS[unit], redact)
    if unit == "admin1" and not redact:  # same-location transitions are included
        assert (expected.pcod_from == expected.pcod_to).any()
    same(result(ctx, q), expected)


@pytest.mark.parametrize("unit", ["cell", "admin3", "versioned-site"])
def test_consecutive_trips_hand_data_and_ties(ctx, fixture_db, unit):
    q = ConsecutiveTripsODMatrix(*HAND, make_spatial_unit(unit), redact=False)
    loc = ref.located(fixture_db, unit, *HAND)
    same(result(ctx, q), rv.consecutive_trips_od_matrix(loc, ref.UNIT_COLUMNS[unit], False))


def test_consecutive_trips_tie_order_is_by_cell(ctx, fixture_db):
    # sub0900's last two events of day one are at the same instant, at C02 and C05: C02 first
    loc = ref.located(fixture_db, "cell", "2016-01-01", "2016-01-02")
    sub = loc[loc.subscriber == "sub0900"]
    assert sub.time.max() == sub[sub.location_id == "C05"].time.max()
    q = ConsecutiveTripsODMatrix(
        "2016-01-01", "2016-01-02", make_spatial_unit("cell"), redact=False
    )
    df = result(ctx, q)
    assert ((df.location_id_from == "C02") & (df.location_id_to == "C05")).any()


# introversion -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("redact", [False, True])
@pytest.mark.parametrize(
    "unit,filters",
    [
        ("admin1", {}),
        ("admin2", {"direction": "out"}),
        ("admin3", {"direction": "in", "hours": (8, 20)}),
        ("lon-lat", {"tables": ("calls",)}),
    ],
)
def test_location_introversion(ctx, fixture_db, unit, filters, redact):
    kw = dict(filters)
    if "tables" in kw:
        kw["tables"] = list(kw["tables"])
    q = LocationIntroversion(*GEN, make_spatial_unit(unit), redact=redact, **kw)
    expected = rv.location_introversion(fixture_db, unit, *GEN, redact, **filters)
    assert len(expected) > 0
    same(result(ctx, q), expected)


@pytest.mark.parametrize("unit", ["cell", "admin3"])
def test_location_introversion_redaction_drops_small_locations(ctx, fixture_db, unit):
    kw = {"hours": (12, 13), "direction": "out"}
    q = LocationIntroversion(*DAY1, make_spatial_unit(unit), **kw)
    expected = rv.location_introversion(fixture_db, unit, *DAY1, True, **kw)
    unredacted = rv.location_introversion(fixture_db, unit, *DAY1, False, **kw)
    assert 0 < len(expected) < len(unredacted)
    same(result(ctx, q), expected)


def test_location_introversion_hand_data(ctx, fixture_db):
    q = LocationIntroversion(*HAND, make_spatial_unit("cell"), redact=False)
    same(result(ctx, q), rv.location_introversion(fixture_db, "cell", *HAND, False))


def test_location_introversion_needs_counterpart_tables():
    with pytest.raises(InvalidSpecError):
        LocationIntroversion(*GEN, make_spatial_unit("admin1"), tables=["mds"])


# dummy ---------------------------------------------------------------------------------------------------


def test_dummy_query_has_no_data(ctx):
    q = DummyQuery("x", dummy_delay=0, aggregation_unit="admin1")
    df = result(ctx, q)
    assert list(df.columns) == [] and len(df) <= 1
    assert q.query_id != DummyQuery("y").query_id
    assert DummyQuery("x", aggregation_unit="admin2").query_id != q.query_id
    with pytest.raises(InvalidSpecError):
        DummyQuery("x", dummy_delay=-1)


# API schemas --------------------------------------------------------------------------------------------

WINDOW = {"start_date": "2016-03-01", "end_date": "2016-03-02", "aggregation_unit": "admin2"}
UL = {"query_kind": "unique_locations", **WINDOW}
REF = {"query_kind": "most_frequent_location", **WINDOW, "end_date": "2016-03-06"}
ACTIVE = {
    "query_kind": "active_at_reference_location_counts",
    "unique_locations": UL,
    "reference_locations": REF,
}
SPECS = {
    "active_at_reference_location_counts": (
        ACTIVE,
        ActiveAtReferenceLocationCounts(
            UniqueLocations(*DAY1, make_spatial_unit("admin2")),
            MostFrequentLocation("2016-03-01", "2016-03-06", make_spatial_unit("admin2")),
        ),
    ),
    "unique_visitor_counts": (
        {
            "query_kind": "unique_visitor_counts",
            "active_at_reference_location_counts": ACTIVE,
            "unique_subscriber_counts": {"query_kind": "unique_subscriber_counts", **WINDOW},
        },
        None,
    ),
    "unmoving_counts": (
        {"query_kind": "unmoving_counts", "locations": UL},
        UnmovingCounts(UniqueLocations(*DAY1, make_spatial_unit("admin2"))),
    ),
    "unmoving_at_reference_location_counts": (
        {
            "query_kind": "unmoving_at_reference_location_counts",
            "locations": UL,
            "reference_locations": REF,
        },
        None,
    ),
    "location_introversion": (
        {"query_kind": "location_introversion", **WINDOW, "direction": "out"},
        LocationIntroversion(*DAY1, make_spatial_unit("admin2"), direction="out"),
    ),
    "trips_od_matrix": (
        {"query_kind": "trips_od_matrix", **WINDOW, "hours": {"start_hour": 20, "end_hour": 4}},
        TripsODMatrix(*DAY1, make_spatial_unit("admin2"), hours=(20, 4)),
    ),
    "consecutive_trips_od_matrix": (
        {"query_kind": "consecutive_trips_od_matrix", **WINDOW, "event_types": ["calls"]},
        ConsecutiveTripsODMatrix(*DAY1, make_spatial_unit("admin2"), tables=["calls"]),
    ),
    "dummy_query": (
        {"query_kind": "dummy_query", "aggregation_unit": "admin2", "dummy_param": "p"},
        DummyQuery("p", aggregation_unit="admin2"),
    ),
}


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_spec_loads_to_the_redacted_query(kind):
    spec, expected = SPECS[kind]
    exposed = FlowmachineQuerySchema().load(spec)
    assert exposed.query_kind == kind
    assert exposed.aggregation_unit == "admin2"
    q = exposed._flowmachine_query_obj
    if expected is not None:
        assert q.query_id == expected.query_id
    if kind != "dummy_query":
        assert q.redact
    dumped = FlowmachineQuerySchema().dump(exposed)
    assert dumped["query_kind"] == kind and dumped["aggregation_unit"] == "admin2"


@pytest.mark.parametrize(
    "spec,field",
    [
        (
            ACTIVE | {"reference_locations": REF | {"aggregation_unit": "admin1"}},
            "reference_locations",
        ),
        (ACTIVE | {"aggregation_unit": "admin2"}, "aggregation_unit"),
        (ACTIVE | {"unique_locations": REF}, "unique_locations"),
        (
            {
                "query_kind": "unique_visitor_counts",
                "active_at_reference_location_counts": ACTIVE,
                "unique_subscriber_counts": {
                    "query_kind": "unique_subscriber_counts",
                    **WINDOW,
                    "aggregation_unit": "admin3",
                },
            },
            "unique_subscriber_counts",
        ),
        ({"query_kind": "unmoving_counts", "locations": REF}, "locations"),
        ({"query_kind": "location_introversion", **WINDOW, "direction": "up"}, "direction"),
        ({"query_kind": "trips_od_matrix", **WINDOW, "sampling": None}, "sampling"),
        ({"query_kind": "dummy_query", "aggregation_unit": "admin2"}, "dummy_param"),
        (
            {
                "query_kind": "dummy_query",
                "aggregation_unit": "admin2",
                "dummy_param": "p",
                "dummy_delay": -1,
            },
            "dummy_delay",
        ),
    ],
)
def test_bad_visit_specs_name_the_bad_field(spec, field):
    with pytest.raises(ValidationError) as info:
        FlowmachineQuerySchema().load(spec)
    assert field in info.value.messages, info.value.messages


# redaction property ---------------------------------------------------------------------------------------

DAYS = pd.date_range("2016-03-01", "2016-03-05").strftime("%Y-%m-%d").tolist()
UNITS = ["admin0", "admin1", "admin2", "admin3", "lon-lat", "versioned-site", "cell"]


def _window(rng):
    i = int(rng.integers(0, len(DAYS)))
    j = int(rng.integers(i + 1, min(i + 2, len(DAYS)) + 1))
    return DAYS[i], str((pd.Timestamp(DAYS[j - 1]) + pd.Timedelta(days=1)).date())


@pytest.mark.parametrize("seed", range(16))
def test_no_visit_row_rests_on_fifteen_or_fewer(ctx, fixture_db, seed):
    """Random specs of every visits kind: each published row rests on more than 15 subscribers, and every
    row resting on more than 15 is published (redaction is not vacuous)."""
    rng = np.random.default_rng(1000 + seed)
    unit = UNITS[int(rng.integers(0, len(UNITS)))]
    su, L = make_spatial_unit(unit), ref.UNIT_COLUMNS[unit]
    a, b = _window(rng), _window(rng)
    hours = None
    if rng.random() < 0.3:
        s, e = (int(x) for x in rng.choice(24, size=2, replace=False))
        hours = (s, e)
    f = {} if hours is None else {"hours": hours}
    kind = seed % 6
    ul_df = ref.unique_locations(fixture_db, unit, *a, **f)
    rl_df = ref.last_location(fixture_db, unit, *b, **f)
    ul, rl = UniqueLocations(*a, su, hours=hours), LastLocation(*b, su, hours=hours)
    if kind == 0:
        q = ActiveAtReferenceLocationCounts(ul, rl)
        support = rv.active_at_reference_location_counts(ul_df, rl_df, L, False)
    elif kind == 1:
        q = UnmovingCounts(ul)
        support = rv.unmoving_counts(ul_df, L, False)
    elif kind == 2:
        q = UnmovingAtReferenceLocationCounts(ul, rl)
        support = rv.unmoving_at_reference_location_counts(ul_df, rl_df, L, False)
    elif kind == 3:
        q = TripsODMatrix(*a, su, hours=hours)
        support = rv.trips_od_matrix(ref.located(fixture_db, unit, *a, **f), L, False)
    elif kind == 4:
        q = ConsecutiveTripsODMatrix(*a, su, hours=hours)
        support = rv.consecutive_trips_od_matrix(ref.located(fixture_db, unit, *a, **f), L, False)
    else:
        q = UniqueVisitorCounts(
            ActiveAtReferenceLocationCounts(ul, rl), UniqueSubscriberCounts(*b, su, hours=hours)
        )
        parts = rv.unique_visitor_parts(ref.located(fixture_db, unit, *b, **f), ul_df, rl_df, L)
        small = (parts.seen_residents <= 15) | parts.unseen_residents.between(1, 15)
        support = parts.assign(value=parts.visitors.where(~small, 0))[[*L, "value"]]
    df = result(ctx, q)
    keys = list(df.columns[:-1])
    expected = support[support.value > 15]
    same(df, expected[[*keys, "value"]])


# through the server ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_server_runs_each_visit_kind(ctx, zmq_client, kind):
    spec, _ = SPECS[kind]
    if kind == "dummy_query":
        spec = spec | {"dummy_delay": 1}
    reply = zmq_client.request("run_query", **spec)
    assert reply["status"] == "success", reply
    query_id = reply["payload"]["query_id"]
    assert zmq_client.wait_for(query_id)["payload"]["query_state"] == "completed"
    assert zmq_client.request("get_aggregation_unit", **spec)["payload"] == {
        "aggregation_unit": "admin2"
    }
    sql_text = zmq_client.request("get_sql_for_query_result", query_id=query_id)["payload"]["sql"]
    with ctx.pool.connection() as conn:
        rows = conn.execute(sql_text).fetchall()
    if kind == "dummy_query":
        assert rows == [()]
