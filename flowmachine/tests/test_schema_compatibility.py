"""Our published query schemas against FlowKit 1.34's (`data/flowkit-1.34-query-schemas.json`, the components
FlowKit's FlowAPI publishes): the same parameters, types, enums, defaults and required fields for every schema
both have, except the deviations listed here, each also in docs/compatibility.md ("Query schemas")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flowmachine.core.server.openapi import query_schemas_spec

FLOWKIT = json.loads(
    (Path(__file__).parent / "data" / "flowkit-1.34-query-schemas.json").read_text()
)
OURS = query_schemas_spec()
COMPATIBILITY = (Path(__file__).parents[2] / "docs" / "compatibility.md").read_text()

# (schema, property) -> why ours differs; each must really differ, and be written in docs/compatibility.md.
PROPERTY_DEVIATIONS = {
    ("HistogramBins", "bin_list"): "minItems 2",
    ("HistogramBins", "n_bins"): "minimum 1",
    ("Hours", "start_hour"): "maximum 23",
    ("ModalLocation", "aggregation_unit"): "read-only aggregation_unit",
    ("TotalActivePeriods", "total_periods"): "`total_periods` and `period_length` minimum 1",
    ("TotalActivePeriods", "period_length"): "`total_periods` and `period_length` minimum 1",
    ("CalendarActivity", "total_periods"): "`total_periods` and `period_length` minimum 1",
    ("CalendarActivity", "period_length"): "`total_periods` and `period_length` minimum 1",
    ("LocalisedCalendarActivity", "total_periods"): "`total_periods` and `period_length` minimum 1",
    ("LocalisedCalendarActivity", "period_length"): "`total_periods` and `period_length` minimum 1",
    ("LocalisedCalendarActivity", "required"): "`reference_location` required",
    ("LocationEventCounts", "interval"): "weekly and monthly buckets",
    ("TotalNetworkObjects", "total_by"): "weekly and monthly buckets",
    ("AggregateNetworkObjects", "aggregate_by"): "weekly and monthly buckets",
}
# Whole schemas whose shape differs on purpose.
SCHEMA_DEVIATIONS = {
    "RandomSample": "one RandomSample schema",
}
# FlowKit's three per-method sample schemas exist only as members of its RandomSample oneOf.
REPLACED = {"BernoulliRandomSample", "RandomIDsRandomSample", "SystemRandomSample"}
# Query kinds (and the unions only they make up) not implemented yet (issue 6): this set only shrinks.
NOT_YET: set[str] = set()
# Our own query kinds (additive: FlowKit has no such schema), each in docs/compatibility.md.
OURS_ONLY = {"RollingUniqueSubscriberCounts": "rolling_unique_subscriber_counts"}


def _ref(value: dict[str, Any]) -> str:
    return value["$ref"].rsplit("/", 1)[-1]


def _property(p: dict[str, Any], *, flowkit: dict[str, Any] | None = None) -> dict[str, Any]:
    """The parts of a property that make its contract, in a comparable form."""
    out = {
        k: p[k]
        for k in (
            "type",
            "format",
            "nullable",
            "minItems",
            "maxItems",
            "readOnly",
            "minimum",
            "maximum",
        )
        if k in p
    }
    # FlowKit leaves the default of an optional nullable field unstated (it is null); ours states it.
    if "default" in p and not (
        p["default"] is None and flowkit is not None and "default" not in flowkit
    ):
        out["default"] = p["default"]
    if "enum" in p:
        out["enum"] = sorted(map(str, p["enum"]))
    if "$ref" in p:
        out["ref"] = _ref(p)
    if "items" in p:
        out["items"] = _property(p["items"], flowkit=(flowkit or {}).get("items"))
    for key in ("anyOf", "oneOf"):
        if key in p:
            out[key] = sorted(json.dumps(_property(x), sort_keys=True) for x in p[key])
    return out


def _differences(name: str) -> dict[str, tuple[Any, Any]]:
    ours, theirs = OURS[name], FLOWKIT[name]
    if "oneOf" in ours or "oneOf" in theirs:
        a = sorted(r for r in map(_ref, ours.get("oneOf", [])) if r not in OURS_ONLY)
        b = sorted(r for r in map(_ref, theirs.get("oneOf", [])) if r not in NOT_YET)
        return {} if a == b else {"oneOf": (a, b)}
    found: dict[str, tuple[Any, Any]] = {}
    if sorted(ours.get("required", [])) != sorted(theirs.get("required", [])):
        found["required"] = (sorted(ours.get("required", [])), sorted(theirs.get("required", [])))
    props_a, props_b = ours.get("properties", {}), theirs.get("properties", {})
    for prop in sorted(set(props_a) | set(props_b)):
        a = _property(props_a[prop], flowkit=props_b.get(prop)) if prop in props_a else None
        b = _property(props_b[prop]) if prop in props_b else None
        if a != b:
            found[prop] = (a, b)
    return found


SHARED = sorted(set(OURS) & set(FLOWKIT))


@pytest.mark.parametrize("name", SHARED)
def test_schema_matches_flowkit(name):
    if name in SCHEMA_DEVIATIONS:
        assert _differences(name), f"{name} now matches FlowKit: drop its deviation"
        return
    found = _differences(name)
    expected = {prop for (schema, prop) in PROPERTY_DEVIATIONS if schema == name}
    assert set(found) == expected, {k: v for k, v in found.items() if k not in expected}


def test_every_flowkit_schema_is_ours_or_listed():
    assert set(OURS) - set(OURS_ONLY) <= set(FLOWKIT), sorted(set(OURS) - set(FLOWKIT))
    missing = set(FLOWKIT) - set(OURS) - REPLACED
    assert missing == NOT_YET, {
        "implemented: drop from NOT_YET": sorted(NOT_YET - missing),
        "missing and unlisted": sorted(missing - NOT_YET),
    }


def test_deviations_are_documented():
    section = COMPATIBILITY.split("## Query schemas", 1)
    assert len(section) == 2, "docs/compatibility.md has no 'Query schemas' section"
    for note in [*PROPERTY_DEVIATIONS.values(), *SCHEMA_DEVIATIONS.values(), *OURS_ONLY.values()]:
        assert note in section[1], note
