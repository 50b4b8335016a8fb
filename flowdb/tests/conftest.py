"""A real FlowDB cluster in a temporary directory for the whole test session, on a free loopback port."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from flowdb.cluster import Cluster
from flowdb.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_settings(data_dir: Path, **extra: str) -> Settings:
    env = {
        "FLOWDB_DATA_DIR": str(data_dir),
        "FLOWDB_PORT": str(free_port()),
        "SHARED_BUFFERS_SIZE": "256MB",
        "EFFECTIVE_CACHE_SIZE": "2GB",
        "MAINTENANCE_WORK_MEM": "256MB",
        "FLOWMACHINE_FLOWDB_PASSWORD": "fm-test-pw",
        "FLOWAPI_FLOWDB_PASSWORD": "api-test-pw",
        "FLOWDB_OS_USER": os.environ.get("FLOWDB_OS_USER", "postgres"),
        **extra,
    }
    return Settings.from_env(env)


@pytest.fixture(scope="session")
def scratch_root() -> Iterator[Path]:
    """A temporary directory the cluster's unprivileged owner can reach (pytest's tmp_path is 0700)."""
    root = Path(tempfile.mkdtemp(prefix="flowdb-tests-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def cluster(scratch_root: Path) -> Iterator[Cluster]:
    c = Cluster(make_settings(scratch_root / "session"))
    c.start()
    yield c
    c.stop()


@pytest.fixture
def db(cluster: Cluster) -> Iterator[psycopg.Connection]:
    """A superuser connection to the session cluster's flowdb database (autocommit)."""
    with cluster.connect() as conn:
        yield conn


def connect_as(cluster: Cluster, role: str) -> psycopg.Connection:
    """A password-authenticated TCP connection as `role`, the way FlowMachine and FlowAPI connect."""
    port = cluster.status().port
    s = cluster.settings
    return psycopg.connect(
        host="127.0.0.1",
        port=port,
        user=role,
        password=s.role_password(role),
        dbname="flowdb",
        autocommit=True,
    )
