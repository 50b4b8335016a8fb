"""AutoFlow's example workflow (autoflow/examples/inputs) against the real stack, run by AutoFlow's own sensor
and run table: the notebooks executed by papermill with the stack's FlowAPI and a token from the environment,
the report rendered by asciidoctor-pdf; the run recorded as a success and skipped by the next look; every page
renders, the map page has a map, no code shows, and the numbers the notebooks glued equal what flowclient
returns for the same queries."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import scrapbook as sb

import flowclient as fc
from autoflow.config import load_config
from autoflow.runs import RunStore
from autoflow.sensor import run_sensor
from autoflow.settings import Settings
from flowclient import aggregates

EXAMPLES = Path(__file__).resolve().parents[1] / "autoflow" / "examples" / "inputs"
REFERENCE_DATE = "2016-03-05"  # the stack's newest date
BASELINE = ["2016-03-01", "2016-03-05"]  # half-open: 1 to 4 March

pytestmark = pytest.mark.skipif(
    shutil.which("asciidoctor-pdf") is None or shutil.which("pdftoppm") is None,
    reason="asciidoctor-pdf and poppler-utils are installed by `make deps`",
)


def _inputs(folder: Path) -> Path:
    """The example's inputs, with a stencil that fits the stack's five March days ([-4, 0) then the day)."""
    shutil.copytree(EXAMPLES, folder)
    workflows = folder / "workflows.yml"
    text = workflows.read_text()
    assert "date_stencil: [[-6, -2], 0]" in text and 'schedule: "0 6 * * *"' in text
    text = text.replace("date_stencil: [[-6, -2], 0]", "date_stencil: [[-4, 0], 0]")
    workflows.write_text(text.replace('schedule: "0 6 * * *"', "schedule: null"))
    return folder


@pytest.fixture(scope="module")
def report(stack, universal_token, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("autoflow")
    settings = Settings(
        inputs_dir=_inputs(out / "inputs"),
        outputs_dir=out / "outputs",
        home=out / "home",
        db_uri=f"sqlite:///{out / 'runs.db'}",
        flowapi_url=stack.flowapi_url,
        flowapi_token=universal_token,
    )
    settings.make_dirs()
    config = load_config(settings.workflows_file)
    store = RunStore.open(settings.db_uri)
    try:
        first = run_sensor(config, settings, store)
        again = run_sensor(config, settings, store)
        latest = store.latest("situation_report", first.outcomes[0].parameters)
    finally:
        store.close()
    assert first.error is None
    assert [(o.parameters["reference_date"].isoformat(), o.state) for o in first.outcomes] == [
        (REFERENCE_DATE, "success")
    ], [o.detail for o in first.outcomes]
    assert latest is not None and latest.state.name == "success"
    assert [o.state for o in again.outcomes] == [
        "skipped"
    ]  # a report already made is not made again
    (outcome,) = first.outcomes
    (pdf,) = outcome.reports
    assert pdf.parent == settings.reports_dir
    executed = {path.name.split("__")[0]: path for path in outcome.notebooks}
    assert all(path.parent == settings.notebooks_dir for path in executed.values())
    return {
        "queries": executed["run_queries"],
        "report": executed["situation_report"],
        "pdf": pdf,
        "out": out,
    }


def _pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def test_report_pdf_renders_with_a_map_and_provenance(stack, report) -> None:
    pdf = report["pdf"]
    assert pdf.read_bytes().startswith(b"%PDF-")
    pages = _pages(pdf)
    prefix = report["out"] / "page"
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(prefix)], check=True, timeout=120)
    rendered = sorted(report["out"].glob("page-*.png"))
    assert len(rendered) == pages >= 2
    images = [matplotlib.image.imread(page)[..., :3] for page in rendered]
    assert all(float(rgb.std()) > 0.02 for rgb in images)  # no blank page
    # The first page carries the subscribers map (sized to fit beside the provenance): many strongly
    # coloured pixels, where a page of text has almost none (text is black or grey).
    saturation = images[0].max(axis=2) - images[0].min(axis=2)
    assert float(np.mean(saturation > 0.1)) > 0.05
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    queries = sb.read_notebook(str(report["queries"])).scraps["queries"].data
    assert "Situation report: 5 March 2016" in text
    assert stack.flowapi_url in text
    assert "UTC" in text and "2016-03-01 to 2016-03-04" in text
    for query in queries.values():
        assert query["query_id"] in text.replace("\n", "")
    for code in ("import ", "sb.glue", "def ", "FLOWAPI_TOKEN"):
        assert code not in text


def test_glued_numbers_equal_flowclient_results(conn, report) -> None:
    scraps = sb.read_notebook(str(report["report"])).scraps
    expected_reference = fc.get_result(
        connection=conn,
        query_spec=aggregates.spatial_aggregate_spec(
            locations=fc.daily_location_spec(
                date=REFERENCE_DATE, aggregation_unit="admin2", method="last"
            )
        ),
    )
    expected_baseline = fc.get_result(
        connection=conn,
        query_spec=aggregates.spatial_aggregate_spec(
            locations=fc.modal_location_from_dates_spec(
                start_date=BASELINE[0],
                end_date=BASELINE[1],
                aggregation_unit="admin2",
                method="last",
            )
        ),
    )
    expected_flows = fc.get_result(
        connection=conn,
        query_spec=aggregates.flows_spec(
            from_location=fc.modal_location_from_dates_spec(
                start_date=BASELINE[0],
                end_date=BASELINE[1],
                aggregation_unit="admin1",
                method="last",
            ),
            to_location=fc.daily_location_spec(
                date=REFERENCE_DATE, aggregation_unit="admin1", method="last"
            ),
        ),
    )
    reference = scraps["reference_counts"].data
    baseline = scraps["baseline_counts"].data
    assert reference and reference == dict(
        zip(expected_reference["pcod"], expected_reference["value"].astype(int), strict=True)
    )
    assert baseline and baseline == dict(
        zip(expected_baseline["pcod"], expected_baseline["value"].astype(int), strict=True)
    )
    moves = expected_flows[expected_flows["pcod_from"] != expected_flows["pcod_to"]]
    assert sorted(map(tuple, scraps["top_flows"].data)) == sorted(
        (r.pcod_from, r.pcod_to, int(r.value)) for r in moves.itertuples()
    )
    pcods = {
        f["properties"]["pcod"]
        for f in fc.get_geography(connection=conn, aggregation_unit="admin2")["features"]
    }
    missing = scraps["missing_regions"].data
    assert missing["reference"] == sorted(pcods - set(reference))
    assert missing["baseline"] == sorted(pcods - set(baseline))
    drop = scraps["largest_drop"].data
    changes = {p: (reference.get(p, 15) - b) / b for p, b in baseline.items()}
    assert drop["pcod"] == min(changes, key=changes.get)
    assert drop["percent"] == round(100 * changes[drop["pcod"]], 1)
