"""The web UI's shell and static files (flowauth.pages): served with the right types, self-contained (nothing
loaded from another origin), wired to the element ids docs/flowauth.md promises the browser tests."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask

import flowauth
from conftest import ApiClient
from flowauth import pages

PACKAGE = Path(flowauth.__file__).parent
STATIC = PACKAGE / "static"
TEMPLATES = PACKAGE / "templates"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "flowauth.md"

CONTENT_TYPES = {
    ".js": ("text/javascript", "application/javascript"),
    ".css": ("text/css",),
    ".svg": ("image/svg+xml",),
    ".html": ("text/html",),
}
# URLs that are names, not addresses: the SVG namespace (createElementNS) and a placeholder of the reserved
# documentation domain example.org (RFC 2606) in the server form's FlowAPI address field.
ALLOWED_URLS = {"http://www.w3.org/2000/svg", "https://flowapi.example.org"}


def static_files() -> list[Path]:
    return sorted(p for p in STATIC.rglob("*") if p.is_file())


def text_sources() -> list[Path]:
    return [*static_files(), *sorted(TEMPLATES.rglob("*.html"))]


def script_text() -> str:
    return "\n".join(p.read_text() for p in sorted(STATIC.rglob("*.js")))


def test_the_shell_is_served_at_the_root(anon: ApiClient) -> None:
    for path in ("/", "/index.html"):
        reply = anon.get(path)
        assert reply.status_code == 200
        assert reply.mimetype == "text/html"
        html = reply.get_data(as_text=True)
        assert '<script type="module" src="/static/ui/js/app.js"></script>' in html
        assert 'href="/static/ui/css/flowauth.css"' in html
        assert f'<span id="flowauth_version">FlowAuth v{flowauth.__version__}</span>' in html
        policy = reply.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy
        assert reply.headers["X-Content-Type-Options"] == "nosniff"


def test_the_shell_gives_a_first_visit_its_csrf_cookie(anon: ApiClient) -> None:
    anon.get("/")
    assert anon.client.get_cookie("X-CSRF") is not None


@pytest.mark.parametrize("path", static_files(), ids=lambda p: str(p.relative_to(STATIC)))
def test_every_static_file_is_served_with_its_type(anon: ApiClient, path: Path) -> None:
    reply = anon.get(f"/static/ui/{path.relative_to(STATIC).as_posix()}")
    assert reply.status_code == 200
    assert reply.mimetype in CONTENT_TYPES[path.suffix]
    assert reply.get_data() == path.read_bytes()


def test_what_the_shell_and_scripts_load_exists(anon: ApiClient) -> None:
    html = anon.get("/").get_data(as_text=True)
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert anon.get(url).status_code == 200, url
    for script in STATIC.rglob("*.js"):
        for target in re.findall(r'^import\b[^;]*?from\s+"([^"]+)"', script.read_text(), re.M):
            assert target.startswith("./"), f"{script.name} imports {target}: only local modules"
            assert (script.parent / target).is_file(), f"{script.name} imports missing {target}"


def test_unknown_static_files_are_404(anon: ApiClient) -> None:
    assert anon.get("/static/ui/js/nothing.js").status_code == 404
    assert anon.get("/static/ui/../pages.py").status_code == 404


@pytest.mark.parametrize("path", text_sources(), ids=lambda p: p.name)
def test_nothing_refers_to_another_origin(path: Path) -> None:
    text = path.read_text()
    urls = set(re.findall(r"""https?://[^\s"'`)<>]+""", text))
    assert urls <= ALLOWED_URLS, urls - ALLOWED_URLS
    # protocol-relative references and imports of anything not shipped here
    assert not re.search(r"""(?:src|href)\s*=\s*["']//""", text)
    assert not re.search(r"""url\(\s*["']?(?://|https?:)""", text)
    assert not re.search(r"""@import""", text)


def test_page_routes_do_not_collide_with_the_api(app: Flask) -> None:
    rules = list(app.url_map.iter_rules())
    page_rules = {r.rule for r in rules if r.endpoint.startswith(f"{pages.bp.name}.")}
    assert page_rules == {"/", "/index.html", "/static/ui/<path:filename>"}
    api_rules = {r.rule for r in rules if not r.endpoint.startswith(f"{pages.bp.name}.")}
    assert not page_rules & api_rules
    assert not any(r.startswith("/static/ui") for r in api_rules)


def _documented_hooks() -> tuple[set[str], set[str]]:
    section = DOCS.read_text().split("## The web UI", 1)[1].split("\n## ", 1)[0]
    ids = set(re.findall(r"`#([\w-]+)`", section))
    attributes = set(re.findall(r"\[(data-[\w-]+)", section)) | set(
        re.findall(r"`(data-[\w-]+)`", section)
    )
    return ids, attributes


def test_the_documented_element_ids_are_in_the_ui() -> None:
    ids, attributes = _documented_hooks()
    assert {"signin", "scope_picker", "new_token", "flowauth_version"} <= ids
    sources = script_text() + "\n".join(p.read_text() for p in TEMPLATES.rglob("*.html"))
    missing_ids = {i for i in ids if f'"{i}"' not in sources}
    assert not missing_ids, f"documented ids the UI never sets: {sorted(missing_ids)}"
    missing_attributes = {a for a in attributes if f'"{a}"' not in sources}
    assert not missing_attributes, (
        f"documented attributes the UI never sets: {sorted(missing_attributes)}"
    )


def test_the_documented_hook_values_are_in_the_ui() -> None:
    """The fixed values of the documented attribute hooks (data-cy=..., data-action=...)."""
    section = DOCS.read_text().split("## The web UI", 1)[1].split("\n## ", 1)[0]
    sources = script_text()
    for attribute, value in re.findall(r"\[(data-[\w-]+)=([\w-]+)\]", section):
        if value.endswith("-"):  # a prefix such as nested-<kind>
            assert f'"{attribute}": `{value}' in sources, (attribute, value)
        else:
            assert re.search(rf'"{attribute}": "{value}"', sources), (attribute, value)


def test_the_scripts_never_build_markup_from_strings() -> None:
    """Text from the API (names, messages, tokens) is set as text, never parsed as HTML."""
    for script in STATIC.rglob("*.js"):
        text = script.read_text()
        assert "innerHTML" not in text and "outerHTML" not in text, script.name
        assert "insertAdjacentHTML" not in text and "document.write" not in text, script.name
        assert not re.search(r"\beval\(|new Function\(", text), script.name
