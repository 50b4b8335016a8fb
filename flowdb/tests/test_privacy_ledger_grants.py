"""Migration 0007's differential-privacy ledger: the flowapi role reads and writes it but cannot delete from it;
FlowMachine cannot see it at all."""

from __future__ import annotations

import psycopg
import pytest

from flowdb.testing import connect_as


def test_flowapi_records_spending_and_nobody_else_touches_the_ledger(cluster, db):
    with connect_as(cluster, cluster.settings.flowapi_user) as api:
        api.execute("INSERT INTO privacy.user_spend (sub) VALUES ('grant-test')")
        api.execute(
            "INSERT INTO privacy.token_spend (jti, sub, budget) VALUES ('grant-jti', 'grant-test', 2)"
        )
        api.execute(
            "INSERT INTO privacy.charges (jti, query_id, sub, epsilon) "
            "VALUES ('grant-jti', 'q', 'grant-test', 0.5)"
        )
        api.execute("UPDATE privacy.user_spend SET spent = 0.5 WHERE sub = 'grant-test'")
        row = api.execute(
            "SELECT spent, tokens, query_ids FROM privacy.user_ledger WHERE sub = 'grant-test'"
        ).fetchone()
        assert row is not None and tuple(row) == (0.5, 1, 1)
        for statement in (
            "DELETE FROM privacy.charges",
            "DELETE FROM privacy.user_spend",
            "TRUNCATE privacy.token_spend",
            "DROP TABLE privacy.charges",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                api.execute(statement)
        with pytest.raises(psycopg.errors.CheckViolation):  # epsilon must be positive
            api.execute(
                "INSERT INTO privacy.charges (jti, query_id, sub, epsilon) "
                "VALUES ('grant-jti', 'q2', 'grant-test', 0)"
            )
    with connect_as(cluster, "flowmachine") as fm:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            fm.execute("SELECT * FROM privacy.charges")
    db.execute("DELETE FROM privacy.charges WHERE sub = 'grant-test'")
    db.execute("DELETE FROM privacy.token_spend WHERE sub = 'grant-test'")
    db.execute("DELETE FROM privacy.user_spend WHERE sub = 'grant-test'")
