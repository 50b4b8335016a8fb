"""One run of a notebook workflow (FlowKit's make_notebooks_workflow) for one set of parameters.

The notebooks run in dependency order with papermill (autoflow.notebooks); a notebook parameter naming another
notebook's key receives that notebook's executed path, `flowapi_url` receives FlowAPI's URL, and the others
the run's parameters (reference_date, date_ranges and the sensor's). Executed notebooks are written as
`<notebooks_dir>/<stem>__<tag>__<UTC YYYYMMDDTHHMMSSZ>.ipynb`, tag `<workflow>_<reference_date>_<md5 of the
parameters>`, also when a notebook fails (it holds the traceback). PDF reports are made only when every
notebook of the run succeeded, and appear in the reports folder only when all of them rendered.

Each step goes through `run_step(name, fn)`: plainly called here, a Prefect task in autoflow.flows.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from autoflow.config import NotebookSpec, WorkflowSpec
from autoflow.runs import parameters_hash
from autoflow.settings import Settings

T = TypeVar("T")
RunStep = Callable[[str, Callable[[], Any]], Any]


class Execute(Protocol):
    def __call__(
        self,
        input_path: Path,
        output_path: Path,
        parameters: Mapping[str, Any],
        *,
        env: Mapping[str, str] | None = None,
    ) -> Path: ...


class Render(Protocol):
    def __call__(
        self, executed_notebook: Path, pdf_path: Path, *, template: Path | None = None
    ) -> Path: ...


def direct(name: str, step: Callable[[], T]) -> T:
    return step()


def run_tag(workflow_name: str, parameters: Mapping[str, Any]) -> str:
    """FlowKit's tag for a run's output files: `<workflow>_<reference_date>_<md5 of the parameters>`."""
    return f"{workflow_name}_{parameters.get('reference_date')}_{parameters_hash(parameters)}"


def output_filename(filename: str, tag: str, when: dt.datetime) -> str:
    return f"{Path(filename).stem}__{tag}__{when.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}.ipynb"


@dataclass(frozen=True)
class RunResult:
    notebooks: dict[str, Path]  # notebook key -> executed notebook
    reports: tuple[Path, ...]  # PDFs written to the reports folder


def _default_execute() -> Execute:
    from autoflow.notebooks import execute_notebook

    return execute_notebook


def _default_render() -> Render:
    from autoflow.pdf import notebook_to_pdf

    return notebook_to_pdf


def run_workflow(
    spec: WorkflowSpec,
    parameters: Mapping[str, Any],
    settings: Settings,
    *,
    execute: Execute | None = None,
    render: Render | None = None,
    run_step: RunStep = direct,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> RunResult:
    """Run the workflow's notebooks with `parameters`, then make its reports; raises what a step raised
    (NotebookFailed, RenderFailed, ...), after which no report of this run is in the reports folder."""
    execute = execute or _default_execute()
    tag = run_tag(spec.name, parameters)
    settings.make_dirs()
    executed: dict[str, Path] = {}
    for notebook in spec.notebooks:
        values: dict[str, Any] = {}
        for name, source in notebook.parameters:
            if source in executed:
                values[name] = str(executed[source])
            elif source == "flowapi_url":
                values[name] = settings.flowapi_url
            else:
                values[name] = parameters[source]
        output = settings.notebooks_dir / output_filename(notebook.filename, tag, clock())

        def step(
            notebook: NotebookSpec = notebook,
            output: Path = output,
            values: dict[str, Any] = values,
        ) -> Path:
            return Path(execute(notebook.path, output, values, env=settings.notebook_env()))

        executed[notebook.key] = run_step(f"execute {notebook.key}", step)
    wanted = [n for n in spec.notebooks if n.output is not None]
    if not wanted:
        return RunResult(executed, ())
    render = render or _default_render()
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=settings.reports_dir))
    try:
        staged = []
        for notebook in wanted:
            notebook_run = executed[notebook.key]
            pdf = staging / f"{notebook_run.stem}.pdf"
            template = notebook.output.template if notebook.output else None

            def render_step(
                source: Path = notebook_run, pdf: Path = pdf, template: Path | None = template
            ) -> Path:
                return Path(render(source, pdf, template=template))

            staged.append(run_step(f"render {notebook.key}", render_step))
        reports = []
        for pdf in staged:
            final = settings.reports_dir / pdf.name
            os.replace(pdf, final)
            reports.append(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return RunResult(executed, tuple(reports))
