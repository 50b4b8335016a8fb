"""Session fixtures for FlowMachine: a private FlowDB cluster and a private Redis, both on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flowdb.cluster import Cluster
from flowdb.testing import private_redis, scratch_directory, temporary_cluster
from flowmachine.core.context import Context
from flowmachine.core.settings import Settings
from flowmachine.testing import server_in_thread, settings_for


@pytest.fixture(scope="session")
def fm_scratch() -> Iterator[Path]:
    with scratch_directory("flowmachine-tests-") as root:
        yield root


@pytest.fixture(scope="session")
def flowdb_cluster(fm_scratch: Path) -> Iterator[Cluster]:
    with temporary_cluster(fm_scratch) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def redis_port(fm_scratch: Path) -> Iterator[int]:
    """A redis-server of our own (no persistence), stopped at the end of the session."""
    with private_redis(fm_scratch / "redis") as port:
        yield port


@pytest.fixture(scope="session")
def fm_settings(flowdb_cluster: Cluster, redis_port: int) -> Settings:
    return settings_for(flowdb_cluster, redis_port)


@pytest.fixture
def ctx(fm_settings: Settings) -> Iterator[Context]:
    with Context.open(fm_settings) as context:
        yield context


@pytest.fixture(scope="session")
def fixture_db(flowdb_cluster: Cluster):
    """The fixture FlowDB of fixture_data, loaded once per session; its events and cells as DataFrames."""
    from fixture_data import load

    with flowdb_cluster.connect() as conn:
        return load(conn)


@pytest.fixture(scope="session")
def fm_server_obj(fm_settings: Settings, fixture_db):
    """An in-process FlowMachine ZeroMQ server on a free loopback port (its own context)."""
    with server_in_thread(fm_settings) as server:
        yield server


@pytest.fixture(scope="session")
def fm_server(fm_server_obj) -> int:
    """The in-process server's port."""
    return fm_server_obj.settings.port


@pytest.fixture
def zmq_client(fm_server: int):
    """`request(action, **params) -> reply dict` against the in-process server (a REQ socket, 30 s timeout)."""
    from zmq_client import ZMQClient

    with ZMQClient(fm_server) as client:
        yield client


@pytest.fixture(scope="module")
def custom_geography_db(flowdb_cluster: Cluster, fixture_db, tmp_path_factory):
    """custom_geography_fixture's layer and tables in the fixture FlowDB for one module (dropped after it, so
    other modules see FlowDB without custom geography)."""
    from custom_geography_fixture import custom_geography

    with (
        flowdb_cluster.connect() as conn,
        custom_geography(conn, tmp_path_factory.mktemp("custom-geography")),
    ):
        yield
