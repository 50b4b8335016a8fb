"""What `autoflow status` shows: per workflow and parameters, the newest state, when, and why a run failed."""

from __future__ import annotations

import json

from autoflow.runs import RunRecord

_SHOWN_APART = ("reference_date", "date_ranges")


def _parameters(record: RunRecord) -> str:
    if record.parameters is None:  # a row FlowKit wrote: only the hash is known
        return f"parameters hash {record.parameters_hash}"
    rest = {k: v for k, v in record.parameters.items() if k not in _SHOWN_APART}
    ranges = record.parameters.get("date_ranges")
    parts = [f"{k}={json.dumps(v)}" for k, v in sorted(rest.items())]
    if ranges:
        parts.append("date_ranges=" + " ".join(f"[{a},{b})" for a, b in ranges))
    return ", ".join(parts) or "-"


def render(records: list[RunRecord]) -> str:
    """A plain-text table, one line per run, with the error of a failed run beneath it."""
    if not records:
        return "no workflow runs recorded"
    width = max(len("workflow"), *(len(r.workflow_name) for r in records))
    lines = [
        f"{'workflow':<{width}}  {'reference':<10}  {'state':<7}  {'recorded (UTC)':<19}  parameters"
    ]
    for r in records:
        reference = str((r.parameters or {}).get("reference_date", "?"))
        lines.append(
            f"{r.workflow_name:<{width}}  {reference:<10}  {r.state.name:<7}  "
            f"{r.timestamp:%Y-%m-%d %H:%M:%S}  {_parameters(r)}"
        )
        if r.error:
            lines.append(f"{'':<{width}}  why: {r.error}")
    return "\n".join(lines)
