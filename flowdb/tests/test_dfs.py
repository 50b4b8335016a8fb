"""Synthetic mobile-money data in the dfs schema: shape, value ranges, parties, determinism, and privileges."""

from __future__ import annotations

import datetime as dt
from functools import partial

import psycopg
import pytest

from flowdb.synthetic.config import SyntheticConfig
from flowdb.synthetic.dfs import TRANSACTION_TYPES, clear_dfs
from flowdb.synthetic.run import clear_events, generate


def config(**overrides) -> SyntheticConfig:
    values = dict(
        generator="python", n_days=3, n_subscribers=300, n_sites=40, n_cells=60, n_tacs=20,
        n_calls=3_000, n_sms=0, n_mds=0, n_topups=0, n_dfs_transactions=500,
        n_admin1=2, n_admin2=4, n_admin3=8,
    )  # fmt: skip
    values.update(overrides)
    return SyntheticConfig(**values).validate()


@pytest.fixture(scope="module")
def generated(cluster):
    connect = partial(psycopg.connect, cluster.settings.url(), autocommit=True)
    generate(connect, config())
    with connect() as conn:
        yield conn
        # leave no events or dfs rows behind for the other modules sharing the cluster
        with conn.transaction():
            clear_dfs(conn)
            clear_events(conn)


def test_transactions_per_day_and_value_ranges(generated):
    rows = generated.execute(
        """SELECT timestamp::date, count(*), min(amount), max(amount), max(discount), max(fee),
                  max(commission), min(least(amount, discount, fee, commission))
           FROM dfs.transactions GROUP BY 1 ORDER BY 1"""
    ).fetchall()
    assert [r[0] for r in rows] == [dt.date(2016, 1, d) for d in (1, 2, 3)]
    assert all(r[1] == 500 for r in rows)
    assert all(r[3] <= 10_000 and r[4] <= 100 and r[5] <= 500 and r[6] <= 2_000 for r in rows)
    assert all(r[7] >= 0 for r in rows)
    n_types = generated.execute(
        "SELECT count(DISTINCT transtype_id) FROM dfs.transactions"
    ).fetchone()
    assert n_types[0] == len(TRANSACTION_TYPES)


def test_two_parties_per_transaction_at_real_cells_and_event_subscribers(generated):
    bad = generated.execute(
        """SELECT count(*) FROM dfs.transactions t
           WHERE (SELECT count(*) FROM dfs.transactions_metadata m WHERE m.transaction_id = t.id) <> 2
              OR (SELECT count(DISTINCT subscriber_id) FROM dfs.transactions_metadata m
                  WHERE m.transaction_id = t.id) <> 2"""
    ).fetchone()[0]
    assert bad == 0
    strangers = generated.execute(
        """SELECT count(*) FROM dfs.subscribers s
           WHERE NOT EXISTS (SELECT 1 FROM events.calls c WHERE c.msisdn = s.msisdn)"""
    ).fetchone()[0]
    assert strangers == 0
    n_subs = generated.execute("SELECT count(*) FROM dfs.subscribers").fetchone()[0]
    assert 100 < n_subs <= 300


def test_same_seeds_same_rows(cluster, generated):
    def snapshot():
        return generated.execute(
            """SELECT md5(string_agg(t::text || m::text, ',' ORDER BY t.id, m.is_outgoing))
               FROM dfs.transactions t JOIN dfs.transactions_metadata m ON m.transaction_id = t.id"""
        ).fetchone()[0]

    first = snapshot()
    generate(partial(psycopg.connect, cluster.settings.url(), autocommit=True), config())
    assert snapshot() == first


def test_flowmachine_reads_dfs_and_flowapi_does_not(cluster, generated):
    with psycopg.connect(cluster.settings.url("flowmachine")) as fm:
        assert fm.execute("SELECT count(*) FROM dfs.transactions").fetchone()[0] == 1500
    with psycopg.connect(cluster.settings.url("flowapi")) as api:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            api.execute("SELECT count(*) FROM dfs.transactions")


def test_no_dfs_transactions_leaves_the_schema_empty(cluster):
    connect = partial(psycopg.connect, cluster.settings.url(), autocommit=True)
    generate(connect, config(n_dfs_transactions=0))
    with connect() as conn:
        assert conn.execute("SELECT count(*) FROM dfs.transactions_metadata").fetchone()[0] == 0
    generate(connect, config())  # leave the module's data as it was
