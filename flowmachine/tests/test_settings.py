"""Settings come from FlowKit's environment variables, with clear errors for bad values."""

from __future__ import annotations

import pytest

from flowmachine.core.context import Context
from flowmachine.core.errors import FlowMachineError
from flowmachine.core.settings import Settings


def test_defaults_match_flowkit():
    s = Settings.from_env({})
    assert (s.flowdb_host, s.flowdb_port, s.flowdb_user) == ("localhost", 9000, "flowmachine")
    assert (s.pool_size, s.pool_overflow) == (5, 1)
    assert (s.redis_host, s.redis_port, s.redis_password) == ("localhost", 6379, None)


def test_environment_overrides():
    s = Settings.from_env(
        {
            "FLOWDB_HOST": "db",
            "FLOWDB_PORT": "5432",
            "FLOWMACHINE_FLOWDB_USER": "fm",
            "FLOWMACHINE_FLOWDB_PASSWORD": "secret",
            "DB_CONNECTION_POOL_SIZE": "8",
            "DB_CONNECTION_POOL_OVERFLOW": "2",
            "REDIS_HOST": "cache",
            "REDIS_PORT": "6380",
            "REDIS_PASSWORD": "rpw",
            "FLOWMACHINE_DEPENDENCY_WORKERS": "3",
        }
    )
    assert s.dependency_workers == 3
    assert (s.flowdb_host, s.flowdb_port, s.flowdb_user, s.flowdb_password) == (
        "db",
        5432,
        "fm",
        "secret",
    )
    assert (s.pool_size, s.pool_overflow, s.redis_host, s.redis_port, s.redis_password) == (
        8,
        2,
        "cache",
        6380,
        "rpw",
    )


def test_docker_secrets_win_over_the_environment(tmp_path):
    (tmp_path / "FLOWMACHINE_FLOWDB_PASSWORD").write_text("db-secret\n")
    (tmp_path / "REDIS_PASSWORD").write_text("redis-secret")
    env = {"FLOWMACHINE_FLOWDB_PASSWORD": "db-env", "FLOWMACHINE_FLOWDB_USER": "fm-env"}
    s = Settings.from_env(env, secrets_dir=tmp_path)
    assert (s.flowdb_password, s.redis_password, s.flowdb_user) == (
        "db-secret",
        "redis-secret",
        "fm-env",
    )
    assert Settings.from_env(env, secrets_dir=None).flowdb_password == "db-env"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("FLOWDB_PORT", "nine", "FLOWDB_PORT must be an integer"),
        ("DB_CONNECTION_POOL_SIZE", "0", "DB_CONNECTION_POOL_SIZE must be at least 1"),
        ("REDIS_PORT", "-1", "REDIS_PORT must be at least 1"),
        (
            "FLOWMACHINE_DEPENDENCY_WORKERS",
            "0",
            "FLOWMACHINE_DEPENDENCY_WORKERS must be at least 1",
        ),
    ],
)
def test_bad_values_are_refused_clearly(name, value, message):
    with pytest.raises(FlowMachineError, match=message):
        Settings.from_env({name: value})


def test_unreachable_services_give_one_clear_error(fm_settings):
    from dataclasses import replace

    from flowdb.testing import free_port

    with pytest.raises(FlowMachineError, match="cannot reach Redis"):
        Context.open(replace(fm_settings, redis_port=free_port()))
    with pytest.raises(FlowMachineError, match="cannot reach FlowDB"):
        Context.open(replace(fm_settings, flowdb_port=free_port()))
