"""Answering htmx: the fragment for an htmx request, the full page for anything else."""

from __future__ import annotations

from flask import make_response, redirect, render_template, request
from flask.typing import ResponseReturnValue


def is_htmx() -> bool:
    """True for an htmx request that wants a fragment (not boosted, not a history restore)."""
    headers = request.headers
    return (
        headers.get("HX-Request") == "true"
        and headers.get("HX-Boosted") != "true"
        and headers.get("HX-History-Restore-Request") != "true"
    )


def render(
    page_template: str, fragment_template: str, status: int = 200, **context
) -> ResponseReturnValue:
    """Render ``fragment`` alone for htmx, else ``page`` (which includes it); Vary on HX-Request."""
    template = fragment_template if is_htmx() else page_template
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    return response


def redirect_to_gateway(url: str) -> ResponseReturnValue:
    """Send the customer to the gateway's page, which may be on another site: a plain 302, but
    for any htmx request (a boosted form too) HX-Redirect, so the browser itself goes there
    (an XHR following a 302 to another origin is refused by connect-src 'self')."""
    if request.headers.get("HX-Request") == "true":
        return "", 204, {"HX-Redirect": url}
    return redirect(url)
