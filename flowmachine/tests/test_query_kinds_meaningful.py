"""Meaningful locations (clustering, scores, labels, the three meaningful_* kinds) against independent
pure-Python / pandas computations on random points and on the fixture FlowDB (see fixture_data)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import psycopg
import pytest
import reference as ref
from marshmallow import ValidationError
from psycopg import sql

from flowmachine.core.cache import compute
from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.flowmachine_query import FlowmachineQuerySchema
from flowmachine.core.spatial_unit import VersionedSiteSpatialUnit, make_spatial_unit
from flowmachine.features.location.meaningful_locations import (
    MeaningfulLocationsAggregate,
    MeaningfulLocationsOD,
)
from flowmachine.features.subscriber.meaningful_locations import (
    CallDays,
    EventScore,
    HartiganCluster,
    LabelEventScore,
    LabelledClusters,
    MeaningfulLocations,
    SiteScores,
)
from flowmachine.features.utilities.label_shapes import check_labels
from flowmachine.features.utilities.subscriber_locations import SubscriberLocations

GEN = ("2016-03-01", "2016-03-06")
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
R_KM = 6371.0088


def result(ctx, q: Query) -> pd.DataFrame:
    compute(ctx, q)
    return q.get_dataframe(ctx)


# Hartigan clustering against a pure-Python leader clustering ------------------------------------------------


class Points(Query):
    """Fixed `subscriber, site_id, version, lon, lat, value` rows (every value a literal)."""

    def __init__(self, rows: list[tuple]) -> None:
        self.rows = [list(r) for r in rows]
        super().__init__()

    @property
    def column_names(self) -> list[str]:
        return ["subscriber", "site_id", "version", "lon", "lat", "value"]

    def _make_query(self, ctx) -> sql.Composable:
        values = sql.SQL(", ").join(
            sql.SQL("({})").format(sql.SQL(", ").join(sql.Literal(v) for v in r)) for r in self.rows
        )
        return sql.SQL(
            "SELECT subscriber, site_id, version::int AS version, lon::float8 AS lon, "
            "lat::float8 AS lat, value::int AS value "
            "FROM (VALUES {}) v(subscriber, site_id, version, lon, lat, value)"
        ).format(values)


def _km(lon1, lat1, lon2, lat2) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * R_KM * math.asin(min(1.0, math.sqrt(h)))


def leader_clusters(rows: list[tuple], radius: float, threshold: int) -> pd.DataFrame:
    """The reference: per subscriber, sites by call days descending (then site id, version), each joining
    the first cluster whose centroid is < radius km away, else a new cluster; light clusters dropped."""
    out = []
    by_sub: dict[str, list[tuple]] = {}
    for r in rows:
        by_sub.setdefault(r[0], []).append(r)
    for sub, sites in by_sub.items():
        clusters: list[dict] = []
        for _, site, version, lon, lat, w in sorted(sites, key=lambda r: (-r[5], r[1], r[2])):
            for c in clusters:
                if _km(c["lon"], c["lat"], lon, lat) < radius:
                    total = c["w"] + w
                    c["lon"] = (c["lon"] * c["w"] + lon * w) / total
                    c["lat"] = (c["lat"] * c["w"] + lat * w) / total
                    c["w"] = total
                    c["sites"].append(site)
                    c["versions"].append(version)
                    break
            else:
                clusters.append(
                    {"lon": lon, "lat": lat, "w": w, "sites": [site], "versions": [version]}
                )
        for rank, c in enumerate(clusters, 1):
            if c["w"] >= threshold:
                out.append(
                    (sub, rank, float(c["w"]), c["lon"], c["lat"], c["sites"], c["versions"])
                )
    return pd.DataFrame(
        out, columns=["subscriber", "rank", "calldays", "lon", "lat", "site_id", "version"]
    )


def random_points(seed: int) -> list[tuple]:
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(25):
        n = int(rng.integers(1, 14))
        sites = rng.choice(60, size=n, replace=False)
        for site in sites:
            rows.append(
                (
                    f"u{s:02d}",
                    f"s{site:02d}",
                    int(rng.integers(0, 2)),
                    float(10 + rng.random() * 0.15),
                    float(10 + rng.random() * 0.15),
                    int(rng.integers(1, 5)),  # few distinct weights: many ties
                )
            )
    return rows


def _compare_clusters(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    key = ["subscriber", "rank"]
    a = actual.sort_values(key).reset_index(drop=True)
    e = expected.sort_values(key).reset_index(drop=True)
    assert len(a) == len(e)
    assert list(a.subscriber) == list(e.subscriber)
    assert list(a["rank"]) == list(e["rank"])
    np.testing.assert_allclose(a.calldays.astype(float), e.calldays, rtol=1e-12)
    np.testing.assert_allclose(a.lon.astype(float), e.lon, rtol=1e-12)
    np.testing.assert_allclose(a.lat.astype(float), e.lat, rtol=1e-12)
    assert [list(x) for x in a.site_id] == list(e.site_id)
    assert [list(x) for x in a.version] == list(e.version)


@pytest.mark.parametrize(
    "seed, radius, threshold", [(1, 3.0, 0), (2, 5.0, 0), (3, 5.0, 4), (4, 0.5, 2), (5, 50.0, 0)]
)
def test_hartigan_matches_leader_clustering(ctx, seed, radius, threshold):
    rows = random_points(seed)
    q = HartiganCluster(Points(rows), radius, threshold)
    actual = q.get_dataframe(ctx)
    expected = leader_clusters(rows, radius, threshold)
    assert len(expected) > 0
    _compare_clusters(actual, expected)


def test_hartigan_tie_break_and_threshold(ctx):
    # equal call days: the smaller site id leads; the 2-day site far away makes a dropped cluster
    rows = [
        ("a", "s2", 0, 10.0, 10.0, 3),
        ("a", "s1", 0, 10.01, 10.0, 3),
        ("a", "s3", 0, 10.02, 10.0, 1),
        ("a", "s4", 0, 12.0, 12.0, 2),
        ("a", "s1", 1, 10.0, 10.01, 3),  # same site, later version: after s1 v0
    ]
    df = HartiganCluster(Points(rows), 3.0, 3).get_dataframe(ctx).sort_values("rank")
    assert list(df["rank"]) == [1]
    first = df.iloc[0]
    assert list(first.site_id) == ["s1", "s1", "s2", "s3"]
    assert list(first.version) == [0, 1, 0, 0]
    assert first.calldays == 10
    assert first.lon == pytest.approx((10.01 * 3 + 10.0 * 3 + 10.0 * 3 + 10.02) / 10, rel=1e-12)
    _compare_clusters(
        HartiganCluster(Points(rows), 3.0, 0).get_dataframe(ctx),
        leader_clusters(rows, 3.0, 0),
    )


def test_hartigan_refuses_bad_radius():
    with pytest.raises(InvalidSpecError):
        HartiganCluster(Points([("a", "s", 0, 1.0, 1.0, 1)]), 0)


# labels -----------------------------------------------------------------------------------------------------


def rect(x0, y0, x1, y1) -> dict:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def test_labels_refused():
    with pytest.raises(InvalidSpecError, match="reserved"):
        check_labels({"unknown": rect(0, 0, 1, 1)})
    for b in [rect(0.5, 0.5, 2, 2), rect(1, 0, 2, 1), rect(0.2, 0.2, 0.4, 0.4), rect(-1, -1, 3, 3)]:
        with pytest.raises(InvalidSpecError, match="overlap"):
            check_labels({"a": rect(0, 0, 1, 1), "b": b})
    with pytest.raises(InvalidSpecError):
        check_labels({"a": {"type": "Point", "coordinates": [0, 0]}})
    # apart, or inside the other's hole: accepted
    holed = {
        "type": "Polygon",
        "coordinates": [rect(0, 0, 3, 3)["coordinates"][0], rect(1, 1, 2, 2)["coordinates"][0]],
    }
    check_labels({"a": holed, "b": rect(1.2, 1.2, 1.8, 1.8), "c": rect(4, 4, 5, 5)})


def polygon(*points) -> dict:
    return {"type": "Polygon", "coordinates": [[list(p) for p in points]]}


@pytest.mark.parametrize(
    "shape, message",
    [
        (polygon((0, 0), (1, 1)), "three distinct points"),
        (polygon((0, 0), (1, 1), (1, 1), (0, 0)), "three distinct points"),
        (polygon((0, 0), (1, 1), (2, 2)), "area"),
        (polygon((0, 0), (3, 0), (0, 2), (2, 2)), "cross or touch itself"),  # crossing
        (polygon((0, 0), (2, 0), (2, 2), (1, 0), (0, 2)), "cross or touch itself"),  # touching
        (polygon((0, 0), (2, 0), (1, 0), (1, 1)), "cross or touch itself"),  # doubling back
        (polygon((0, 0), ("1", 0), (1, 1)), "numbers"),
        (polygon((0, 0), (1, float("inf")), (1, 1)), "numbers"),
        (polygon((0, 0), (1,), (1, 1)), "numbers"),
        (
            {
                "type": "Polygon",
                "coordinates": [rect(0, 0, 1, 1)["coordinates"][0], [[2, 2], [3, 2], [3, 3]]],
            },
            "hole",
        ),
        (
            {
                "type": "MultiPolygon",
                "coordinates": [rect(0, 0, 2, 2)["coordinates"], rect(1, 1, 3, 3)["coordinates"]],
            },
            "MultiPolygon",
        ),
    ],
)
def test_degenerate_labels_refused(shape, message):
    with pytest.raises(InvalidSpecError, match=message):
        check_labels({"a": shape})


# FlowKit's example labels (its worked examples and tests): rings whose last position is not the first.
FLOWKIT_LABELS = {
    "evening": polygon((1e-06, -0.5), (1e-06, -1.1), (1.1, -1.1), (1.1, -0.5)),
    "day": polygon((-1.1, -0.5), (-1.1, 0.5), (-1e-06, 0.5), (0, -0.5)),
}


def closed(labels: dict) -> dict:
    return {
        k: {"type": "Polygon", "coordinates": [[*g["coordinates"][0], g["coordinates"][0][0]]]}
        for k, g in labels.items()
    }


def opened(labels: dict) -> dict:
    return {
        k: {"type": "Polygon", "coordinates": [g["coordinates"][0][:-1]]} for k, g in labels.items()
    }


# the pipeline on the fixture against pandas -----------------------------------------------------------------

HOUR_SCORES = [-1.0] * 7 + [1.0] * 11 + [-0.5] * 6  # night/morning at home, day at work
DAY_SCORES = dict(zip(DAYS, [1.0, 1.0, 0.75, 1.0, 0.5, -1.0, -1.0], strict=True))
# Boundaries at values no mean of these scores hits exactly (float sums in another order would disagree on
# the side of a boundary; points exactly on one are tested separately); the gap between them is unknown.
LABELS = {
    "evening": rect(-1.1, -1.1, 0.0137, 1.1),
    "day": rect(0.2113, -1.1, 1.1, 1.1),
}
RADIUS = 120.0  # km: neighbouring fixture sites (one degree apart, ~110 km) cluster together


def _inside(x, y, r) -> bool:
    (x0, y0), _, (x1, y1), _, _ = r["coordinates"][0]
    return x0 < x < x1 and y0 < y < y1


_LABELLED: dict[tuple, pd.DataFrame] = {}


def reference_labelled(fx, start, stop, radius, threshold) -> pd.DataFrame:
    """subscriber, rank, lon, lat, label of every cluster (computed once per window and clustering)."""
    key = (start, stop, radius, threshold)
    if key in _LABELLED:
        return _LABELLED[key]
    loc = ref.located(fx, "versioned-site", start, stop)
    loc = loc.assign(day=loc.time.dt.date)
    cd = loc.groupby(["subscriber", "site_id", "version", "lon", "lat"]).day.nunique().reset_index()
    rows = [
        (r.subscriber, r.site_id, int(r.version), float(r.lon), float(r.lat), int(r.day))
        for r in cd.itertuples()
    ]
    clusters = leader_clusters(rows, radius, threshold)
    loc = loc.assign(
        sh=[HOUR_SCORES[t.hour] for t in loc.time],
        sd=[DAY_SCORES[DAYS[t.weekday()]] for t in loc.time],
    )
    site = loc.groupby(["subscriber", "site_id", "version"])[["sh", "sd"]].mean().reset_index()
    members = clusters[["subscriber", "rank", "site_id", "version"]].explode(["site_id", "version"])
    members = members.astype({"version": int}).merge(
        site, on=["subscriber", "site_id", "version"], how="left"
    )
    scores = members.groupby(["subscriber", "rank"]).agg(
        sh=("sh", "sum"), sd=("sd", "sum"), n=("site_id", "size")
    )
    scores = clusters.merge(scores.reset_index(), on=["subscriber", "rank"])
    scores["label"] = [
        next((k for k, r in LABELS.items() if _inside(x, y, r)), "unknown")
        for x, y in zip(scores.sh / scores.n, scores.sd / scores.n, strict=True)
    ]
    _LABELLED[key] = scores[["subscriber", "rank", "lon", "lat", "label"]]
    return _LABELLED[key]


def reference_meaningful(fx, start, stop, label, *, radius=RADIUS, threshold=0) -> pd.DataFrame:
    """subscriber, label, cluster, lon, lat, n_clusters."""
    labelled = reference_labelled(fx, start, stop, radius, threshold)
    df = labelled[labelled.label == label].rename(columns={"rank": "cluster"})
    df = df[["subscriber", "label", "cluster", "lon", "lat"]].reset_index(drop=True)
    df["n_clusters"] = df.groupby("subscriber").cluster.transform("size")
    return df


def strict_region(level: int, lon: float, lat: float) -> str | None:
    """The admin region strictly containing the point (None on a border or outside)."""
    wx, wy = {0: (4, 4), 1: (2, 4), 2: (2, 2), 3: (1, 1)}[level]
    if not (10 < lon < 14 and 10 < lat < 14):
        return None
    if ((lon - 10) / wx).is_integer() or ((lat - 10) / wy).is_integer():
        return None
    return ref._admin_pcod(level, lon, lat)


def redact_rows(frame: pd.DataFrame, keys: list[str], value: str, subs: str) -> pd.DataFrame:
    g = frame.groupby(keys, dropna=False).agg(value=(value, "sum"), n=(subs, "nunique"))
    return g[g.n > 15].drop(columns="n").reset_index()


def _same(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(actual.columns) == list(expected.columns)
    keys = list(actual.columns[:-1])
    a = actual.copy()
    e = expected.copy()
    for c in keys:
        a[c] = a[c].map(lambda v: None if v is None or v != v else str(v))
        e[c] = e[c].map(lambda v: None if v is None or v != v else str(v))
    a = a.sort_values(keys, na_position="first").reset_index(drop=True)
    e = e.sort_values(keys, na_position="first").reset_index(drop=True)
    assert a[keys].values.tolist() == e[keys].values.tolist()
    np.testing.assert_allclose(a.value.astype(float), e.value.astype(float), rtol=1e-9)


def ml(start, stop, label, **kw) -> MeaningfulLocations:
    return MeaningfulLocations(
        start=start,
        stop=stop,
        label=label,
        labels=LABELS,
        hour_scores=HOUR_SCORES,
        day_scores=DAY_SCORES,
        radius=kw.get("radius", RADIUS),
        call_threshold=kw.get("threshold", 0),
    )


def test_site_scores_in_one_pass_equal_call_days_and_event_scores(ctx, fixture_db):
    locations = SubscriberLocations(*GEN, VersionedSiteSpatialUnit())
    key = ["subscriber", "site_id", "version"]
    both = SiteScores(locations, HOUR_SCORES, DAY_SCORES).get_dataframe(ctx)
    both = both.sort_values(key).reset_index(drop=True)
    apart = (
        CallDays(locations)
        .get_dataframe(ctx)
        .merge(EventScore(locations, HOUR_SCORES, DAY_SCORES).get_dataframe(ctx), on=key)
        .sort_values(key)
        .reset_index(drop=True)
    )
    loc = ref.located(fixture_db, "versioned-site", *GEN)
    loc = loc.assign(
        day=loc.time.dt.date,
        sh=[HOUR_SCORES[t.hour] for t in loc.time],
        sd=[DAY_SCORES[DAYS[t.weekday()]] for t in loc.time],
    )
    expected = (
        loc.groupby(key)
        .agg(value=("day", "nunique"), score_hour=("sh", "mean"), score_dow=("sd", "mean"))
        .reset_index()
        .sort_values(key)
        .reset_index(drop=True)
    )
    assert len(expected) > 100
    for frame in (both, apart):
        assert frame[key].values.tolist() == expected[key].values.tolist()
        assert frame["value"].tolist() == expected["value"].tolist()
        for column in ("score_hour", "score_dow"):
            np.testing.assert_allclose(frame[column], expected[column], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("radius, threshold", [(RADIUS, 0), (1.0, 2), (500.0, 0)])
def test_labelled_clusters_in_one_pass_equal_clusters_joined_to_scores(
    ctx, fixture_db, radius, threshold
):
    sites = SiteScores(
        SubscriberLocations(*GEN, VersionedSiteSpatialUnit()), HOUR_SCORES, DAY_SCORES
    )
    key = ["subscriber", "rank"]
    fused = LabelledClusters(sites, radius, threshold, LABELS).get_dataframe(ctx)
    apart = LabelEventScore(HartiganCluster(sites, radius, threshold), sites, LABELS).get_dataframe(
        ctx
    )
    assert len(apart) > 50 and set(apart.label) - {"unknown"}
    fused = fused.sort_values(key).reset_index(drop=True)
    apart = apart.sort_values(key).reset_index(drop=True)
    assert fused[[*key, "label"]].values.tolist() == apart[[*key, "label"]].values.tolist()
    for column in ("lon", "lat", "score_hour", "score_dow"):
        np.testing.assert_allclose(fused[column], apart[column], rtol=1e-12, atol=1e-12)


def test_leader_clusters_refuses_points_without_weights(flowdb_cluster):
    with (
        flowdb_cluster.connect() as conn,
        pytest.raises(psycopg.errors.RaiseException, match="rows of"),
    ):
        conn.execute("SELECT * FROM public.leader_clusters('{1, 2, 3}'::float8[], 1.0)")


@pytest.mark.parametrize("label", ["day", "evening", "unknown"])
def test_meaningful_locations(ctx, fixture_db, label):
    actual = ml(*GEN, label).get_dataframe(ctx)
    expected = reference_meaningful(fixture_db, *GEN, label)
    assert len(expected) > 0
    key = ["subscriber", "cluster"]
    a = actual.sort_values(key).reset_index(drop=True)
    e = expected.sort_values(key).reset_index(drop=True)
    assert a[["subscriber", "label", "cluster", "n_clusters"]].values.tolist() == (
        e[["subscriber", "label", "cluster", "n_clusters"]].values.tolist()
    )
    np.testing.assert_allclose(a[["lon", "lat"]].astype(float), e[["lon", "lat"]], rtol=1e-12)


def test_point_on_label_boundary_is_unknown(ctx, fixture_db):
    zero = {d: 0.0 for d in DAYS}
    kw = dict(start=GEN[0], stop=GEN[1], hour_scores=[0.0] * 24, day_scores=zero, radius=RADIUS)
    on_edge = MeaningfulLocations(label="unknown", labels={"a": rect(0, 0, 1, 1)}, **kw)
    inside = MeaningfulLocations(label="a", labels={"a": rect(-1, -1, 1, 1)}, **kw)
    n = len(on_edge.get_dataframe(ctx))
    assert n > 0
    assert len(inside.get_dataframe(ctx)) == n


@pytest.mark.parametrize("level, threshold", [(1, 0), (3, 0), (2, 3)])
def test_meaningful_locations_aggregate(ctx, fixture_db, level, threshold):
    unit = make_spatial_unit(f"admin{level}")
    for label in ["day", "evening"]:
        q = MeaningfulLocationsAggregate(ml(*GEN, label, threshold=threshold), unit)
        e = reference_meaningful(fixture_db, *GEN, label, threshold=threshold)
        e["pcod"] = [strict_region(level, x, y) for x, y in zip(e.lon, e.lat, strict=True)]
        e["w"] = 1 / e.n_clusters
        expected = redact_rows(e, ["label", "pcod"], "w", "subscriber")
        actual = result(ctx, q)
        _same(actual, expected)
        unredacted = MeaningfulLocationsAggregate(
            ml(*GEN, label, threshold=threshold), unit, redact=False
        )
        assert len(unredacted.get_dataframe(ctx)) >= len(actual)
    assert len(actual) > 0


def _od(a: pd.DataFrame, b: pd.DataFrame, level: int) -> pd.DataFrame:
    for f in (a, b):
        f["pcod"] = [strict_region(level, x, y) for x, y in zip(f.lon, f.lat, strict=True)]
    j = a.merge(b, on="subscriber", suffixes=("_from", "_to"))
    j["w"] = 1 / (j.n_clusters_from * j.n_clusters_to)
    return redact_rows(j, ["label_from", "label_to", "pcod_from", "pcod_to"], "w", "subscriber")


def test_meaningful_locations_between_label_od(ctx, fixture_db):
    q = MeaningfulLocationsOD(ml(*GEN, "day"), ml(*GEN, "evening"), make_spatial_unit("admin1"))
    a = reference_meaningful(fixture_db, *GEN, "day")
    b = reference_meaningful(fixture_db, *GEN, "evening")
    expected = _od(a, b, 1)
    assert len(expected) > 0
    _same(result(ctx, q), expected)


def test_meaningful_locations_between_dates_od(ctx, fixture_db):
    pa, pb = ("2016-03-01", "2016-03-03"), ("2016-03-03", "2016-03-06")
    q = MeaningfulLocationsOD(ml(*pa, "day"), ml(*pb, "day"), make_spatial_unit("admin2"))
    expected = _od(
        reference_meaningful(fixture_db, *pa, "day"),
        reference_meaningful(fixture_db, *pb, "day"),
        2,
    )
    _same(result(ctx, q), expected)


def test_lon_lat_refused():
    with pytest.raises(InvalidSpecError, match="admin"):
        MeaningfulLocationsAggregate(ml(*GEN, "day"), make_spatial_unit("lon-lat"))


# the API ----------------------------------------------------------------------------------------------------


def _specs():
    from flowclient import aggregates as ag

    common = dict(
        labels=LABELS,
        tower_day_of_week_scores=DAY_SCORES,
        tower_hour_of_day_scores=HOUR_SCORES,
        aggregation_unit="admin1",
        tower_cluster_radius=RADIUS,
    )
    return {
        "aggregate": ag.meaningful_locations_aggregate_spec(
            start_date=GEN[0], end_date=GEN[1], label="day", **common
        ),
        "label_od": ag.meaningful_locations_between_label_od_matrix_spec(
            start_date=GEN[0], end_date=GEN[1], label_a="day", label_b="evening", **common
        ),
        "dates_od": ag.meaningful_locations_between_dates_od_matrix_spec(
            start_date_a="2016-03-01",
            end_date_a="2016-03-03",
            start_date_b="2016-03-03",
            end_date_b="2016-03-06",
            label="day",
            **common,
        ),
    }


@pytest.mark.parametrize("kind", ["aggregate", "label_od", "dates_od"])
def test_flowclient_specs_load(kind):
    spec = _specs()[kind]
    query = FlowmachineQuerySchema().load(spec)._flowmachine_query_obj
    assert isinstance(query, MeaningfulLocationsAggregate | MeaningfulLocationsOD)
    assert query.redact  # every meaningful_* kind is redacted, between dates included


def test_schema_load_matches_direct_query(ctx):
    spec = _specs()["aggregate"]
    exposed = FlowmachineQuerySchema().load(spec)
    direct = MeaningfulLocationsAggregate(ml(*GEN, "day"), make_spatial_unit("admin1"))
    assert exposed._flowmachine_query_obj.query_id == direct.query_id


@pytest.mark.parametrize(
    "change, field",
    [
        ({"aggregation_unit": "lon-lat"}, "aggregation_unit"),
        ({"labels": {**LABELS, "unknown": rect(5, 5, 6, 6)}}, "labels"),
        ({"labels": {**LABELS, "x": rect(0.5, 0.5, 0.6, 0.6)}}, "labels"),
        ({"labels": {"x": polygon((5, 5), (6, 6), (7, 7))}}, "labels"),
        ({"tower_day_of_week_scores": {"monday": 1.0}}, "tower_day_of_week_scores"),
        ({"tower_hour_of_day_scores": [0.0] * 23}, "tower_hour_of_day_scores"),
        ({"tower_hour_of_day_scores": [2.0] * 24}, "tower_hour_of_day_scores"),
        ({"tower_cluster_radius": 0}, "tower_cluster_radius"),
        ({"label": "nope"}, "label"),
    ],
)
def test_schema_refuses(change, field):
    spec = {**_specs()["aggregate"], **change}
    with pytest.raises(ValidationError) as err:
        FlowmachineQuerySchema().load(spec)
    assert field in str(err.value.messages)


@pytest.mark.parametrize("kind", ["aggregate", "label_od", "dates_od"])
def test_flowkit_example_labels_are_accepted_as_their_closed_rings(kind):
    def query_id(labels: dict) -> str:
        spec = {**_specs()[kind], "labels": labels}
        return FlowmachineQuerySchema().load(spec)._flowmachine_query_obj.query_id

    assert query_id(FLOWKIT_LABELS) == query_id(closed(FLOWKIT_LABELS))
    assert query_id(opened(LABELS)) == query_id(LABELS)


def test_open_rings_give_the_closed_rings_result(ctx, fixture_db):
    spec = {**_specs()["label_od"], "labels": opened(LABELS)}
    query = FlowmachineQuerySchema().load(spec)._flowmachine_query_obj
    expected = _od(
        reference_meaningful(fixture_db, *GEN, "day"),
        reference_meaningful(fixture_db, *GEN, "evening"),
        1,
    )
    _same(result(ctx, query), expected)


def test_schema_accepts_unknown_label():
    spec = {**_specs()["aggregate"], "label": "unknown"}
    query = FlowmachineQuerySchema().load(spec)._flowmachine_query_obj
    assert query.meaningful_locations.label == "unknown"
