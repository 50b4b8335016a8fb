"""Custom geography units (issue 22): polygon layers, FlowKit's mapping_table / geom_table /
geom_table_join_column (its bugs 13 and 17 fixed), only tables of allowed schemas, through the server.

Expected values come from custom_geography_fixture (shapely and dicts) and reference (pandas)."""

from __future__ import annotations

import json

import pandas as pd
import psycopg
import pytest
import reference as ref
from custom_geography_fixture import (
    CUSTOM_UNITS,
    LAYER,
    STRIPS,
    TOWERS,
    api_fields,
    custom_mapping,
    unit_for,
)

from flowmachine.core.custom_geography import with_layer_units

WINDOW = ("2016-03-01", "2016-03-04")


def usc_spec(**unit_fields) -> dict:
    return {
        "query_kind": "unique_subscriber_counts",
        "start_date": WINDOW[0],
        "end_date": WINDOW[1],
        **unit_fields,
    }


def run_to_completion(client, spec) -> str:
    reply = client.request("run_query", **spec)
    assert reply["status"] == "success", reply
    query_id = reply["payload"]["query_id"]
    assert client.wait_for(query_id)["payload"]["query_state"] == "completed"
    return query_id


def as_role(cluster, role: str, sql_text: str) -> list[tuple]:
    with psycopg.connect(cluster.settings.url(role), autocommit=True) as conn:
        return conn.execute(sql_text).fetchall()


def _norm(value) -> str:
    if value is None or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return "-"
    if isinstance(value, pd.Timestamp):
        return str(value.date())
    if isinstance(value, float):
        return repr(value)
    return str(value)


@pytest.mark.parametrize("name", list(CUSTOM_UNITS))
def test_custom_geography_unit_maps_cells_as_the_reference(
    ctx, fixture_db, custom_geography_db, name
):
    unit = unit_for(name)
    got = unit.get_dataframe(ctx)
    columns = [
        "location_id",
        "date_of_first_service",
        "date_of_last_service",
        *ref.UNIT_COLUMNS[name],
    ]
    assert list(got.columns) == columns
    want = custom_mapping(fixture_db.cells, name)
    assert sorted(tuple(_norm(v) for v in row) for row in got.itertuples(index=False)) == sorted(
        tuple(_norm(v) for v in row) for row in want.itertuples(index=False)
    )


@pytest.mark.parametrize("name", list(CUSTOM_UNITS))
def test_custom_geography_unique_subscriber_counts_through_the_server(
    ctx, zmq_client, fixture_db, custom_geography_db, name
):
    spec = usc_spec(**api_fields(name))
    reply = zmq_client.request("get_aggregation_unit", **spec)
    assert reply["payload"]["aggregation_unit"] == api_fields(name)["aggregation_unit"]
    query_id = run_to_completion(zmq_client, spec)
    result_sql = zmq_client.request("get_sql_for_query_result", query_id=query_id)["payload"]["sql"]
    with ctx.pool.connection() as conn:
        cur = conn.execute(result_sql)
        got = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])
    L = ref.UNIT_COLUMNS[name]
    counts = ref.located(fixture_db, name, *WINDOW).groupby(L).subscriber.nunique()
    want = {(k if isinstance(k, tuple) else (k,)): n for k, n in counts.items() if n > 15}
    assert want, "the fixture should publish some rows for every unit"
    assert {
        tuple(float(r[c]) if c in ("lon", "lat") else r[c] for c in L): r["value"]
        for _, r in got.iterrows()
    } == want


def test_custom_geography_mapping_changes_the_query_id(zmq_client, custom_geography_db):
    plain = zmq_client.request("run_query", **usc_spec(aggregation_unit="admin2"))
    mapped = zmq_client.request("run_query", **usc_spec(**api_fields("admin2+mapping")))
    assert plain["payload"]["query_id"] != mapped["payload"]["query_id"]


