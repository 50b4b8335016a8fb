"""Execute one notebook with papermill: parameters injected, run in its own folder, extra environment for the kernel.

The executed notebook is always written to `output_path`, even when a cell raised (it holds the traceback, useful
to inspect); a failure then raises `NotebookFailed` naming the notebook, the cell and the error.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nbformat
import papermill
from jupyter_client.manager import AsyncKernelManager
from papermill.exceptions import PapermillExecutionError

from autoflow.errors import NotebookFailed

KERNEL_NAME = "python3"
"""The workspace's own Python kernel (jupyter_client starts it with the running interpreter)."""

DEFAULT_CELL_TIMEOUT = 3600.0
"""Seconds one cell may run before the notebook fails (a stuck query must not hang the workflow forever)."""


def json_normalised(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters as plain JSON values: dates and times as ISO strings, tuples as lists, paths as strings."""

    def default(value: Any) -> Any:
        if isinstance(value, dt.date | dt.datetime | dt.time):
            return value.isoformat()
        if isinstance(value, set | frozenset):
            return sorted(value, key=str)
        return str(value)

    return json.loads(json.dumps(dict(parameters), default=default))


def _kernel_manager_with_env(extra_env: Mapping[str, str]) -> type[AsyncKernelManager]:
    """A kernel manager class whose kernels get this process's environment plus `extra_env` (the process's own
    environment is left alone, so notebooks running at the same time in other threads don't see each other's)."""
    extra = {str(key): str(value) for key, value in extra_env.items()}

    class _EnvKernelManager(AsyncKernelManager):
        async def _async_pre_start_kernel(self, **kw: Any) -> Any:
            env = dict(kw.pop("env", None) or os.environ)
            env.update(extra)
            return await super()._async_pre_start_kernel(env=env, **kw)

    return _EnvKernelManager


def _input_cell_number(notebook: Path, error: PapermillExecutionError) -> int | None:
    """The failing cell's 1-based position in the input notebook (papermill's injected parameters cell shifts
    positions in the executed one), found by its source; None when no single cell matches."""
    try:
        cells = nbformat.read(str(notebook), as_version=4).cells
    except Exception:
        return None
    matches = [index for index, cell in enumerate(cells) if cell.get("source") == error.source]
    return matches[0] + 1 if len(matches) == 1 else None


def _failure_message(notebook: Path, output_path: Path, error: PapermillExecutionError) -> str:
    cell = _input_cell_number(notebook, error) or error.cell_index + 1
    count = f", In [{error.exec_count}]" if error.exec_count is not None else ""
    evalue = str(error.evalue).strip()
    first_line = evalue.splitlines()[0] if evalue else ""
    if len(first_line) > 500:
        first_line = first_line[:500] + "..."
    what = f"{error.ename}: {first_line}" if first_line else error.ename
    return (
        f"notebook {notebook.name} failed in cell {cell}{count}: {what} "
        f"(executed notebook with the traceback: {output_path})"
    )


def execute_notebook(
    input_path: Path,
    output_path: Path,
    parameters: Mapping[str, Any],
    *,
    env: Mapping[str, str] | None = None,
    cell_timeout: float | None = DEFAULT_CELL_TIMEOUT,
) -> Path:
    """Run the notebook at `input_path` with `parameters` (injected by papermill after the cell tagged
    `parameters`) in the workspace's python3 kernel, in the notebook's own folder, with `env` added to the
    kernel's environment; write the executed notebook to `output_path` and return that path.

    Raises NotebookFailed when a cell raises (the executed notebook is still written) or the notebook can't be
    run at all (missing file, kernel that doesn't start, a cell running longer than `cell_timeout` seconds)."""
    input_path = Path(input_path).resolve()
    output_path = Path(output_path).resolve()
    if not input_path.is_file():
        raise NotebookFailed(f"notebook {input_path} does not exist")
    output_path.parent.mkdir(parents=True, exist_ok=True)
    engine_kwargs: dict[str, Any] = {
        # The kernel's working directory, given to nbclient rather than papermill's `cwd` (which changes the
        # whole process's working directory while the notebook runs).
        "resources": {"metadata": {"path": str(input_path.parent)}},
        "kernel_manager_class": _kernel_manager_with_env(env or {}),
        # The kernel's own log (its TCP-transport warning on every start, the KeyboardInterrupt it logs when
        # shut down) goes to our stderr and alarms operators: only critical messages.
        "extra_arguments": ["--IPKernelApp.log_level=CRITICAL"],
    }
    try:
        papermill.execute_notebook(
            str(input_path),
            str(output_path),
            parameters=json_normalised(parameters),
            kernel_name=KERNEL_NAME,
            progress_bar=False,
            log_output=False,
            execution_timeout=cell_timeout,
            **engine_kwargs,
        )
    except PapermillExecutionError as error:
        raise NotebookFailed(_failure_message(input_path, output_path, error)) from None
    except NotebookFailed:
        raise
    except Exception as error:  # kernel start-up, timeouts, unreadable notebook: say which notebook
        first_line = (str(error).strip().splitlines() or [""])[0]
        raise NotebookFailed(
            f"notebook {input_path.name} could not be executed: {type(error).__name__}: {first_line}"
        ) from error
    return output_path
