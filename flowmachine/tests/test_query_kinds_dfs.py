"""dfs_metric_total_amount against pandas, on mobile-money rows written into the fixture FlowDB for this module."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from flowmachine.core.cache import compute
from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.server.query_schemas.flowmachine_query import FlowmachineQuerySchema
from flowmachine.core.spatial_unit import make_spatial_unit
from flowmachine.features.dfs.total_amount_for_metric import DFSTotalMetricAmount

DAYS = [dt.date(2016, 1, 1), dt.date(2016, 1, 2), dt.date(2016, 1, 3)]


@pytest.fixture(scope="module")
def dfs_rows(flowdb_cluster, fixture_db):
    """~600 transactions over three days between 60 subscribers at cells of four admin2 regions; the fourth
    sees only 3 subscribers (its rows must be redacted)."""
    rng = np.random.default_rng(7)
    with flowdb_cluster.connect() as conn:
        cells = conn.execute(
            """SELECT id, version FROM (
                   SELECT DISTINCT ON (a.admin2pcod) c.id, c.version, a.admin2pcod
                   FROM infrastructure.cells c JOIN geography.admin2 a ON ST_Within(c.geom_point, a.geom)
                   WHERE c.date_of_first_service IS NULL AND c.date_of_last_service IS NULL
                     AND NOT EXISTS (SELECT 1 FROM infrastructure.cells o
                                     WHERE o.id = c.id AND o.version <> c.version)
                   ORDER BY a.admin2pcod, c.id) one_per_region
               ORDER BY admin2pcod LIMIT 4"""
        ).fetchall()
        assert len(cells) == 4
        conn.execute("TRUNCATE dfs.transactions_metadata, dfs.transactions, dfs.subscribers, "
                     "dfs.transaction_types RESTART IDENTITY")  # fmt: skip
        conn.execute("INSERT INTO dfs.transaction_types (descr, user_type_a_party, user_type_b_party) "
                     "VALUES ('p2p', 'customer', 'customer')")  # fmt: skip
        conn.execute(
            "INSERT INTO dfs.subscribers (msisdn) SELECT 'dfs' || g FROM generate_series(1, 60) g"
        )
        rows, parties = [], []
        for k in range(1, 601):
            day = DAYS[k % 3]
            when = dt.datetime.combine(day, dt.time()) + dt.timedelta(
                seconds=int(rng.integers(86400))
            )
            values = rng.integers(0, 10_000, 4) / 100
            rows.append((k, *values, 1, when.replace(tzinfo=dt.UTC)))
            a, b = rng.choice(57, 2, replace=False) + 1
            # the last cell only ever sees subscribers 58..60
            for outgoing, sub in ((True, a), (False, b)):
                cell = cells[int(rng.integers(3))]
                if k % 50 == 0 and not outgoing:
                    sub, cell = 58 + k % 3, cells[3]
                parties.append((k, int(sub), cell[0], cell[1], outgoing))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO dfs.transactions (id, amount, discount, fee, commission, transtype_id, "
                "timestamp) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                rows,
            )
            cur.executemany(
                "INSERT INTO dfs.transactions_metadata (transaction_id, subscriber_id, cell_id, "
                "cell_version, is_outgoing) VALUES (%s, %s, %s, %s, %s)",
                parties,
            )
        pcods = dict(
            conn.execute(
                """SELECT c.id, a.admin2pcod FROM infrastructure.cells c
                   JOIN geography.admin2 a ON ST_Within(c.geom_point, a.geom)
                   WHERE c.id = ANY(%s)""",
                ([c[0] for c in cells],),
            ).fetchall()
        )
    tx = pd.DataFrame(
        rows, columns=["id", "amount", "discount", "fee", "commission", "type", "timestamp"]
    )
    md = pd.DataFrame(parties, columns=["id", "subscriber", "cell", "version", "outgoing"])
    yield tx.merge(md, on="id").assign(pcod=lambda d: d.cell.map(pcods))
    with flowdb_cluster.connect() as conn:
        conn.execute("TRUNCATE dfs.transactions_metadata, dfs.transactions, dfs.subscribers, "
                     "dfs.transaction_types RESTART IDENTITY")  # fmt: skip


def expected(df: pd.DataFrame, metric: str, first: dt.date, last: dt.date) -> pd.DataFrame:
    df = df.assign(date=df.timestamp.dt.date)
    df = df[(df.date >= first) & (df.date <= last)]
    grouped = df.groupby(["date", "pcod"]).agg(
        value=(metric, "sum"), subscribers=("subscriber", "nunique")
    )
    kept = grouped[grouped.subscribers > 15].reset_index()
    return kept[["date", "pcod", "value"]].sort_values(["date", "pcod"]).reset_index(drop=True)


@pytest.mark.parametrize("metric", ["amount", "commission", "fee", "discount"])
def test_totals_per_day_and_admin2_with_the_end_day_included(ctx, dfs_rows, metric):
    q = DFSTotalMetricAmount(
        metric=metric,
        start_date="2016-01-01",
        end_date="2016-01-02",
        spatial_unit=make_spatial_unit("admin2"),
    )
    compute(ctx, q)
    got = q.get_dataframe(ctx).sort_values(["date", "pcod"]).reset_index(drop=True)
    want = expected(dfs_rows, metric, DAYS[0], DAYS[1])
    assert set(got.date) == {DAYS[0], DAYS[1]}  # the end day is in
    assert list(got.columns) == ["date", "pcod", "value"]
    assert got[["date", "pcod"]].equals(want[["date", "pcod"]])
    np.testing.assert_allclose(got.value.astype(float), want.value.astype(float), rtol=1e-9)


def test_a_location_seen_by_few_subscribers_is_redacted(ctx, dfs_rows):
    q = DFSTotalMetricAmount(
        metric="amount", start_date="2016-01-01", end_date="2016-01-03",
        spatial_unit=make_spatial_unit("admin2"),
    )  # fmt: skip
    unredacted = DFSTotalMetricAmount(
        metric="amount", start_date="2016-01-01", end_date="2016-01-03",
        spatial_unit=make_spatial_unit("admin2"), redact=False,
    )  # fmt: skip
    few = dfs_rows.groupby(["pcod"]).subscriber.nunique()
    assert (few <= 15).any(), "the fixture must hold a sparsely used location"
    compute(ctx, q)
    compute(ctx, unredacted)
    assert len(q.get_dataframe(ctx)) < len(unredacted.get_dataframe(ctx))
    assert set(q.get_dataframe(ctx).pcod) == set(few[few > 15].index)


def test_lon_lat_works(ctx, dfs_rows):
    q = DFSTotalMetricAmount(
        metric="fee", start_date="2016-01-01", end_date="2016-01-03",
        spatial_unit=make_spatial_unit("lon-lat"),
    )  # fmt: skip
    compute(ctx, q)
    got = q.get_dataframe(ctx)
    assert list(got.columns) == ["date", "lon", "lat", "value"] and len(got) > 0


def test_through_the_schema_and_bad_input():
    exposed = FlowmachineQuerySchema().load(
        {
            "query_kind": "dfs_metric_total_amount",
            "metric": "fee",
            "start_date": "2016-01-01",
            "end_date": "2016-01-02",
            "aggregation_unit": "admin1",
        }
    )
    assert isinstance(exposed._flowmachine_query_obj, DFSTotalMetricAmount)
    with pytest.raises(InvalidSpecError):
        DFSTotalMetricAmount(
            metric="tax", start_date="2016-01-01", end_date="2016-01-02",
            spatial_unit=make_spatial_unit("admin1"),
        )  # fmt: skip
    with pytest.raises(InvalidSpecError):
        DFSTotalMetricAmount(
            metric="fee", start_date="2016-01-03", end_date="2016-01-01",
            spatial_unit=make_spatial_unit("admin1"),
        )  # fmt: skip
