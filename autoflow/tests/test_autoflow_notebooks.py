"""Notebooks run by papermill (parameters, folder, environment, failures) and rendered as PDF reports
(asciidoctor-pdf: every page renders, no code in the text, failures leave no PDF)."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from autoflow.errors import NotebookFailed, RenderFailed
from autoflow.markdown_asciidoc import MarkdownToAsciidoc
from autoflow.notebooks import execute_notebook, json_normalised
from autoflow.pdf import image_pdfwidth, notebook_to_asciidoc, notebook_to_pdf

needs_asciidoctor = pytest.mark.skipif(
    shutil.which("asciidoctor-pdf") is None or shutil.which("pdftoppm") is None,
    reason="asciidoctor-pdf and poppler-utils are installed by `make deps`",
)


def write_notebook(
    path: Path, *cells: str, parameters: str | None = None, markdown: str | None = None
) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    if markdown is not None:
        notebook.cells.append(nbformat.v4.new_markdown_cell(markdown))
    if parameters is not None:
        cell = nbformat.v4.new_code_cell(parameters)
        cell.metadata["tags"] = ["parameters"]
        notebook.cells.append(cell)
    notebook.cells.extend(nbformat.v4.new_code_cell(source) for source in cells)
    nbformat.write(notebook, path)
    return path


def outputs_text(path: Path) -> str:
    notebook = nbformat.read(path, as_version=4)
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            texts.append(
                output.get("text", "") or str(output.get("data", {}).get("text/plain", ""))
            )
    return "".join(texts)


def test_json_normalised_turns_dates_and_tuples_into_json() -> None:
    params = {
        "d": dt.date(2016, 1, 2),
        "t": (dt.date(2016, 1, 1), 3),
        "p": Path("/x/y.ipynb"),
        "n": None,
    }
    assert json_normalised(params) == {
        "d": "2016-01-02",
        "t": ["2016-01-01", 3],
        "p": "/x/y.ipynb",
        "n": None,
    }


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run of a notebook with parameters, an environment variable, a figure, Markdown and a table."""
    folder = tmp_path_factory.mktemp("inputs")
    (folder / "beside.txt").write_text("found beside the notebook")
    notebook = write_notebook(
        folder / "report.ipynb",
        "import os\nprint('CWD', open('beside.txt').read(), 'TOKEN', os.environ['SOME_TOKEN'])\n"
        "print('DATES', reference_date, date_ranges)",
        "SECRET_CODE_MARKER = 41\nimport matplotlib.pyplot as plt\nfig, ax = plt.subplots(figsize=(8, 3))\n"
        "ax.bar(['north', 'south'], [n, n * 2])\nax.set_title('Subscribers by region')\nplt.show()",
        "from IPython.display import Markdown\nMarkdown('Regions counted: **%d**' % n)",
        parameters="n = 1\nreference_date = None\ndate_ranges = None",
        markdown="# Weekly report\n\nA table:\n\n| region | count |\n|---|--:|\n| north_1 | 12 |",
    )
    out = tmp_path_factory.mktemp("outputs") / "notebooks" / "report__run.ipynb"
    result = execute_notebook(
        notebook,
        out,
        {
            "n": 21,
            "reference_date": dt.date(2016, 1, 3),
            "date_ranges": [(dt.date(2016, 1, 1), dt.date(2016, 1, 2))],
        },
        env={"SOME_TOKEN": "tok-123"},
    )
    assert result == out
    return out


def test_execute_notebook_injects_parameters_in_its_folder_with_env(executed: Path) -> None:
    text = outputs_text(executed)
    assert "CWD found beside the notebook TOKEN tok-123" in text
    assert "DATES 2016-01-03 [['2016-01-01', '2016-01-02']]" in text
    notebook = nbformat.read(executed, as_version=4)
    assert any("injected-parameters" in cell.metadata.get("tags", []) for cell in notebook.cells)


def test_failing_cell_raises_notebook_failed_naming_cell_and_error(tmp_path: Path) -> None:
    notebook = write_notebook(
        tmp_path / "broken.ipynb",
        "y = x * 2",
        "raise ValueError(f'no data for region {y}\\nsecond line of detail')",
        "print('never reached')",
        parameters="x = 0",
    )
    out = tmp_path / "out" / "broken__run.ipynb"
    with pytest.raises(NotebookFailed) as raised:
        execute_notebook(notebook, out, {"x": 7})
    message = str(raised.value)
    assert "broken.ipynb" in message
    assert (
        "cell 3" in message
    )  # the third cell of the notebook as written (before papermill's injected one)
    assert "ValueError: no data for region 14" in message
    assert "second line" not in message and "Traceback" not in message
    # the executed notebook is kept, with the traceback, for inspection
    assert out.exists() and "ValueError" in out.read_text()


def test_missing_notebook_raises_notebook_failed(tmp_path: Path) -> None:
    with pytest.raises(NotebookFailed, match="does not exist"):
        execute_notebook(tmp_path / "nope.ipynb", tmp_path / "out.ipynb", {})


