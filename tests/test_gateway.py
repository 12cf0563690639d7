"""The sandbox gateway: sessions, refunds, and webhooks that only verify when signed and fresh."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from flask import Blueprint
from hypothesis import given, settings
from hypothesis import strategies as st

from booking.gateway import GatewaySession, WebhookError, WebhookEvent, get_gateway
from booking.gateway.sandbox import SandboxGateway, build_event, sign
from tests.support import NOW

SECRET = "whsec-test"
TOLERANCE = 300
gateway = SandboxGateway(webhook_secret=SECRET, tolerance_seconds=TOLERANCE)


def signed(body: bytes, at=NOW, secret: str = SECRET) -> dict[str, str]:
    """Headers signing ``body`` at time ``at``."""
    return sign(body, int(at.timestamp()), secret)


REMOVE = object()


def event_body(data_changes: dict | None = None, **changes) -> bytes:
    """A compact JSON webhook body with fields replaced, or removed when given REMOVE."""
    event = json.loads(build_event("payment.succeeded", "sbx_abc", Decimal("944.99"), now=NOW))
    for fields, edits in ((event, changes), (event["data"], data_changes or {})):
        for key, value in edits.items():
            if value is REMOVE:
                del fields[key]
            else:
                fields[key] = value
    return json.dumps(event, separators=(",", ":")).encode()


def refused(body: bytes, headers: dict[str, str], now=NOW) -> str:
    """The message verify_webhook refuses with."""
    with pytest.raises(WebhookError) as caught:
        gateway.verify_webhook(headers, body, now)
    assert caught.value.status == 400
    return caught.value.message


def test_build_event_writes_the_documented_compact_json():
    """{"id": "evt_<hex>", "type", "created": unix time, "data": {"reference", "amount"}}."""
    body = build_event("payment.failed", "sbx_1", Decimal("5"), now=NOW, event_id="evt_fixed")
    assert body == (
        b'{"id":"evt_fixed","type":"payment.failed","created":%d,'
        b'"data":{"reference":"sbx_1","amount":"5.00"}}' % int(NOW.timestamp())
    )
    generated = json.loads(build_event("payment.failed", "sbx_1", Decimal("5"), now=NOW))["id"]
    assert re.fullmatch(r"evt_[0-9a-f]{24}", generated)


def test_sign_is_hmac_sha256_over_timestamp_dot_body():
    """The signature header is 'v1=' and the hex HMAC of b'<ts>.' + body."""
    import hashlib
    import hmac

    headers = sign(b"{}", 1700000000, "s3cret")
    expected = hmac.new(b"s3cret", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert headers == {"X-Sandbox-Timestamp": "1700000000", "X-Sandbox-Signature": "v1=" + expected}


def test_a_signed_event_verifies_and_parses():
    """Round trip: build, sign, verify gives back the event with a Decimal amount."""
    body = build_event("payment.succeeded", "sbx_abc", Decimal("944.99"), now=NOW, event_id="e1")
    event = gateway.verify_webhook(signed(body), body, NOW)
    assert event == WebhookEvent(
        event_id="e1",
        event_type="payment.succeeded",
        gateway_reference="sbx_abc",
        amount=Decimal("944.99"),
        payload=json.loads(body),
    )


@pytest.mark.parametrize(
    "event_type", ["payment.succeeded", "payment.failed", "payment.abandoned", "refund.succeeded"]
)
def test_every_known_event_type_is_accepted(event_type):
    """The four event types the payments service handles."""
    body, headers = gateway.signed_event(event_type, "sbx_abc", Decimal("1.00"), now=NOW)
    assert gateway.verify_webhook(headers, body, NOW).event_type == event_type


def test_header_names_are_matched_whatever_their_case():
    """HTTP header names are case-insensitive; a plain dict of lower-case names works too."""
    body = event_body()
    headers = {name.lower(): value for name, value in signed(body).items()}
    assert gateway.verify_webhook(headers, body, NOW).amount == Decimal("944.99")


def test_a_tampered_body_is_refused():
    """Changing the amount after signing breaks the signature."""
    body = event_body()
    headers = signed(body)
    tampered = body.replace(b"944.99", b"1.00")
    assert refused(tampered, headers) == "The webhook signature does not match."


def test_a_signature_made_with_another_secret_is_refused():
    """Only the shared webhook secret signs acceptable events."""
    body = event_body()
    assert refused(body, signed(body, secret="not-the-secret")) == (
        "The webhook signature does not match."
    )


def test_a_signature_for_another_timestamp_is_refused():
    """The timestamp is signed too: moving it forward to dodge the age check fails."""
    body = event_body()
    headers = signed(body, at=NOW - timedelta(hours=1))
    headers["X-Sandbox-Timestamp"] = str(int(NOW.timestamp()))
    assert refused(body, headers) == "The webhook signature does not match."


@pytest.mark.parametrize("signature", ["v1=", "v1=abc", "v1=" + "é" * 64, "v1=" + "0" * 64])
def test_garbage_signatures_are_refused(signature):
    """Short, non-hex, non-ASCII or all-zero signatures never match (and never crash)."""
    body = event_body()
    headers = {**signed(body), "X-Sandbox-Signature": signature}
    assert "signature" in refused(body, headers)


def test_an_event_older_than_the_tolerance_is_refused():
    """A correctly signed event from 301 seconds ago may be a replay."""
    body = event_body()
    message = refused(body, signed(body), now=NOW + timedelta(seconds=TOLERANCE + 1))
    assert message == "The webhook is too old (301 seconds); it may be a replay."


def test_an_event_at_the_edge_of_the_tolerance_is_accepted():
    """Exactly 300 seconds old, or 300 seconds ahead (clock skew), still verifies."""
    body = event_body()
    assert gateway.verify_webhook(signed(body), body, NOW + timedelta(seconds=TOLERANCE))
    assert gateway.verify_webhook(signed(body), body, NOW - timedelta(seconds=TOLERANCE))


def test_an_event_dated_too_far_in_the_future_is_refused():
    """A timestamp more than the tolerance ahead of our clock is refused."""
    body = event_body()
    message = refused(body, signed(body, at=NOW + timedelta(seconds=TOLERANCE + 1)))
    assert message == "The webhook is dated 301 seconds in the future."


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("X-Sandbox-Timestamp", "The webhook has no X-Sandbox-Timestamp header."),
        ("X-Sandbox-Signature", "The webhook has no X-Sandbox-Signature header."),
    ],
)
def test_missing_headers_are_refused(missing, message):
    """Each required header is named when it is absent."""
    body = event_body()
    headers = signed(body)
    del headers[missing]
    assert refused(body, headers) == message
    assert refused(body, {}) == "The webhook has no X-Sandbox-Timestamp header."


@pytest.mark.parametrize("timestamp", ["soon", "-1", "1_700_000_000", " 1700000000", "1e9"])
def test_a_timestamp_that_is_not_unix_seconds_is_refused(timestamp):
    """The timestamp header must be plain digits."""
    body = event_body()
    headers = {**signed(body), "X-Sandbox-Timestamp": timestamp}
    assert refused(body, headers) == "The X-Sandbox-Timestamp header is not a Unix time."


def test_a_signature_of_another_scheme_is_refused():
    """Only v1 signatures are understood."""
    body = event_body()
    headers = {**signed(body)}
    headers["X-Sandbox-Signature"] = headers["X-Sandbox-Signature"].replace("v1=", "v0=")
    assert refused(body, headers) == "The X-Sandbox-Signature header is not a v1 signature."


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "The webhook body is not valid JSON."),
        (b"", "The webhook body is not valid JSON."),
        (b"\xff\xfe\x00", "The webhook body is not valid JSON."),
        (b'{"amount": NaN}', "The webhook body is not valid JSON."),
        (b"[" * 100_000 + b"]" * 100_000, "The webhook body is not valid JSON."),
        (b"[1, 2]", "The webhook body is not a JSON object."),
        (event_body(id=REMOVE), "The webhook event has no usable id."),
        (event_body(id=""), "The webhook event has no usable id."),
        (event_body(id="e" * 65), "The webhook event has no usable id."),
        (event_body(id=7), "The webhook event has no usable id."),
        (event_body(type="refund.ok"), "The webhook event type 'refund.ok' is not one we know."),
        (event_body(type=REMOVE), "The webhook event type 'None' is not one we know."),
        (event_body(data=REMOVE), "The webhook event has no data object."),
        (event_body(data=[]), "The webhook event has no data object."),
        (event_body({"reference": REMOVE}), "The webhook event names no usable payment reference."),
        (event_body({"reference": 42}), "The webhook event names no usable payment reference."),
    ],
)
def test_signed_but_malformed_bodies_are_refused(body, message):
    """A valid signature over a body we cannot read still gets a clear WebhookError."""
    assert refused(body, signed(body)) == message


@pytest.mark.parametrize(
    "amount",
    ["12.345", "-5.00", "abc", "1e3", "", " 5.00", "NaN", "12345678901.00", 12.5, 12, None, REMOVE],
)
def test_bad_amounts_are_refused(amount):
    """The amount is a decimal string with at most two places: never a float, never negative."""
    body = event_body({"amount": amount})
    assert refused(body, signed(body)) == (
        'The webhook amount must be a decimal string such as "123.45".'
    )


def test_a_zero_amount_is_refused():
    """No event moves nothing."""
    body = event_body({"amount": "0.00"})
    assert refused(body, signed(body)) == "The webhook amount must be more than zero."


@settings(database=None, max_examples=200)
@given(body=st.binary(max_size=300))
def test_any_signed_bytes_give_an_event_or_a_webhook_error(body):
    """Fuzz: whatever the body, verify_webhook never raises anything but WebhookError."""
    with contextlib.suppress(WebhookError):
        gateway.verify_webhook(signed(body), body, NOW)


@settings(database=None, max_examples=200)
@given(headers=st.dictionaries(st.text(max_size=30), st.text(max_size=80), max_size=4))
def test_any_headers_give_a_webhook_error(headers):
    """Fuzz: arbitrary header sets are refused with WebhookError, nothing else."""
    with pytest.raises(WebhookError):
        gateway.verify_webhook(headers, event_body(), NOW)


def test_create_session_outside_a_request_points_at_the_sandbox_page(app_ctx):
    """Reference sbx_<hex>; the url is the sandbox checkout path of the payment."""
    payment_id = uuid.uuid4()
    session = gateway.create_session(payment_id, Decimal("944.99"), "/holds/x")
    assert isinstance(session, GatewaySession)
    assert re.fullmatch(r"sbx_[0-9a-f]{24}", session.reference)
    assert session.url == f"/gateway/sandbox/{payment_id}"
    assert gateway.create_session(payment_id, Decimal("1"), "/").reference != session.reference


def test_create_session_in_a_request_uses_the_gateway_sandbox_endpoint(make_app):
    """Inside a request the url comes from url_for('gateway.sandbox')."""
    app = make_app()
    if "gateway.sandbox" not in app.view_functions:
        # The real page belongs to the checkout blueprint; stand one in at the same address.
        stand_in = Blueprint("gateway", __name__)
        stand_in.add_url_rule(
            "/pay/sandbox/<uuid:payment_id>", "sandbox", lambda payment_id: "page"
        )
        app.register_blueprint(stand_in)
    payment_id = uuid.uuid4()
    with app.test_request_context("/holds/x"):
        from flask import url_for

        expected = url_for("gateway.sandbox", payment_id=payment_id)
        assert gateway.create_session(payment_id, Decimal("1.00"), "/holds/x").url == expected


def test_refund_always_succeeds_and_logs_it(app, caplog):
    """The sandbox refund returns sbx_rf_<hex> and writes one event log line (in the logfmt that
    create_app configures)."""
    with caplog.at_level(logging.INFO, logger="booking.events"):
        reference = gateway.refund("sbx_abc", Decimal("100.00"), "seat 2B cancelled")
    assert re.fullmatch(r"sbx_rf_[0-9a-f]{24}", reference)
    [line] = [r.getMessage() for r in caplog.records if "gateway.refunded" in r.getMessage()]
    assert f"refund_reference={reference}" in line and "reference=sbx_abc" in line
    assert "amount=100.00" in line and 'reason="seat 2B cancelled"' in line


def test_get_gateway_gives_the_sandbox_configured_from_the_settings(app_ctx):
    """GATEWAY=sandbox: a SandboxGateway with the app's webhook secret and tolerance."""
    chosen = get_gateway()
    assert isinstance(chosen, SandboxGateway)
    assert chosen.webhook_secret == "test-webhook-secret"
    assert chosen.tolerance_seconds == 300
    body, headers = chosen.signed_event("payment.failed", "sbx_x", Decimal("2.00"), now=NOW)
    assert chosen.verify_webhook(headers, body, NOW).event_type == "payment.failed"


def test_get_gateway_refuses_an_unknown_gateway(make_app):
    """A misspelt GATEWAY setting fails loudly rather than taking payments nowhere."""
    app = make_app(GATEWAY="stripe")
    with app.app_context(), pytest.raises(RuntimeError, match="Unknown GATEWAY 'stripe'"):
        get_gateway()
