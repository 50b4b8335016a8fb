"""Helpers for tests of FlowDB and of the packages built on it: a private cluster on a free loopback port,
and a private Redis (FlowMachine's state store) beside it.

    with temporary_cluster() as cluster:
        url = cluster.settings.url("flowmachine")

Used by every package's test session fixtures, so each starts (and removes) its own cluster.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from flowdb.cluster import Cluster
from flowdb.rows import one_row
from flowdb.settings import Settings


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(workdir: Path, port: int | None = None) -> tuple[subprocess.Popen, int]:
    """A redis-server of our own on a free loopback port, or on `port` (to restart one: no persistence, so
    it starts empty; `workdir` is created), answering PING when this returns. The caller stops it:
    `proc.terminate(); proc.wait()`."""
    port = free_port() if port is None else port
    workdir.mkdir(parents=True, exist_ok=True)
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return proc, port
        except OSError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("redis-server did not start")


@contextmanager
def private_redis(workdir: Path) -> Iterator[int]:
    """`start_redis` for a `with` block: yields the port, stops the server on leaving."""
    proc, port = start_redis(workdir)
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def make_settings(data_dir: Path, **extra: str) -> Settings:
    """Settings for a small test cluster in `data_dir` on a free port (extra values override)."""
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


@contextmanager
def scratch_directory(prefix: str = "flowdb-tests-") -> Iterator[Path]:
    """A temporary directory the cluster's unprivileged owner can reach (pytest's tmp_path is 0700)."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def temporary_cluster(root: Path | None = None, **extra: str) -> Iterator[Cluster]:
    """A started cluster in `root`/cluster (or a fresh temporary directory), stopped on exit."""
    if root is None:
        with scratch_directory() as scratch, temporary_cluster(scratch, **extra) as cluster:
            yield cluster
        return
    cluster = Cluster(make_settings(root / "cluster", **extra))
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


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


def visible_pages(conn: psycopg.Connection, table: str) -> tuple[int, int]:
    """(pages, all-visible pages) of `table` ("schema.name"), as ANALYZE counts them from its visibility map."""
    conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(*table.split("."))))
    pages, visible = one_row(
        conn.execute(
            "SELECT relpages, relallvisible FROM pg_class WHERE oid = %s::regclass", (table,)
        )
    )
    return pages, visible
