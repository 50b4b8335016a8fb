"""A real FlowDB cluster in a temporary directory for the whole test session, on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from flowdb.cluster import Cluster, find_bindir
from flowdb.synthetic.native import build
from flowdb.testing import scratch_directory, temporary_cluster


@pytest.fixture(scope="session")
def scratch_root() -> Iterator[Path]:
    with scratch_directory() as root:
        yield root


@pytest.fixture(scope="session")
def cluster(scratch_root: Path) -> Iterator[Cluster]:
    with temporary_cluster(scratch_root) as c:
        yield c


@pytest.fixture
def db(cluster: Cluster) -> Iterator[psycopg.Connection]:
    """A superuser connection to the session cluster's flowdb database (autocommit)."""
    with cluster.connect() as conn:
        yield conn


@pytest.fixture(scope="session")
def native_library(scratch_root: Path, cluster: Cluster) -> Path:
    """The SQL generator's native library, built once for the session's server (`make test` installs the
    compiler and PostgreSQL's server headers, so a failed build fails the tests that use it)."""
    return build(scratch_root / "native", find_bindir(cluster.settings) / "pg_config")
