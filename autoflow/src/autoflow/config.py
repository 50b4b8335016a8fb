"""workflows.yml: the notebook workflows and the available-dates sensor that runs them, validated with one
message per mistake, each naming the path of the bad key (`workflows[0].notebooks.report.filename: ...`).

    workflows:
      - name: flows_above_normal
        notebooks:
          run_flows: {filename: run_flows.ipynb, parameters: {date_ranges: date_ranges, unit: aggregation_unit}}
          report:
            filename: flows_report.ipynb
            parameters: {reference_date: reference_date, flows: run_flows}   # run_flows: its executed path
            output: {format: pdf, template: report.tpl}                        # template optional
    available_dates_sensor:
      schedule: "0 0 * * *"            # cron, or null: run once
      cdr_types: [calls, sms]          # optional: the union of these types' dates (default: every type)
      workflows:
        - workflow_name: flows_above_normal
          parameters: {aggregation_unit: admin2}
          earliest_date: 2016-01-04
          date_stencil: [[2016-01-01, 2016-01-03], -1, 0]

FlowKit's format (its marshmallow schemas), the same rules and a few more (docs/autoflow.md). Notebook files
and templates are looked up in the folder holding workflows.yml (AutoFlow's inputs folder).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

import yaml

from autoflow.errors import ConfigError
from autoflow.stencils import DateStencil

WORKFLOWS_FILE = "workflows.yml"
# Parameters the sensor gives every workflow run.
AUTOMATIC_PARAMETERS = ("reference_date", "date_ranges")
# Names a notebook key may not take: the automatic parameters and the one AutoFlow supplies itself.
RESERVED_NAMES = (*AUTOMATIC_PARAMETERS, "flowapi_url")
CDR_TYPES = ("calls", "sms", "mds", "topups")
OUTPUT_FORMATS = ("pdf",)
# Workflow names become part of output file names.
_WORKFLOW_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_PYTHON_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ReportSpec:
    format: str = "pdf"
    template: Path | None = (
        None  # an AsciiDoc template in the inputs folder; None: AutoFlow's default
    )


@dataclass(frozen=True)
class NotebookSpec:
    key: str
    filename: str
    path: Path
    # notebook parameter -> workflow parameter, another notebook's key, reference_date, date_ranges, flowapi_url
    parameters: tuple[tuple[str, str], ...] = ()
    output: ReportSpec | None = None
    depends_on: tuple[str, ...] = ()  # keys of the notebooks whose executed paths it takes


@dataclass(frozen=True)
class WorkflowSpec:
    name: str
    notebooks: tuple[NotebookSpec, ...]  # in an order that runs each notebook after those it uses

    @property
    def parameter_names(self) -> frozenset[str]:
        """Every parameter a run takes: those the notebooks name (not notebook keys or flowapi_url), plus
        reference_date and date_ranges (FlowKit's make_notebooks_workflow)."""
        keys = {n.key for n in self.notebooks}
        used = {source for n in self.notebooks for _, source in n.parameters}
        return frozenset(used - keys - {"flowapi_url"}) | frozenset(AUTOMATIC_PARAMETERS)


@dataclass(frozen=True)
class SensorWorkflow:
    workflow_name: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    earliest_date: dt.date | None = None
    date_stencil: DateStencil = field(default_factory=DateStencil)


@dataclass(frozen=True)
class SensorConfig:
    schedule: str | None  # a cron string, or None: run once
    cdr_types: tuple[str, ...] | None  # None: every type FlowAPI has
    workflows: tuple[SensorWorkflow, ...]


@dataclass(frozen=True)
class Config:
    path: Path
    workflows: Mapping[str, WorkflowSpec]
    sensor: SensorConfig

    @property
    def inputs_dir(self) -> Path:
        return self.path.parent


class _Checker:
    """Collects one message per mistake, each prefixed with the path of its key."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}")

    def mapping(
        self, value: Any, path: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()
    ) -> dict[str, Any] | None:
        if not isinstance(value, Mapping):
            self.error(path, f"must be a mapping, got {_kind(value)}")
            return None
        for key in value:
            if key not in allowed:
                self.error(f"{path}.{key}", f"unknown key (expected one of: {', '.join(allowed)})")
        for key in required:
            if key not in value:
                self.error(f"{path}.{key}", "is required")
        return dict(value)

    def string(self, value: object, path: str) -> TypeGuard[str]:
        """Whether `value` is a non-empty string (an error is recorded when not)."""
        if not isinstance(value, str) or not value.strip():
            self.error(path, f"must be a non-empty string, got {_kind(value)}")
            return False
        return True


def _kind(value: Any) -> str:
    return "nothing" if value is None else f"{type(value).__name__} {value!r}"[:80]


def cron_problem(cron: str) -> str | None:
    """Why `cron` is not a schedule Prefect 3's CronSchedule accepts, or None."""
    from prefect.client.schemas.schedules import CronSchedule

    try:
        CronSchedule(cron=cron)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        errors = getattr(exc, "errors", None)
        if callable(errors):
            return "; ".join(str(e.get("msg", e)) for e in errors())
        return str(exc)
    return None


def _inside(base: Path, name: str) -> Path | None:
    path = (base / name).resolve()
    return path if path.is_relative_to(base.resolve()) else None


def _notebooks(c: _Checker, raw: Any, path: str, base: Path) -> tuple[NotebookSpec, ...]:
    if not isinstance(raw, Mapping) or not raw:
        c.error(path, f"must be a mapping of notebook keys to notebooks, got {_kind(raw)}")
        return ()
    keys = frozenset(k for k in raw if isinstance(k, str) and k not in RESERVED_NAMES)
    specs: dict[str, NotebookSpec] = {}
    for key, spec in raw.items():
        here = f"{path}.{key}"
        if not isinstance(key, str) or not key:
            c.error(here, "notebook keys must be strings")
            continue
        if key in RESERVED_NAMES:
            c.error(
                here, f"{key!r} is reserved (a notebook key may not be {', '.join(RESERVED_NAMES)})"
            )
            continue
        value = c.mapping(spec, here, ("filename", "parameters", "output"), ("filename",))
        if value is None:
            continue
        filename = value.get("filename")
        notebook_path = base / "missing.ipynb"
        if "filename" in value and c.string(filename, f"{here}.filename"):
            if Path(filename).suffix != ".ipynb":
                c.error(f"{here}.filename", f"{filename!r} is not a Jupyter notebook (.ipynb)")
            else:
                inside = _inside(base, filename)
                if inside is None:
                    c.error(f"{here}.filename", f"{filename!r} is outside the inputs folder {base}")
                elif not inside.is_file():
                    c.error(f"{here}.filename", f"notebook {filename!r} not found in {base}")
                else:
                    notebook_path = inside
        parameters: list[tuple[str, str]] = []
        raw_params = value.get("parameters")
        if raw_params is not None:
            if not isinstance(raw_params, Mapping):
                c.error(f"{here}.parameters", f"must be a mapping, got {_kind(raw_params)}")
            else:
                for name, source in raw_params.items():
                    where = f"{here}.parameters.{name}"
                    if not isinstance(name, str) or not _PYTHON_NAME.match(name):
                        c.error(where, "a notebook parameter must be a Python variable name")
                    elif c.string(source, where):
                        parameters.append((name, source))
        output = None
        if "output" in value:
            output = _output(c, value["output"], f"{here}.output", base)
        specs[key] = NotebookSpec(
            key=key,
            filename=filename if isinstance(filename, str) else "",
            path=notebook_path,
            parameters=tuple(parameters),
            output=output,
            depends_on=tuple(dict.fromkeys(s for _, s in parameters if s in keys)),
        )
    order = _topological(specs)
    if order is None:
        c.error(
            path,
            "the notebooks depend on each other in a cycle (a notebook parameter names a notebook "
            "that, directly or not, uses the first)",
        )
        return tuple(specs.values())
    return tuple(specs[k] for k in order)


def _output(c: _Checker, raw: Any, path: str, base: Path) -> ReportSpec | None:
    value = c.mapping(raw, path, ("format", "template"), ("format",))
    if value is None:
        return None
    fmt = value.get("format")
    if "format" in value and fmt not in OUTPUT_FORMATS:
        c.error(f"{path}.format", f"must be one of: {', '.join(OUTPUT_FORMATS)} (got {_kind(fmt)})")
    template = value.get("template")
    template_path = None
    if template is not None and c.string(template, f"{path}.template"):
        inside = _inside(base, template)
        if inside is None or not inside.exists():  # a template file, or a folder of templates
            c.error(f"{path}.template", f"AsciiDoc template {template!r} not found in {base}")
        else:
            template_path = inside
    return ReportSpec(format="pdf", template=template_path)


def _topological(specs: Mapping[str, NotebookSpec]) -> list[str] | None:
    """Notebook keys so that each comes after those it uses, in file order where free; None for a cycle."""
    done: list[str] = []
    waiting = list(specs)
    while waiting:
        ready = next(
            (k for k in waiting if all(d in done or d not in specs for d in specs[k].depends_on)),
            None,
        )
        if ready is None:
            return None
        done.append(ready)
        waiting.remove(ready)
    return done


def _workflows(c: _Checker, raw: Any, base: Path) -> dict[str, WorkflowSpec]:
    if not isinstance(raw, list) or not raw:
        c.error("workflows", f"must be a list of workflows, got {_kind(raw)}")
        return {}
    workflows: dict[str, WorkflowSpec] = {}
    for i, item in enumerate(raw):
        here = f"workflows[{i}]"
        value = c.mapping(item, here, ("name", "notebooks"), ("name", "notebooks"))
        if value is None:
            continue
        name = value.get("name")
        if "name" in value and c.string(name, f"{here}.name"):
            if not _WORKFLOW_NAME.match(name):
                c.error(
                    f"{here}.name",
                    f"{name!r}: use letters, digits, '_', '-' and '.' (it names output "
                    "files), starting with a letter or digit",
                )
                name = None
            elif name in workflows:
                c.error(f"{here}.name", f"duplicate workflow name {name!r}")
                name = None
        else:
            name = None
        notebooks = (
            _notebooks(c, value["notebooks"], f"{here}.notebooks", base)
            if "notebooks" in value
            else ()
        )
        if name is not None:
            workflows[name] = WorkflowSpec(name=name, notebooks=notebooks)
    return workflows


def _date(c: _Checker, raw: Any, path: str) -> dt.date | None:
    if isinstance(raw, dt.datetime):
        c.error(path, f"{raw} has a time of day; give a date (YYYY-MM-DD)")
        return None
    if isinstance(raw, dt.date):
        return raw
    if isinstance(raw, str):
        try:
            return dt.date.fromisoformat(raw.strip())
        except ValueError:
            pass
    c.error(path, f"must be a date (YYYY-MM-DD), got {_kind(raw)}")
    return None


def _sensor(
    c: _Checker, raw: Any, workflows: Mapping[str, WorkflowSpec], names_ok: bool
) -> SensorConfig:
    path = "available_dates_sensor"
    value = c.mapping(raw, path, ("schedule", "cdr_types", "workflows"), ("schedule", "workflows"))
    if value is None:
        return SensorConfig(None, None, ())
    schedule = value.get("schedule")
    if schedule is not None:
        if c.string(schedule, f"{path}.schedule"):
            problem = cron_problem(schedule)
            if problem:
                c.error(f"{path}.schedule", f"not a valid cron schedule: {problem}")
                schedule = None
        else:
            schedule = None
    cdr_types = None
    if value.get("cdr_types") is not None:
        raw_types = value["cdr_types"]
        if not isinstance(raw_types, list):
            c.error(f"{path}.cdr_types", f"must be a list of CDR types, got {_kind(raw_types)}")
        else:
            for j, t in enumerate(raw_types):
                if t not in CDR_TYPES:
                    c.error(
                        f"{path}.cdr_types[{j}]",
                        f"{_kind(t)} is not one of: {', '.join(CDR_TYPES)}",
                    )
            cdr_types = tuple(dict.fromkeys(t for t in raw_types if t in CDR_TYPES))
    runs: list[SensorWorkflow] = []
    raw_runs = value.get("workflows")
    if "workflows" in value and not isinstance(raw_runs, list):
        c.error(f"{path}.workflows", f"must be a list, got {_kind(raw_runs)}")
        raw_runs = []
    for i, item in enumerate(raw_runs or []):
        here = f"{path}.workflows[{i}]"
        entry = c.mapping(
            item,
            here,
            ("workflow_name", "parameters", "earliest_date", "date_stencil"),
            ("workflow_name",),
        )
        if entry is None:
            continue
        name = entry.get("workflow_name")
        spec = None
        if "workflow_name" in entry and c.string(name, f"{here}.workflow_name"):
            spec = workflows.get(name)
            if spec is None and names_ok:
                known = ", ".join(workflows) or "none"
                c.error(f"{here}.workflow_name", f"no workflow named {name!r} (defined: {known})")
        parameters = entry.get("parameters") or {}
        if not isinstance(parameters, Mapping):
            c.error(f"{here}.parameters", f"must be a mapping, got {_kind(parameters)}")
            parameters = {}
        for key in parameters:
            if key in AUTOMATIC_PARAMETERS:
                c.error(
                    f"{here}.parameters.{key}",
                    f"{key!r} is reserved: the sensor sets it for each date",
                )
        if spec is not None:
            expected = spec.parameter_names - set(AUTOMATIC_PARAMETERS)
            given = set(parameters) - set(AUTOMATIC_PARAMETERS)
            missing = sorted(expected - given)
            unexpected = sorted(str(k) for k in given - expected)
            if missing:
                c.error(
                    f"{here}.parameters",
                    f"missing parameters for workflow {name!r}: {', '.join(missing)}",
                )
            if unexpected:
                c.error(
                    f"{here}.parameters",
                    f"unexpected parameters for workflow {name!r}: {', '.join(unexpected)} "
                    f"(it takes: {', '.join(sorted(expected)) or 'none besides reference_date and date_ranges'})",
                )
        earliest = None
        if entry.get("earliest_date") is not None:
            earliest = _date(c, entry["earliest_date"], f"{here}.earliest_date")
        stencil = DateStencil()
        if entry.get("date_stencil") is not None:
            try:
                stencil = DateStencil.parse(entry["date_stencil"], f"{here}.date_stencil")
            except ValueError as exc:
                c.errors.append(str(exc))
        if spec is not None:
            runs.append(SensorWorkflow(spec.name, dict(parameters), earliest, stencil))
    return SensorConfig(schedule, cdr_types, tuple(runs))


def parse_config(raw: Any, path: Path) -> Config:
    """The configuration `raw` (parsed YAML) of the file at `path`; ConfigError listing every mistake."""
    c = _Checker()
    base = path.parent
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"{path}: must be a mapping with 'workflows' and 'available_dates_sensor'"
        )
    for key in raw:
        if key not in ("workflows", "available_dates_sensor"):
            c.error(str(key), "unknown section (expected: workflows, available_dates_sensor)")
    for key in ("workflows", "available_dates_sensor"):
        if key not in raw:
            c.error(key, "section missing")
    workflows = _workflows(c, raw["workflows"], base) if "workflows" in raw else {}
    names_ok = "workflows" in raw and not any(
        e.startswith("workflows[") and ".name:" in e for e in c.errors
    )
    sensor = (
        _sensor(c, raw["available_dates_sensor"], workflows, names_ok)
        if "available_dates_sensor" in raw
        else SensorConfig(None, None, ())
    )
    if c.errors:
        raise ConfigError(f"{path}: {len(c.errors)} mistake(s):\n  " + "\n  ".join(c.errors))
    return Config(path=path, workflows=workflows, sensor=sensor)


def load_config(path: Path | str) -> Config:
    """Read and validate workflows.yml at `path` (a file, or the inputs folder holding one)."""
    path = Path(path)
    if path.is_dir():
        path = path / WORKFLOWS_FILE
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_config(raw, path)