def refusal(zmq_client, **unit_fields) -> dict:
    reply = zmq_client.request("run_query", **usc_spec(**unit_fields))
    assert reply["status"] == "error", reply
    return reply["payload"]["validation_error_messages"]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        # only tables of the allowed schemas, named schema.table
        ({"mapping_table": "infrastructure.cells"}, "mapping_table", "one of the schemas"),
        ({"mapping_table": "events.calls"}, "mapping_table", "one of the schemas"),
        ({"mapping_table": "pg_catalog.pg_authid"}, "mapping_table", "one of the schemas"),
        ({"mapping_table": "fx_cell_admin2"}, "mapping_table", "schema.table"),
        (
            {"mapping_table": "custom_geography.fx_cell_admin2; DROP TABLE geography.admin2"},
            "mapping_table",
            "schema.table",
        ),
        ({"mapping_table": 'custom_geography."fx_cell_admin2"'}, "mapping_table", "schema.table"),
        ({"mapping_table": "custom_geography.fx_cell_admin2\n"}, "mapping_table", "schema.table"),
        ({"mapping_table": "custom_geography.nope"}, "mapping_table", "there is no table"),
        # a table that exists but lacks the columns
        ({"mapping_table": "custom_geography.fx_cell_tower"}, "mapping_table", "admin2pcod"),
        # admin units take no geom_table (FlowKit silently ignores it)
        (
            {"geom_table": "geography.fx_towers", "geom_table_join_column": "tower_id"},
            "geom_table",
            "lon-lat only",
        ),
    ],
)
def test_custom_geography_admin_refusals(zmq_client, custom_geography_db, fields, field, message):
    messages = refusal(zmq_client, aggregation_unit="admin2", **fields)
    assert message in json.dumps(messages[field]), messages


def test_custom_geography_lon_lat_mapping_without_geom_table_is_refused(
    zmq_client, custom_geography_db
):
    """FlowKit bug 17: the mapping table was ignored in the SQL but changed the query id."""
    messages = refusal(
        zmq_client, aggregation_unit="lon-lat", mapping_table="custom_geography.fx_cell_tower"
    )
    assert "needs a geom_table" in json.dumps(messages["mapping_table"])


def test_custom_geography_lon_lat_geom_table_without_mapping_works(
    ctx, zmq_client, custom_geography_db
):
    """FlowKit bug 13: a geom_table without a mapping_table failed when the SQL was built."""
    fields = api_fields("lon-lat+geom")
    assert "mapping_table" not in fields
    run_to_completion(zmq_client, usc_spec(**fields))
    messages = refusal(zmq_client, aggregation_unit="lon-lat", geom_table="geography.fx_towers")
    assert "geom_table_join_column" in json.dumps(messages["geom_table"])
    messages = refusal(
        zmq_client,
        aggregation_unit="lon-lat",
        geom_table="geography.fx_towers",
        geom_table_join_column="nope",
    )
    assert "no column nope" in json.dumps(messages["geom_table"])


def test_custom_geography_one_place_per_cell(flowdb_cluster, zmq_client, custom_geography_db):
    """A mapping that puts a cell in two regions is refused: FlowKit would count its subscribers in both, and
    two overlapping regions differing by one cell could be differenced down to that cell's subscribers."""
    with flowdb_cluster.connect() as conn:
        conn.autocommit = True
        conn.execute(
            "CREATE TABLE custom_geography.fx_two_places AS SELECT * FROM custom_geography.fx_cell_admin2"
        )
        conn.execute("INSERT INTO custom_geography.fx_two_places VALUES ('C04', 'Z.2.4')")
        try:
            messages = refusal(
                zmq_client,
                aggregation_unit="admin2",
                mapping_table="custom_geography.fx_two_places",
            )
            assert "more than one admin2pcod for id 'C04'" in json.dumps(messages["mapping_table"])
        finally:
            conn.execute("DROP TABLE custom_geography.fx_two_places")


