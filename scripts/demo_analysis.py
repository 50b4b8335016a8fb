"""`make demo`'s example analysis through FlowMachine: where subscribers were, and how they moved.

Runs against the FlowDB that `make up` started, with a private Redis on a free loopback port for the duration
of the run. Results are computed once into FlowDB's cache; a second run reads them from there.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
import redis

from flowdb.cluster import Cluster
from flowdb.settings import Settings as FlowDBSettings
from flowmachine.core.cache import compute
from flowmachine.core.context import Context
from flowmachine.core.settings import Settings
from flowmachine.core.spatial_unit import make_spatial_unit
from flowmachine.features.location.flows import Flows
from flowmachine.features.location.spatial_aggregate import SpatialAggregate
from flowmachine.features.subscriber.daily_location import daily_location


@contextmanager
def private_redis() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    workdir = tempfile.mkdtemp(prefix="demo-redis-")
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", workdir],
        stdout=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(port=port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    db = FlowDBSettings.from_env(os.environ)
    cluster = Cluster(db)
    with cluster.connect() as conn:
        first_day = conn.execute("SELECT min(cdr_date) FROM etl.available_dates").fetchone()[0]
    if first_day is None:
        raise SystemExit("FlowDB has no events; run `make up` first")
    with private_redis() as redis_port:
        settings = Settings(
            flowdb_host="127.0.0.1",
            flowdb_port=cluster.status().port,
            flowdb_user="flowmachine",
            flowdb_password=db.role_password("flowmachine"),
            redis_host="127.0.0.1",
            redis_port=redis_port,
        )
        with Context.open(settings) as ctx:
            unit = make_spatial_unit("admin1")
            day1 = daily_location(first_day, unit, method="last")
            day2 = daily_location(first_day + dt.timedelta(days=1), unit, method="last")
            started = time.perf_counter()
            counts = compute(ctx, SpatialAggregate(day1)).get_dataframe(ctx)
            flows = compute(ctx, Flows(day1, day2)).get_dataframe(ctx)
            seconds = time.perf_counter() - started
    pd.set_option("display.width", 120)
    print(
        f"\nSubscribers by admin1 region of their last event on {first_day} (regions with >15 only):"
    )
    print(counts.sort_values("value", ascending=False).to_string(index=False))
    moved = flows[flows.pcod_from != flows.pcod_to].sort_values("value", ascending=False).head(10)
    print(f"\nTop moves between admin1 regions from {first_day} to the next day:")
    print(moved.to_string(index=False))
    print(
        f"\n(computed with FlowMachine in {seconds:.2f} s; results cached in FlowDB's cache schema)"
    )


if __name__ == "__main__":
    main()
