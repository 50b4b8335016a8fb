"""Landing files and configs for the FlowETL tests (a module of its own: `conftest` names clash across packages)."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

from flowetl.config import Config, parse_config

CALLS_FIELDS = {
    "id": "TEXT",
    "outgoing": "BOOLEAN",
    "datetime": "TIMESTAMPTZ",
    "duration": "NUMERIC",
    "msisdn": "TEXT",
    "msisdn_counterpart": "TEXT",
    "location_id": "TEXT",
}


def calls_rows(day: dt.date, n: int, *, tag: str = "a") -> list[list[str]]:
    """`n` calls rows on `day` (two-line format not needed here): id, outgoing, datetime, duration, msisdn,
    counterpart, location_id."""
    rows = []
    for i in range(n):
        when = dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=37 * i % 86400)
        rows.append(
            [f"{tag}{i}", "true" if i % 2 else "false", when.isoformat() + "+00", str(i % 300),
             f"m{i % 7}", f"c{i % 5}", f"cell{i % 3}"]
        )  # fmt: skip
    return rows


def write_csv(path: Path, rows: list[list[str]], *, header: list[str] | None = None) -> Path:
    lines = ([",".join(header)] if header else []) + [",".join(r) for r in rows]
    data = ("\n".join(lines) + "\n").encode()
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def config_for(cdr_type: str, spec: dict) -> Config:
    """A Config for one type with instant sensors (tests never wait), from a YAML-like dict."""
    spec = {
        "data_present": {"timeout": 0, "poke_interval": 0},
        "flux_check": {"wait_interval": 0, "poke_interval": 0, "timeout": 0},
        **spec,
    }
    return parse_config({"cdr_types": {cdr_type: spec}})
