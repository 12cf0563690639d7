"""Hardening: production refuses the sandbox gateway, security headers and CSP on every response,
a cap on request bodies, the seat socket's Origin check, and only the static files pages use."""

from __future__ import annotations

import contextlib
import io
import threading
import uuid

import pytest
from simple_websocket import Client, ConnectionClosed
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.serving import make_server
from werkzeug.test import encode_multipart
from wsproto.events import CloseConnection
from wsproto.frame_protocol import CloseReason

from booking.models.enums import Role
from booking.web.security import static_allowed
from tests.support import sign_in_as, text

# ---- 1. production and the sandbox gateway ---------------------------------------------------


@pytest.fixture
def production(monkeypatch):
    """The environment of a production deploy that left GATEWAY at its default (sandbox)."""
    monkeypatch.setenv("FLASK_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "production-secret")
    monkeypatch.delenv("GATEWAY", raising=False)
    monkeypatch.delenv("ALLOW_SANDBOX_IN_PRODUCTION", raising=False)


def test_production_refuses_the_sandbox_gateway(production, make_app):
    with pytest.raises(RuntimeError, match="ALLOW_SANDBOX_IN_PRODUCTION=1"):
        make_app()


def test_production_runs_the_sandbox_when_told_to_and_sends_hsts(production, make_app, monkeypatch):
    monkeypatch.setenv("ALLOW_SANDBOX_IN_PRODUCTION", "1")
    application = make_app()
    assert application.config["GATEWAY"] == "sandbox"
    response = application.test_client().get("/")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_outside_production_the_sandbox_needs_no_permission_and_no_hsts(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response.headers


# ---- 2. security headers ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/static/css/app.css", "/no-such-page"])
def test_every_response_carries_the_security_headers(client, path):
    response = client.get(path)
    response.close()
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    policy = dict(
        part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";")
    )
    assert policy["frame-ancestors"] == "'none'"
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"  # no inline script, no eval
    assert policy["style-src"] == "'self'"  # no <style> elements (htmx's included)
    assert "style-src-attr" not in policy  # nor style attributes: default-src 'self' rules
    assert policy["connect-src"] == "'self' ws://localhost wss://localhost"
    assert policy["object-src"] == "'none'"


def test_the_seat_map_lays_its_rows_out_without_style_attributes(client, trip_id):
    """No style attribute for the CSP to allow: the decks are rows of cells, not a grid told
    its column count inline."""
    page = client.get(f"/schedules/{trip_id}").get_data(as_text=True)
    assert page.count('<div class="deck-row">') == 10  # the 2+2 bus's ten rows
    assert " style=" not in page


def test_pages_carry_no_inline_script_or_style_element(client):
    """What the CSP forbids is not in the pages: htmx is told not to inject its styles."""
    page = client.get("/").get_data(as_text=True)
    assert "includeIndicatorStyles" in page
    assert "<style" not in page
    assert "<script>" not in page and " onclick=" not in page


# ---- 3. request body size --------------------------------------------------------------------


def test_the_body_limit_leaves_room_for_the_bulk_upload(app):
    assert app.config["MAX_CONTENT_LENGTH"] == app.config["BULK_MAX_BYTES"] + 1024 * 1024


def test_a_too_large_webhook_is_413_json_and_never_verified(app, client, monkeypatch):
    from booking.web.payments import routes

    verified = []
    monkeypatch.setattr(routes.webhooks, "receive_webhook", lambda *a: verified.append(a))
    body = b"{" + b" " * app.config["MAX_CONTENT_LENGTH"] + b"}"
    response = client.post(
        "/payments/webhook", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.get_json()["error"]["status"] == 413
    assert verified == []


def test_a_bulk_upload_up_to_its_own_limit_reaches_the_bulk_page(app, client, auth):
    """A file just over BULK_MAX_BYTES still gets the bulk page's own answer, not a bare 413:
    the request body limit sits above it."""
    sign_in_as(app, auth, Role.ADMIN)
    limit = app.config["BULK_MAX_BYTES"]
    # Encoded here, in memory: the test client would spool a body this size to an unclosed file.
    boundary, body = encode_multipart(
        MultiDict({"file": FileStorage(io.BytesIO(b"x" * (limit + 1)), "trips.csv")})
    )
    response = client.post(
        "/admin/bulk/schedules/preview",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code == 413
    assert f"larger than {limit} bytes" in text(response)


# ---- 4. the seat socket's Origin -------------------------------------------------------------


@pytest.fixture
def served(app):
    """The session's app over real HTTP in a thread: its ws:// base and its http:// origin."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.port}"
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


def close_of(host: str, origin: str | None) -> tuple[int, str]:
    """Open the seat socket of an unknown trip with this Origin; the code and reason it closes."""
    headers = {"Origin": origin} if origin else None
    ws = Client.connect(f"ws://{host}/ws/schedules/{uuid.uuid4()}/seats", headers=headers)
    try:
        with pytest.raises(ConnectionClosed) as closed:
            ws.receive(timeout=3)
    finally:
        with contextlib.suppress(ConnectionClosed):
            ws.close()
        ws.thread.join(timeout=5)
    if closed.value.reason == CloseReason.NO_STATUS_RCVD:
        # simple-websocket's client reads only the handshake's first event: a close frame that
        # came in the same packet as the 101 is left parsed but unread in wsproto, and the client
        # then reports the dropped connection (1005). Take the frame the server did send.
        for event in ws.ws.events():
            if isinstance(event, CloseConnection):
                return event.code, event.reason
    return closed.value.reason, closed.value.message


def test_a_seat_socket_opened_from_another_site_is_refused(served):
    assert close_of(served, "http://evil.example") == (
        1008,
        "This seat map belongs to another site.",
    )
    assert close_of(served, "null")[0] == 1008


def test_a_seat_socket_from_this_site_or_without_origin_is_served(served):
    """Past the Origin check the unknown trip answers 4404, as it always has. (The test client
    sends ``Host: 127.0.0.1`` without the port, so that is this site's origin here.)"""
    assert close_of(served, "http://127.0.0.1")[0] == 4404
    assert close_of(served, "http://127.0.0.1:1")[0] == 1008  # another port is another site
    assert close_of(served, None)[0] == 4404


# ---- 5. static files -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/static/node_modules/htmx.org/dist/htmx.min.js",
        "/static/package.json",
        "/static/package-lock.json",
        "/static/css/../node_modules/htmx.org/dist/htmx.min.js",
        "/static/css/%2e%2e/package.json",
    ],
)
def test_build_inputs_under_static_are_not_served(client, path):
    assert client.get(path).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/static/vendor/htmx.min.js",
        "/static/css/app.css",
        "/static/js/app.js",
        "/static/favicon.svg",
    ],
)
def test_what_pages_link_to_is_served(client, path):
    response = client.get(path)
    assert response.status_code == 200
    response.close()


def test_static_allowed_resolves_dot_dot_first():
    assert static_allowed("vendor/ws.js")
    assert not static_allowed("vendor/../node_modules/x.js")
    assert not static_allowed("css/..\\package.json")
