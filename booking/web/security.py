"""Security headers on every response, and the static files a page may fetch.

A plain ``after_request`` hook rather than flask-talisman: the app needs five fixed headers and
one CSP; talisman would also force HTTPS redirects and rewrite cookie flags that config.py
already sets, and adds nothing the WebSocket handshake (written by simple-websocket, not Flask)
could use.
"""

from __future__ import annotations

import posixpath
from urllib.parse import urlsplit

from flask import Flask, Response, abort, request

# What the pages need: scripts and styles from this site only (no inline <script>, no <style>
# element and no style attribute: htmx's own indicator styles are turned off in base.html and
# live in app.css, htmx settles no style attribute, and the seat map lays its rows out with
# classes). The seat socket is this site's ws:// or wss:// address (added per request in the
# hook, since older browsers do not count ws: as 'self').
CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
}

# The only folders (and files) of static/ that pages link to; node_modules/ and package*.json
# are the build's inputs, not the site's.
STATIC_SERVED = ("css/", "js/", "vendor/")
STATIC_FILES = ("favicon.svg",)

HSTS = "max-age=31536000; includeSubDomains"


def content_security_policy(host: str, socket_base: str = "") -> str:
    """The CSP header, with this host's WebSocket addresses in connect-src, and the ws
    process's origin when seat maps connect elsewhere (WS_BASE_URL)."""
    policy = dict(CSP)
    policy["connect-src"] += f" ws://{host} wss://{host}"
    if socket_base:
        parts = urlsplit(socket_base)
        policy["connect-src"] += f" {parts.scheme}://{parts.netloc}"
    return "; ".join(f"{name} {value}" for name, value in policy.items())


def static_allowed(filename: str) -> bool:
    """Whether a path under static/ is one the pages use (``..`` is resolved first)."""
    path = posixpath.normpath(filename.replace("\\", "/")).lstrip("/")
    return path in STATIC_FILES or path.startswith(STATIC_SERVED)


def register(app: Flask) -> None:
    """Install the static guard and the security headers."""

    @app.before_request
    def _only_served_static() -> None:
        if request.endpoint == "static" and not static_allowed(
            (request.view_args or {}).get("filename", "")
        ):
            abort(404)

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        headers.setdefault(
            "Content-Security-Policy",
            content_security_policy(request.host, app.config.get("WS_BASE_URL", "")),
        )
        if app.config.get("PRODUCTION"):
            # Production runs behind HTTPS only (its cookies are Secure): browsers keep to it.
            headers.setdefault("Strict-Transport-Security", HSTS)
        return response