def test_custom_geography_polygon_unit_refusals(zmq_client, custom_geography_db):
    messages = refusal(zmq_client, aggregation_unit="polygon-not_loaded")
    assert "no polygon layer 'not_loaded'" in json.dumps(messages)
    messages = refusal(zmq_client, aggregation_unit="polygon-Bad;name")
    assert "aggregation_unit" in messages
    messages = refusal(zmq_client, aggregation_unit=f"polygon-{LAYER}\n")
    assert "aggregation_unit" in messages
    messages = refusal(
        zmq_client,
        aggregation_unit=f"polygon-{LAYER}",
        mapping_table="custom_geography.fx_cell_admin2",
    )
    assert "do not apply to polygon layers" in json.dumps(messages)


def test_custom_geography_layers_are_units_in_the_schemas(zmq_client, custom_geography_db):
    schemas = zmq_client.request("get_query_schemas")["payload"]["query_schemas"]
    enums = [
        s["properties"]["aggregation_unit"]["enum"]
        for s in schemas.values()
        if "enum" in s.get("properties", {}).get("aggregation_unit", {})
    ]
    assert enums and all(e[-1] == f"polygon-{LAYER}" for e in enums if "admin0" in e)
    # nothing loaded, nothing added
    assert with_layer_units(
        {"X": {"properties": {"aggregation_unit": {"enum": ["admin0"]}}}}, []
    ) == {"X": {"properties": {"aggregation_unit": {"enum": ["admin0"]}}}}


def test_custom_geography_layer_geography_as_flowapi_reads_it(
    flowdb_cluster, zmq_client, custom_geography_db
):
    reply = zmq_client.request("get_geography", aggregation_unit=f"polygon-{LAYER}")
    assert reply["status"] == "success", reply
    rows = as_role(flowdb_cluster, flowdb_cluster.settings.flowapi_user, reply["payload"]["sql"])
    features = {r[1]: (r[2], r[3]) for r in rows}
    assert set(features) == set(STRIPS)
    from shapely.geometry import shape

    for pcod, (geometry, properties) in features.items():
        assert shape(geometry).equals(STRIPS[pcod])
        assert properties["name"] == f"Strip {pcod}" and properties["pcod"] == pcod
    missing = zmq_client.request("get_geography", aggregation_unit="polygon-not_loaded")
    assert missing["status"] == "error" and "no polygon layer" in missing["msg"]


def test_custom_geography_result_geojson_uses_the_geom_table(
    flowdb_cluster, zmq_client, custom_geography_db
):
    spec = {
        "query_kind": "spatial_aggregate",
        "locations": {
            "query_kind": "daily_location",
            "date": "2016-03-02",
            "method": "last",
            **api_fields("lon-lat+mapping"),
        },
    }
    query_id = run_to_completion(zmq_client, spec)
    reply = zmq_client.request("get_geo_sql_for_query_result", query_id=query_id)
    assert reply["status"] == "success", reply
    rows = as_role(flowdb_cluster, flowdb_cluster.settings.flowapi_user, reply["payload"]["sql"])
    assert rows, "some tower holds more than 15 subscribers"
    towers = {v for v in TOWERS.values()}
    for _, _, geometry, properties in rows:
        assert tuple(geometry["coordinates"]) in towers
        assert (properties["lon"], properties["lat"]) == tuple(geometry["coordinates"])


# grids: `flowdb make-grid` -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def grid_100km(flowdb_cluster, fixture_db):
    from flowdb.grid_layer import make_grid

    with flowdb_cluster.connect() as conn:
        conn.autocommit = True
        layer, n = make_grid(conn, 100)
        try:
            yield layer, n, conn
        finally:
            conn.execute(f"DROP TABLE custom_geography.{layer}")
            conn.execute("DELETE FROM custom_geography.layers WHERE name = %s", (layer,))


