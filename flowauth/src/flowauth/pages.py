"""The web UI: one server-rendered HTML shell at `/` and its static files (plain JavaScript ES modules, CSS).

The shell's script (`static/js/app.js`) talks to the JSON API (docs/flowauth.md) and draws every page in the
browser; nothing here touches the database. The blueprint has no url_prefix and owns only `/`, `/index.html`
and `/static/ui/...` (the files of `static/`), none of which the API uses.
"""

from __future__ import annotations

from flask import Blueprint, Response, make_response, render_template

from flowauth import __version__

bp = Blueprint(
    "pages",
    __name__,
    static_folder="static",
    static_url_path="/static/ui",
    template_folder="templates",
)

# The shell loads only files of this origin: a strict policy keeps injected markup inert.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


@bp.get("/")
@bp.get("/index.html")
def index() -> Response:
    response = make_response(render_template("index.html", version=__version__))
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response
