"""Migration 0008's differentially private releases: FlowMachine keeps them in the dp schema; the flowapi role
can neither read nor change them (it streams only the cache copy of a query it was asked for)."""

from __future__ import annotations

import psycopg
import pytest

from flowdb.testing import connect_as


def test_flowmachine_keeps_releases_and_flowapi_cannot_touch_them(cluster, db):
    with connect_as(cluster, "flowmachine") as fm:
        fm.execute("CREATE TABLE dp.xgranttest AS SELECT 'Z.1' AS pcod, 3::bigint AS value")
        fm.execute(
            "INSERT INTO dp.releases (query_id, class, epsilon, sensitivity, scale, n_rows, tablename) "
            "VALUES ('granttest', 'DPTest', 1, 1, 1, 1, 'xgranttest')"
        )
        with pytest.raises(psycopg.errors.CheckViolation):  # epsilon must be positive
            fm.execute(
                "INSERT INTO dp.releases (query_id, class, epsilon, sensitivity, scale, n_rows, "
                "tablename) VALUES ('granttest2', 'DPTest', 0, 1, 1, 1, 'x')"
            )
    with connect_as(cluster, cluster.settings.flowapi_user) as api:
        for statement in (
            "SELECT * FROM dp.releases",
            "SELECT * FROM dp.xgranttest",
            "DELETE FROM dp.releases",
            "CREATE TABLE dp.mine (x int)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                api.execute(statement)
    db.execute("DELETE FROM dp.releases WHERE query_id = 'granttest'")
    db.execute("DROP TABLE dp.xgranttest")
