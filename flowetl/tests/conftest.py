"""A real FlowDB for the session (private cluster on loopback), FlowETL's role, and landing files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from flowdb.cluster import Cluster
from flowdb.testing import connect_as, scratch_directory, temporary_cluster


@pytest.fixture(scope="session")
def etl_root() -> Iterator[Path]:
    with scratch_directory("flowetl-tests-") as root:
        yield root


@pytest.fixture(scope="session")
def cluster(etl_root: Path) -> Iterator[Cluster]:
    with temporary_cluster(etl_root) as c:
        yield c


@pytest.fixture
def su(cluster: Cluster) -> Iterator[psycopg.Connection]:
    """The superuser (autocommit), for looking at what FlowETL did."""
    with cluster.connect() as conn:
        yield conn


@pytest.fixture
def etl(cluster: Cluster) -> Iterator[psycopg.Connection]:
    """FlowETL's own least-privilege role, over TCP, autocommit."""
    with connect_as(cluster, "flowetl") as conn:
        yield conn


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    path = tmp_path / "landing"
    path.mkdir()
    return path