def test_markdown_becomes_asciidoc_with_special_characters_kept() -> None:
    convert = MarkdownToAsciidoc()
    text = convert(
        "# Title\n\nCost *per* user: 3 * 4 {x} a_b | c\n\n# Second\n\n- [site](http://e.org/a_b)"
    )
    lines = text.splitlines()
    assert lines[0] == "= Title"
    assert "__per__" in text and "&#42;" in text and "&#123;x&#125;" in text and "&#124;" in text
    assert "== Second" in lines  # one title per document
    assert "* link:++http://e.org/a_b++[site]" in lines


@needs_asciidoctor
def test_report_pdf_renders_every_page_without_code(executed: Path, tmp_path: Path) -> None:
    pdf = notebook_to_pdf(executed, tmp_path / "reports" / "report.pdf")
    assert pdf == tmp_path / "reports" / "report.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert list(pdf.parent.iterdir()) == [pdf]  # no temporary files left beside it
    pages = int(
        next(
            line.split()[-1]
            for line in subprocess.run(
                ["pdfinfo", str(pdf)], capture_output=True, text=True, check=True
            ).stdout.splitlines()
            if line.startswith("Pages:")
        )
    )
    subprocess.run(
        ["pdftoppm", "-r", "30", "-png", str(pdf), str(tmp_path / "page")], check=True, timeout=60
    )
    assert len(list(tmp_path.glob("page-*.png"))) == pages >= 1
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Weekly report" in text and "north_1" in text and "Regions counted: 21" in text
    for hidden in (
        "SECRET_CODE_MARKER",
        "import",
        "plt.subplots",
        "CWD",
        "TOKEN",
    ):  # code and prints
        assert hidden not in text
    adoc = notebook_to_asciidoc(executed, tmp_path / "adoc")
    assert "image::images/" in adoc.read_text() and "pdfwidth=90%" in adoc.read_text()
    assert len(list((tmp_path / "adoc" / "images").glob("*.png"))) == 1


@needs_asciidoctor
def test_missing_asciidoctor_leaves_no_pdf(executed: Path, tmp_path: Path) -> None:
    with pytest.raises(RenderFailed, match="not installed"):
        notebook_to_pdf(executed, tmp_path / "r.pdf", asciidoctor_pdf="asciidoctor-pdf-not-here")
    assert list(tmp_path.iterdir()) == []


@needs_asciidoctor
def test_bad_template_raises_render_failed_and_leaves_no_pdf(
    executed: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "templates" / "broken.asciidoc.j2"
    broken.parent.mkdir()
    broken.write_text(
        "{% extends 'report_asciidoc/index.asciidoc.j2' %}{% block header %}{{ oops( }}{% endblock %}"
    )
    reports = tmp_path / "reports"
    with pytest.raises(RenderFailed, match="broken.asciidoc.j2"):
        notebook_to_pdf(executed, reports / "r.pdf", template=broken)
    with pytest.raises(RenderFailed, match="does not exist"):
        notebook_to_pdf(executed, reports / "r.pdf", template=tmp_path / "missing.j2")
    # a template whose AsciiDoc asciidoctor-pdf rejects (two level-0 titles in an article): its error comes
    # back, and no PDF
    invalid = tmp_path / "templates" / "invalid.asciidoc.j2"
    invalid.write_text("= Report\n\nSome text.\n\n= A second document title\n\nMore text.\n")
    with pytest.raises(RenderFailed, match="asciidoctor-pdf failed .*level 0 sections"):
        notebook_to_pdf(executed, reports / "r.pdf", template=invalid)
    assert list(reports.iterdir()) == []


@needs_asciidoctor
def test_user_template_extends_the_default(executed: Path, tmp_path: Path) -> None:
    custom = tmp_path / "mine.asciidoc.j2"
    custom.write_text(
        "{% extends 'report_asciidoc/index.asciidoc.j2' %}"
        "{% block body_footer %}\n\nPrepared by the analytics unit.\n{% endblock %}"
    )
    pdf = notebook_to_pdf(executed, tmp_path / "custom.pdf", template=custom)
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Prepared by the analytics unit." in text and "Weekly report" in text


def test_tall_images_are_narrower_so_they_fit_on_a_page() -> None:
    def png(width: int, height: int) -> bytes:
        return (
            b"\x89PNG\r\n\x1a\n"
            + b"\x00\x00\x00\rIHDR"
            + width.to_bytes(4, "big")
            + height.to_bytes(4, "big")
        )

    resources = {"outputs": {"wide.png": png(1200, 600), "tall.png": png(600, 1200)}}
    assert image_pdfwidth("wide.png", resources) == "90%"
    assert image_pdfwidth("tall.png", resources) == "34%"  # 90% x 0.75 x 600/1200
    assert image_pdfwidth("unknown.png", resources) == "90%"


def test_a_cell_running_too_long_fails_the_notebook(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "slow.ipynb", "import time\ntime.sleep(60)")
    with pytest.raises(
        NotebookFailed, match=r"slow.ipynb .*CellTimeoutError: .*after 1 second"
    ) as raised:
        execute_notebook(notebook, tmp_path / "out.ipynb", {}, cell_timeout=1)
    assert "\n" not in str(raised.value)