def test_custom_geography_grid_squares_are_100km(grid_100km):
    """Checked with pyproj/shapely in the same equal-area projection, centred on the fixture country."""
    from pyproj import Transformer
    from shapely import transform as shapely_transform
    from shapely import wkb
    from shapely.geometry import box
    from shapely.ops import unary_union

    layer, n, conn = grid_100km
    assert layer == "grid_100km"
    rows = conn.execute(
        f"SELECT pcod, ST_AsBinary(geom) FROM custom_geography.{layer} ORDER BY gid"
    ).fetchall()
    assert len(rows) == n
    to_laea = Transformer.from_crs(
        "EPSG:4326", "+proj=laea +lat_0=12 +lon_0=12 +datum=WGS84 +units=m", always_xy=True
    ).transform

    def transform(func, geom):
        return shapely_transform(geom, func, interleaved=False)

    squares = {pcod: transform(to_laea, wkb.loads(bytes(g))) for pcod, g in rows}
    for pcod, square in squares.items():
        assert pcod.startswith("100_")
        assert square.area == pytest.approx(1e10, rel=1e-6)
        minx, miny, maxx, maxy = square.bounds
        assert maxx - minx == pytest.approx(1e5, rel=1e-6)
        assert maxy - miny == pytest.approx(1e5, rel=1e-6)
    country = transform(to_laea, box(10, 10, 14, 14))
    cover = unary_union(list(squares.values()))
    assert cover.contains(country.buffer(-1))  # the grid covers the country ...
    assert cover.area == pytest.approx(
        sum(s.area for s in squares.values()), rel=1e-9
    )  # ... without overlap
    # and every square touches the country's interior
    assert all(s.intersection(country).area > 0 for s in squares.values())


def test_custom_geography_grid_counts_through_the_server(ctx, zmq_client, fixture_db, grid_100km):
    from shapely import wkb
    from shapely.geometry import Point

    layer, _, conn = grid_100km
    squares = {
        pcod: wkb.loads(bytes(g))
        for pcod, g in conn.execute(f"SELECT pcod, ST_AsBinary(geom) FROM custom_geography.{layer}")
    }
    cells = fixture_db.cells.rename(columns={"id": "location_id"})
    pcods = []
    for x, y in zip(cells.lon, cells.lat, strict=True):
        inside = sorted(p for p, s in squares.items() if s.covers(Point(x, y)))
        pcods.append(inside[0] if inside else None)
    mapping = cells.assign(pcod=pcods).dropna(subset=["pcod"])
    located = ref.events(fixture_db, *WINDOW).merge(mapping, on="location_id")
    day = located.datetime.dt.date
    ok = located["first"].isna() | (
        located["first"].map(lambda d: d or pd.Timestamp.min.date()) <= day
    )
    ok &= located["last"].isna() | (
        located["last"].map(lambda d: d or pd.Timestamp.max.date()) >= day
    )
    counts = located[ok].groupby("pcod").subscriber.nunique()
    want = {k: v for k, v in counts.items() if v > 15}
    assert want

    query_id = run_to_completion(zmq_client, usc_spec(aggregation_unit=f"polygon-{layer}"))
    result_sql = zmq_client.request("get_sql_for_query_result", query_id=query_id)["payload"]["sql"]
    with ctx.pool.connection() as c:
        got = dict(c.execute(result_sql).fetchall())
    assert got == want


def test_custom_geography_geography_kind_of_a_layer(ctx, zmq_client, custom_geography_db):
    query_id = run_to_completion(
        zmq_client, {"query_kind": "geography", "aggregation_unit": f"polygon-{LAYER}"}
    )
    result_sql = zmq_client.request("get_sql_for_query_result", query_id=query_id)["payload"]["sql"]
    with ctx.pool.connection() as conn:
        cur = conn.execute(result_sql)
        names = [d.name for d in cur.description]
        rows = cur.fetchall()
    assert names[0] == "pcod" and "geom" in names
    assert sorted(r[0] for r in rows) == sorted(STRIPS)
