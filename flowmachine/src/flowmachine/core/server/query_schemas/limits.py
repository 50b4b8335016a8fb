"""Bounds on the size-like parameters of the API's query kinds, so that no single request asks for unbounded
work (FlowKit 1.34 has none: `histogram_aggregate` with 300,000,000 bins grew FlowDB by 3.7 GB in 20 s).

Every bound is refused with a marshmallow `ValidationError` naming it, so FlowAPI answers 400 in FlowKit's
error shape and nothing is run. The validators here are deliberately not `validate.Range`/`validate.Length`
(apispec would publish them): the published schemas stay FlowKit's. docs/flowmachine.md has the table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from marshmallow import ValidationError, validate

from flowmachine.core.dates import to_datetime
from flowmachine.features.utilities.label_shapes import (
    MAX_LABEL_NAME_LENGTH,
    MAX_LABEL_POSITIONS,
    MAX_LABELS,
)

# Dates: every date lies in [EARLIEST_DATE, LATEST_DATE); a window (start to end, or a run of periods) spans
# at most MAX_SPAN_DAYS days.
EARLIEST_DATE = dt.datetime(1900, 1, 1)
LATEST_DATE = dt.datetime(2200, 1, 1)
MAX_SPAN_DAYS = 3660
# calendar_activity, localised_calendar_activity, total_active_periods: periods counted.
MAX_PERIODS = 10_000
# histogram_aggregate: bins, and explicit bin edges.
MAX_BINS = 10_000
MAX_BIN_EDGES = MAX_BINS + 1
# Random samples: rows asked for.
MAX_SAMPLE_SIZE = 1_000_000_000
# meaningful_*: the clustering radius (km); half the Earth's circumference, beyond which nothing changes.
MAX_CLUSTER_RADIUS_KM = 20_000.0
# Lists of locations (modal_location, location_visits, mobility_classification).
MAX_LOCATIONS = 1_000
# event_types: items (there are four types; a few repeats are harmless).
MAX_EVENT_TYPES = 10
# The whole spec: query kinds in it, nested at any depth, and its nesting depth (objects and lists).
MAX_QUERIES_PER_SPEC = 2_000
MAX_SPEC_DEPTH = 64

__all__ = [
    "EARLIEST_DATE",
    "LATEST_DATE",
    "MAX_BINS",
    "MAX_BIN_EDGES",
    "MAX_CLUSTER_RADIUS_KM",
    "MAX_EVENT_TYPES",
    "MAX_LABELS",
    "MAX_LABEL_NAME_LENGTH",
    "MAX_LABEL_POSITIONS",
    "MAX_LOCATIONS",
    "MAX_PERIODS",
    "MAX_QUERIES_PER_SPEC",
    "MAX_SAMPLE_SIZE",
    "MAX_SPAN_DAYS",
    "MAX_SPEC_DEPTH",
    "AtMost",
    "AtMostItems",
    "check_date_in_range",
    "check_span",
    "check_spec_size",
]


class AtMost(validate.Validator):
    """A number no greater than `bound`."""

    def __init__(self, bound: float) -> None:
        self.bound = bound

    def __call__(self, value: Any) -> Any:
        if value > self.bound:
            bound = self.bound if isinstance(self.bound, int) else f"{self.bound:g}"
            raise ValidationError(f"Must be at most {bound}.")
        return value


class AtMostItems(validate.Validator):
    """A list of no more than `bound` items."""

    def __init__(self, bound: int) -> None:
        self.bound = bound

    def __call__(self, value: Any) -> Any:
        if len(value) > self.bound:
            raise ValidationError(f"At most {self.bound} items.")
        return value


def check_date_in_range(value: dt.datetime) -> None:
    """A ValidationError unless `value` lies in [EARLIEST_DATE, LATEST_DATE)."""
    if not EARLIEST_DATE <= value < LATEST_DATE:
        raise ValidationError(
            f"Must be from {EARLIEST_DATE:%Y-%m-%d} and before {LATEST_DATE:%Y-%m-%d}."
        )


def check_span(
    data: Mapping[str, Any], start: str, end: str, *, max_days: int = MAX_SPAN_DAYS
) -> None:
    """A ValidationError on `end` if it is more than `max_days` days after `start` (both ISO strings)."""
    if start in data and end in data:
        span = to_datetime(data[end]) - to_datetime(data[start])
        if span > dt.timedelta(days=max_days):
            raise ValidationError(f"Must be at most {max_days} days after {start}.", end)


def check_spec_size(spec: Any) -> None:
    """A ValidationError (`_schema`) if `spec` holds more than MAX_QUERIES_PER_SPEC query kinds or nests
    objects and lists deeper than MAX_SPEC_DEPTH (walked without recursion, before anything is loaded)."""
    queries = 0
    stack: list[tuple[Any, int]] = [(spec, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_SPEC_DEPTH:
            raise ValidationError(
                {"_schema": [f"A query spec may nest at most {MAX_SPEC_DEPTH} levels."]}
            )
        if isinstance(node, Mapping):
            if "query_kind" in node:
                queries += 1
                if queries > MAX_QUERIES_PER_SPEC:
                    raise ValidationError(
                        {
                            "_schema": [
                                f"A query spec may hold at most {MAX_QUERIES_PER_SPEC} queries."
                            ]
                        }
                    )
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
