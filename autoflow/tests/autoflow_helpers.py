"""Tiny notebooks and workflows.yml files for AutoFlow's tests."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nbformat
import yaml

from autoflow.settings import Settings

# A token flowclient accepts to connect with (it reads `sub`); no FlowAPI of ours would accept it.
DUMMY_TOKEN = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ0ZXN0In0."


def write_notebook(path: Path, parameters: Mapping[str, Any], code: str) -> Path:
    """A notebook with a `parameters` cell (papermill injects after it) and one code cell."""
    nb = nbformat.v4.new_notebook()
    defaults = "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
    nb.cells = [
        nbformat.v4.new_code_cell(defaults, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(code),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


def write_workflows(inputs: Path, spec: Mapping[str, Any]) -> Path:
    path = inputs / "workflows.yml"
    path.write_text(yaml.safe_dump(dict(spec), sort_keys=False))
    return path


def settings_for(root: Path, **env: str) -> Settings:
    inputs = root / "inputs"
    inputs.mkdir(exist_ok=True)
    return Settings.from_env(
        {
            "AUTOFLOW_HOME": str(root / "home"),
            "AUTOFLOW_INPUTS_DIR": str(inputs),
            "AUTOFLOW_OUTPUTS_DIR": str(root / "outputs"),
            "FLOWAPI_TOKEN": DUMMY_TOKEN,
            # never a FlowAPI someone runs on the default port
            "FLOWAPI_URL": f"http://127.0.0.1:{closed_port()}",
            **env,
        },
        secrets_dir=None,
    )


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fake_pdf(executed_notebook: Path, pdf_path: Path, *, template: Path | None = None) -> Path:
    """Stands in for notebook_to_pdf where the PDF itself is not what is tested."""
    pdf_path.write_bytes(b"%PDF-1.4 " + executed_notebook.name.encode())
    return pdf_path
