"""Synthetic-data parameters: FlowKit's environment variables, overridable by `flowdb synthetic` flags."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import Field, dataclass, fields, replace
from typing import Any

from flowdb.errors import FlowDBError
from flowdb.synthetic.loading import INDEX_COLUMNS

GENERATORS = ("sql", "python")
# FlowKit's two-row format: each call or sms is an outgoing and an incoming row sharing its id.
TWO_ROW_TYPES = ("calls", "sms")


@dataclass(frozen=True)
class SyntheticConfig:
    """What to generate. Defaults are those of FlowKit's documentation (seed-developer-guide, "Synthetic Data")."""

    generator: str = "sql"
    n_days: int = 7
    n_subscribers: int = 4000
    n_cells: int = 1000
    n_sites: int = 1000
    n_tacs: int = 1000
    n_calls: int = 200_000
    n_sms: int = 200_000
    n_mds: int = 200_000
    n_topups: int = 20_000
    # Mobile-money transactions a day in the dfs schema (FlowKit's synthetic DFS data: 3,000).
    n_dfs_transactions: int = 3000
    subscribers_seed: int = 11111
    calls_seed: int = 22222
    cells_seed: int = 33333
    p_out_of_area: float = 0.05
    p_relocate: float = 0.01
    interactions_multiplier: int = 5
    disaster_region_pcod: str | None = None
    disaster_start: dt.date | None = None
    disaster_end: dt.date | None = None
    start_date: dt.date = dt.date(2016, 1, 1)
    n_admin1: int = 5
    n_admin2: int = 25
    n_admin3: int = 150
    country_code: str = "SYN"
    event_indexes: str = ",".join(INDEX_COLUMNS)
    # FlowKit's synthetic image runs the default QA checks on the data it made unless this is true.
    skip_test_qa_check: bool = False

    @property
    def index_columns(self) -> tuple[str, ...]:
        """The event columns each day partition is indexed on: FlowETL's set, a comma list, or "none"."""
        if self.event_indexes.strip().lower() == "none":
            return ()
        return tuple(c.strip() for c in self.event_indexes.split(",") if c.strip())

    @property
    def dates(self) -> list[dt.date]:
        return [self.start_date + dt.timedelta(days=k) for k in range(self.n_days)]

    def in_disaster(self, day: dt.date) -> bool:
        return (
            self.disaster_region_pcod is not None
            and self.disaster_start is not None
            and self.disaster_end is not None
            and self.disaster_start <= day <= self.disaster_end
        )

    @property
    def events_per_day(self) -> dict[str, int]:
        """Events a day per CDR type (calls and sms count calls, each written as two rows)."""
        return {
            "calls": self.n_calls,
            "sms": self.n_sms,
            "mds": self.n_mds,
            "topups": self.n_topups,
        }

    def rows_of(self, cdr_type: str) -> int:
        """Rows a day of one CDR type: an event of a TWO_ROW_TYPES type is written as two rows."""
        return self.events_per_day[cdr_type] * (2 if cdr_type in TWO_ROW_TYPES else 1)

    @property
    def rows_per_day(self) -> int:
        return sum(self.rows_of(cdr_type) for cdr_type in self.events_per_day)

    def validate(self) -> SyntheticConfig:
        if self.generator not in GENERATORS:
            raise FlowDBError(
                f"unknown generator {self.generator!r}: SYNTHETIC_DATA_GENERATOR must be one of "
                f"{', '.join(GENERATORS)}"
            )
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "int" and value < 0:
                raise FlowDBError(f"{f.name.upper()} must not be negative, got {value}")
        for name in ("p_out_of_area", "p_relocate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise FlowDBError(
                    f"{name.upper()} must be a probability between 0 and 1, got {value}"
                )
        if self.n_days < 1:
            raise FlowDBError("N_DAYS must be at least 1")
        if self.n_cells < 1 or self.n_sites < 1:
            raise FlowDBError("N_CELLS and N_SITES must be at least 1")
        if self.n_cells < self.n_sites:
            raise FlowDBError(f"N_CELLS ({self.n_cells}) must be at least N_SITES ({self.n_sites})")
        if self.n_tacs < 1:
            raise FlowDBError("N_TACS must be at least 1")
        if self.n_subscribers < 2 and (self.n_calls or self.n_sms):
            raise FlowDBError("N_SUBSCRIBERS must be at least 2 to generate calls or sms")
        if self.n_subscribers < 1 and (self.n_mds or self.n_topups):
            raise FlowDBError("N_SUBSCRIBERS must be at least 1 to generate mds or topups")
        if not 1 <= self.n_admin1 <= self.n_admin2 <= self.n_admin3:
            raise FlowDBError("admin unit counts must satisfy 1 <= admin1 <= admin2 <= admin3")
        unknown = [c for c in self.index_columns if c not in INDEX_COLUMNS]
        if unknown:
            raise FlowDBError(
                f"EVENT_INDEXES may only name {', '.join(INDEX_COLUMNS)}; got {', '.join(unknown)}"
            )
        if (self.disaster_start is None) != (self.disaster_end is None):
            raise FlowDBError("DISASTER_START and DISASTER_END must be given together")
        if self.disaster_start and self.disaster_end and self.disaster_start > self.disaster_end:
            raise FlowDBError(
                f"DISASTER_START ({self.disaster_start}) is after DISASTER_END ({self.disaster_end})"
            )
        if self.disaster_start and not self.disaster_region_pcod:
            raise FlowDBError("DISASTER_START needs DISASTER_REGION_PCOD (an admin2 pcod)")
        return self

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> SyntheticConfig:
        """Environment first, then `overrides` (CLI flags; None means "not given"), then validation."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f.name.upper())
            if f.name == "generator":
                raw = env.get("SYNTHETIC_DATA_GENERATOR")
            if raw is None or raw == "":
                continue
            values[f.name] = parse_value(f.name, annotation(f), raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **values).validate()


def annotation(f: Field[Any]) -> str:
    """A field's annotation as written: a string, as this module postpones annotations."""
    if not isinstance(f.type, str):
        raise TypeError(f"{f.name}: expected a postponed (string) annotation, got {f.type!r}")
    return f.type


def parse_value(name: str, type_name: str, raw: str) -> Any:
    env_name = "SYNTHETIC_DATA_GENERATOR" if name == "generator" else name.upper()
    raw = raw.strip()
    try:
        if type_name == "int":
            return int(raw.replace("_", ""))
        if type_name == "float":
            return float(raw)
        if "date" in type_name:
            return dt.date.fromisoformat(raw)
        if type_name == "bool":
            return {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}[
                raw.lower()
            ]
    except (ValueError, KeyError):
        kind = {
            "int": "a whole number",
            "float": "a number",
            "bool": "true or false",
        }.get(type_name, "a date (YYYY-MM-DD)")
        raise FlowDBError(f"{env_name} must be {kind}, got {raw!r}") from None
    return raw
