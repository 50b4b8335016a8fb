"""An executed notebook as a PDF report: nbconvert's AsciiDoc export with a report template, then asciidoctor-pdf.

The default template (templates/report_asciidoc, an nbconvert 7 template directory) hides code inputs and stream
output, keeps Markdown, and puts images at 90% of the page width. A user template may replace it: an nbconvert 7
template directory (with conf.json), or a single Jinja file, which may extend ours
(`{% extends 'report_asciidoc/index.asciidoc.j2' %}`). A template directory may hold `pdf-theme.yml`, an
asciidoctor-pdf theme used for its reports.

The .adoc and its images are written to a temporary directory, where asciidoctor-pdf (a subprocess in safe mode
with a timeout, no shell) writes the PDF; it is copied to a temporary name beside `pdf_path` and renamed: a PDF at
`pdf_path` is always a whole one.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import nbformat
from nbconvert.exporters import ASCIIDocExporter
from traitlets.config import Config

from autoflow.errors import RenderFailed
from autoflow.markdown_asciidoc import MarkdownToAsciidoc

logger = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).parent / "templates"
DEFAULT_TEMPLATE = TEMPLATES_DIR / "report_asciidoc"
DEFAULT_TIMEOUT = 300.0
"""Seconds asciidoctor-pdf may take for one report."""
THEME_FILE = "pdf-theme.yml"
_DISPLAY_PRIORITY = [
    "text/asciidoc",
    "image/png",
    "image/jpeg",
    "image/svg+xml",
    "text/markdown",
    "text/html",
    "text/latex",
    "text/plain",
]


def _exporter(template: Path) -> ASCIIDocExporter:
    config = Config(
        {
            "NbConvertBase": {"display_data_priority": _DISPLAY_PRIORITY},
            "TagRemovePreprocessor": {
                "enabled": True,
                "remove_cell_tags": {"remove_cell"},
                "remove_all_outputs_tags": {"remove_output"},
            },
            "ExtractOutputPreprocessor": {"enabled": True},
        }
    )
    template_settings: dict[str, Any]
    if template.is_dir():
        template_settings = {
            "template_name": template.name,
            "extra_template_basedirs": [str(template.parent), str(TEMPLATES_DIR)],
            "extra_template_paths": [str(TEMPLATES_DIR)],
        }
    else:
        template_settings = {
            "template_file": str(template),
            "extra_template_basedirs": [str(TEMPLATES_DIR)],
            "extra_template_paths": [str(template.parent), str(TEMPLATES_DIR)],
        }
    exporter = ASCIIDocExporter(config=config, **template_settings)
    exporter.register_filter("markdown2asciidoc", MarkdownToAsciidoc())
    exporter.register_filter("image_pdfwidth", image_pdfwidth)
    return exporter


IMAGE_WIDTH = 90.0
"""Per cent of the page width an image takes..."""
MAX_HEIGHT_RATIO = 0.75
"""...unless it is taller than this times that width: then narrower, so a tall figure still fits on a page."""


def image_pdfwidth(filename: str, resources: dict[str, Any]) -> str:
    """The `pdfwidth` of an extracted image: 90% of the page width, less for a tall PNG (its height at most
    0.75 times 90% of the page width)."""
    data = (resources.get("outputs") or {}).get(filename)
    width = IMAGE_WIDTH
    # A PNG's IHDR chunk, right after the signature, holds the width and height (big-endian 32-bit).
    if isinstance(data, bytes) and data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        pixels_wide = int.from_bytes(data[16:20], "big")
        pixels_high = int.from_bytes(data[20:24], "big")
        if pixels_wide > 0 and pixels_high / pixels_wide > MAX_HEIGHT_RATIO:
            width = IMAGE_WIDTH * MAX_HEIGHT_RATIO * pixels_wide / pixels_high
    return f"{width:.0f}%"


def notebook_to_asciidoc(
    executed_notebook: Path, directory: Path, *, template: Path | None = None
) -> Path:
    """Write the notebook as `directory/<stem>.adoc` plus its images under `directory/images`; return the .adoc."""
    template = Path(template) if template is not None else DEFAULT_TEMPLATE
    if not template.exists():
        raise RenderFailed(f"report template {template} does not exist")
    try:
        notebook = nbformat.read(str(executed_notebook), as_version=4)
    except Exception as error:
        raise RenderFailed(f"cannot read executed notebook {executed_notebook}: {error}") from error
    _drop_unrenderable(notebook)
    resources: dict[str, Any] = {
        "unique_key": "figure",
        "output_files_dir": "images",
        "metadata": {"name": executed_notebook.stem, "path": str(executed_notebook.parent)},
    }
    try:
        body, resources = _exporter(template).from_notebook_node(notebook, resources=resources)
    except Exception as error:  # Jinja syntax errors, missing templates or blocks, bad outputs
        raise RenderFailed(
            f"converting {executed_notebook.name} to AsciiDoc with template {template} failed: "
            f"{type(error).__name__}: {error}"
        ) from error
    for name, data in (resources.get("outputs") or {}).items():
        target = (directory / name).resolve()
        if directory.resolve() not in target.parents:
            raise RenderFailed(f"notebook output file name {name!r} leaves the report's folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data if isinstance(data, bytes) else str(data).encode())
    adoc = directory / f"{executed_notebook.stem}.adoc"
    adoc.write_text(body, encoding="utf-8")
    return adoc


def _drop_unrenderable(notebook: nbformat.NotebookNode) -> None:
    """Remove data no report can show (scrapbook's glued values), so nbconvert does not warn about them."""
    for cell in notebook.cells:
        outputs = cell.get("outputs")
        if not outputs:
            continue
        for output in outputs:
            data = output.get("data")
            if data:
                for key in [key for key in data if key.startswith("application/scrapbook.")]:
                    del data[key]
        cell.outputs = [
            o
            for o in outputs
            if o.get("output_type") not in ("display_data", "execute_result") or o.get("data")
        ]


def _stderr_tail(text: str, lines: int = 15, chars: int = 2000) -> str:
    tail = "\n".join(text.strip().splitlines()[-lines:])
    return tail[-chars:] if tail else "(no output)"


def notebook_to_pdf(
    executed_notebook: Path,
    pdf_path: Path,
    *,
    template: Path | None = None,
    asciidoctor_pdf: str = "asciidoctor-pdf",
    timeout: float = DEFAULT_TIMEOUT,
) -> Path:
    """Render an executed notebook as a PDF at `pdf_path` (see the module's docstring); return `pdf_path`.

    Raises RenderFailed (with asciidoctor-pdf's last lines of stderr when it is the one failing); no file is
    left at `pdf_path` then."""
    executed_notebook = Path(executed_notebook)
    pdf_path = Path(pdf_path)
    template_dir = (Path(template) if template is not None else DEFAULT_TEMPLATE).resolve()
    command_path = shutil.which(asciidoctor_pdf)
    if command_path is None:
        raise RenderFailed(f"{asciidoctor_pdf} is not installed (make deps installs it)")
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="autoflow-report-") as scratch:
        adoc = notebook_to_asciidoc(executed_notebook, Path(scratch), template=template_dir)
        written = Path(scratch) / "report.pdf"
        command = [
            command_path,
            "--safe-mode",
            "safe",
            "--failure-level",
            "ERROR",
            "-o",
            str(written),
        ]
        theme = (
            template_dir / THEME_FILE if template_dir.is_dir() else template_dir.parent / THEME_FILE
        )
        if theme.is_file():
            command += ["-a", f"pdf-theme={theme}"]
        command.append(str(adoc))
        try:
            completed = subprocess.run(
                command, cwd=scratch, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise RenderFailed(
                f"asciidoctor-pdf took longer than {timeout:g} s for {executed_notebook.name}"
            ) from None
        except OSError as error:
            raise RenderFailed(f"cannot run {asciidoctor_pdf}: {error}") from error
        if completed.returncode != 0 or not _is_pdf(written):
            raise RenderFailed(
                f"asciidoctor-pdf failed for {executed_notebook.name} (exit {completed.returncode}): "
                f"{_stderr_tail(completed.stderr)}"
            )
        if completed.stderr.strip():
            logger.warning(
                "asciidoctor-pdf for %s: %s", executed_notebook.name, _stderr_tail(completed.stderr)
            )
        # The scratch folder may be on another file system: copy beside pdf_path, then rename (atomic).
        partial = pdf_path.with_name(
            f".{pdf_path.stem}.{os.getpid()}.{os.urandom(4).hex()}.partial.pdf"
        )
        try:
            shutil.copyfile(written, partial)
            os.replace(partial, pdf_path)
        except OSError as error:
            partial.unlink(missing_ok=True)
            raise RenderFailed(f"cannot write {pdf_path}: {error}") from error
    return pdf_path


def _is_pdf(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            return file.read(5) == b"%PDF-"
    except OSError:
        return False
