"""Security headers on every response: nothing FlowAPI sends may be sniffed into another type, framed, cached
by a shared cache (results and errors speak of a user's queries), or tell where the request came from.

FlowAPI serves JSON, CSV, GeoJSON and YAML, which need no script, style or frame: their policy forbids all.
The ReDoc page (`/api/0/spec/redoc`) runs ReDoc's bundle, from FlowAPI itself or from ReDoc's CDN, which
injects styles, fetches `openapi.json` and searches in a worker built from a `blob:` (checked in Chromium:
the page renders and searches with no violation but ReDoc's footer logo, loaded from its CDN, refused).
Hypercorn's `Server` header is switched off in `main.hypercorn_config`.
"""

from __future__ import annotations

from werkzeug.datastructures import Headers

NO_CONTENT_POLICY = (
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)

DEFAULT_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": NO_CONTENT_POLICY,
    "Cache-Control": "no-store",
}


def redoc_policy(script_source: str) -> str:
    """The ReDoc page's Content-Security-Policy; `script_source` is `'self'` or the CDN's origin."""
    return "; ".join(
        (
            "default-src 'none'",
            f"script-src {script_source}",
            "style-src 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "worker-src blob:",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        )
    )


def add_security_headers(headers: Headers) -> None:
    """Set each default header the response does not set itself (the ReDoc page its policy, the ReDoc
    bundle its caching)."""
    for name, value in DEFAULT_HEADERS.items():
        if name not in headers:
            headers[name] = value
