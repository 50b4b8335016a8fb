"""docs/analyst-guide.md covers every query kind that FlowMachine publishes and flowclient has a helper for, and
is what scripts/analyst_guide_examples.py renders (no stack needed: the outputs come from the recorded run)."""

from __future__ import annotations

import importlib.util
import inspect
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

import flowclient as fc
from flowclient import aggregates, query_specs

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "analyst-guide.md"
NOT_KINDS = {"hours_spec", "random_sample_spec", "modal_location_from_dates_spec"}


@pytest.fixture(scope="module")
def script() -> ModuleType:
    path = ROOT / "scripts" / "analyst_guide_examples.py"
    spec = importlib.util.spec_from_file_location("analyst_guide_examples", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def guide_kinds() -> list[str]:
    return re.findall(r"^### `([a-z_]+)`$", GUIDE.read_text(), flags=re.M)


def flowclient_kinds() -> set[str]:
    """The kind of every spec helper (aggregates and nested) flowclient exports."""
    kinds = set()
    for module in (aggregates, query_specs):
        for name, _fn in inspect.getmembers(module, inspect.isfunction):
            if name.endswith("_spec") and not name.startswith("_") and name not in NOT_KINDS:
                kinds.add(name.removesuffix("_spec"))
    return kinds


def test_every_published_kind_has_a_section(script: ModuleType) -> None:
    top, nested = script.published_kinds()
    published = set(top) | set(nested)
    in_guide = guide_kinds()
    assert len(in_guide) == len(set(in_guide)), "a kind has two sections"
    assert published - set(in_guide) == set(), "query kinds without a section in the analyst guide"
    assert set(in_guide) - published == set(), "sections for kinds FlowMachine does not publish"


def test_every_flowclient_helper_kind_is_in_the_guide() -> None:
    missing = flowclient_kinds() - set(guide_kinds())
    assert missing == set(), f"flowclient helpers without a section in the analyst guide: {missing}"


def test_examples_match_the_published_kinds(script: ModuleType) -> None:
    top, nested = script.published_kinds()
    assert len(script.EXAMPLES) == len({e.kind for e in script.EXAMPLES}), "a kind has two examples"
    assert {e.kind for e in script.TOP_LEVEL} == set(top)
    assert {e.kind for e in script.NESTED} == set(nested)


def test_each_example_uses_its_kind(script: ModuleType) -> None:
    for ex in script.EXAMPLES:
        uses = (f"fc.{ex.kind}(", f"{ex.kind}_spec(", "fc.get_geography(")
        assert any(u in ex.code for u in uses), f"the {ex.kind} example does not use {ex.kind}"
        assert re.search(r"^df = ", ex.code, flags=re.M), f"the {ex.kind} example sets no df"
    for name in {e.kind for e in script.TOP_LEVEL} - {"geography"}:
        assert callable(getattr(fc, name)), f"flowclient has no fc.{name}"


def test_every_example_has_a_recorded_output(script: ModuleType) -> None:
    outputs = json.loads(script.OUTPUTS.read_text())
    missing = [e.kind for e in script.EXAMPLES if e.kind not in outputs]
    assert missing == [], f"run scripts/analyst_guide_examples.py --only {' '.join(missing)}"
    empty = {e.kind for e in script.EXAMPLES if outputs[e.kind]["rows"] == 0}
    unexplained = {k for k in empty if not next(e for e in script.EXAMPLES if e.kind == k).note}
    assert unexplained == set(), f"empty example outputs without a note: {unexplained}"


def test_guide_is_what_the_script_renders(script: ModuleType) -> None:
    text = GUIDE.read_text()
    generated = text[text.index(script.BEGIN) + len(script.BEGIN) : text.index(script.END)]
    outputs = json.loads(script.OUTPUTS.read_text())
    assert generated == script.render(outputs) + "\n", (
        "docs/analyst-guide.md is out of date: run scripts/analyst_guide_examples.py --render-only "
        "(or without --render-only against a running stack)"
    )


def test_worked_sections_have_outputs_and_figures(script: ModuleType) -> None:
    """The guide's worked sections ("Your own geography", "Rolling windows ...") were run against a stack: each
    snippet has a recorded output and each figure the guide shows is a PNG in docs/img."""
    outputs = json.loads(script.OUTPUTS.read_text())
    snippets = [
        b for t in script.topics.TOPICS for b in t.blocks if isinstance(b, script.topics.Snippet)
    ]
    figures = [
        b for t in script.topics.TOPICS for b in t.blocks if isinstance(b, script.topics.Figure)
    ]
    assert snippets and figures
    missing = [s.key for s in snippets if f"topic:{s.key}" not in outputs]
    assert missing == [], (
        f"run scripts/analyst_guide_examples.py --only topics (no output for {missing})"
    )
    assert [s.key for s in snippets if outputs[f"topic:{s.key}"]["rows"] == 0] == []
    shown = re.findall(r"!\[[^\]]+\]\((img/[^)]+)\)", GUIDE.read_text())
    assert sorted(shown) == sorted(f"img/{f.file}" for f in figures)
    for path in shown:
        assert (GUIDE.parent / path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", (
            f"{path} is not a PNG"
        )


def test_example_layer_is_a_valid_non_overlapping_layer(script: ModuleType) -> None:
    """The example layer the guide tells administrators to load is one `flowdb load-geography --layer` accepts:
    polygons with distinct ids and names, none overlapping another."""
    from shapely.geometry import shape

    layer = json.loads(script.topics.LAYER_FILE.read_text())
    zones = [(f["properties"]["zone"], shape(f["geometry"])) for f in layer["features"]]
    assert len({z for z, _ in zones}) == len(zones) == 5
    assert all(g.is_valid and g.geom_type == "Polygon" for _, g in zones)
    for i, (a, ga) in enumerate(zones):
        for b, gb in zones[i + 1 :]:
            assert ga.intersection(gb).area == 0, f"zones {a} and {b} overlap"
