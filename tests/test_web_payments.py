"""Request tests of the gateway's webhook endpoint (its HTTP contract only: the semantics are
tested in test_webhooks.py) and of ticket verification at the bus door."""

from __future__ import annotations

import html
import json
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import select

from booking.extensions import db
from booking.gateway.sandbox import build_event, sign
from booking.models import Booking, Payment, Ticket
from booking.models.enums import PaymentMethod, PaymentStatus, Role, TicketValidity
from booking.orm import utcnow
from booking.services import holds, payments
from booking.services.details import CheckoutDetails, Passenger
from tests.support import PASSWORD, csrf_token, make_trip, make_user, sign_in_as

WEBHOOK = "/payments/webhook"


def details(seats: list[str]) -> CheckoutDetails:
    """Checkout details with one passenger per seat."""
    return CheckoutDetails(
        passengers=tuple(Passenger(n, "Priya Raman", 30, "female") for n in seats),
        contact_name="Priya Raman",
        contact_phone="9876543210",
        contact_email="priya@example.com",
    )


def signed(app: Flask, body: bytes, secret: str | None = None) -> dict[str, str]:
    """Headers signing ``body`` now with the app's webhook secret (or ``secret``)."""
    stamp = int(utcnow().timestamp())
    headers = sign(body, stamp, secret or app.config["GATEWAY_WEBHOOK_SECRET"])
    return {**headers, "Content-Type": "application/json"}


@pytest.fixture
def pending_payment(app) -> tuple[uuid.UUID, str, Decimal]:
    """A customer's gateway payment waiting for the gateway: (id, gateway reference, amount)."""
    with app.app_context():
        now = utcnow()
        trip = make_trip(now=now, departs_in=timedelta(days=2))
        customer = make_user(now=now)
        hold = holds.hold_seats(
            customer_id=customer.id, schedule_id=trip.id, seat_numbers=["2A"], now=now
        )
        started = payments.start_gateway_payment(
            hold_id=hold.id,
            customer_id=customer.id,
            details=details(["2A"]),
            method=PaymentMethod.UPI,
            use_wallet=False,
            now=now,
            return_url="/return",
        )
        payment = db.session.get(Payment, started.payment_id)
        return payment.id, payment.gateway_reference, payment.amount


def payment_status(app: Flask, payment_id: uuid.UUID) -> PaymentStatus:
    """A payment's status, read afresh."""
    with app.app_context():
        return db.session.get(Payment, payment_id).status


# ---- the webhook endpoint ------------------------------------------------------------------------


def test_a_well_signed_webhook_is_applied_and_answered_in_json(client, app, pending_payment):
    """200 JSON naming the outcome and the payment; the booking exists."""
    payment_id, reference, amount = pending_payment
    body = build_event("payment.succeeded", reference, amount, now=utcnow())
    response = client.post(WEBHOOK, data=body, headers=signed(app, body))
    assert response.status_code == 200 and response.is_json
    assert response.get_json() == {"outcome": "confirmed", "payment": str(payment_id)}
    assert payment_status(app, payment_id) == PaymentStatus.COMPLETED
    again = client.post(WEBHOOK, data=body, headers=signed(app, body))
    assert again.status_code == 200 and again.get_json()["outcome"] == "duplicate"


def test_a_bad_signature_is_a_400_json_error_and_changes_nothing(client, app, pending_payment):
    """Signed with the wrong secret: 400 with a JSON error; the payment still pending."""
    payment_id, reference, amount = pending_payment
    body = build_event("payment.succeeded", reference, amount, now=utcnow())
    response = client.post(WEBHOOK, data=body, headers=signed(app, body, secret="wrong"))
    assert response.status_code == 400 and response.is_json
    assert response.get_json() == {
        "error": {"status": 400, "message": "The webhook signature does not match."}
    }
    assert payment_status(app, payment_id) == PaymentStatus.PENDING


def test_an_unsigned_webhook_is_a_400_json_error(client, app, pending_payment):
    """No signature headers at all: 400 JSON."""
    _, reference, amount = pending_payment
    body = build_event("payment.succeeded", reference, amount, now=utcnow())
    response = client.post(WEBHOOK, data=body, content_type="application/json")
    assert response.status_code == 400
    assert "X-Sandbox-Timestamp" in response.get_json()["error"]["message"]


def test_a_body_altered_after_signing_is_refused(client, app, pending_payment):
    """The signature covers the body: a changed amount fails it."""
    payment_id, reference, amount = pending_payment
    body = build_event("payment.succeeded", reference, amount, now=utcnow())
    headers = signed(app, body)
    tampered = body.replace(f'"{amount:.2f}"'.encode(), b'"1.00"')
    response = client.post(WEBHOOK, data=tampered, headers=headers)
    assert response.status_code == 400
    assert payment_status(app, payment_id) == PaymentStatus.PENDING


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json at all", "The webhook body is not valid JSON."),
        (b"[1, 2, 3]", "The webhook body is not a JSON object."),
        (b'{"id": "evt_1", "type": "payment.refunded"}', "is not one we know"),
        (
            b'{"id": "evt_1", "type": "payment.succeeded",'
            b' "data": {"reference": "x", "amount": 5}}',
            "decimal string",
        ),
        (b"", "The webhook body is not valid JSON."),
    ],
    ids=["not-json", "array", "unknown-type", "float-amount", "empty"],
)
def test_a_malformed_body_is_a_400_json_error(client, app, body, message):
    """Well signed but not an event we understand: 400 JSON saying what is wrong."""
    response = client.post(WEBHOOK, data=body, headers=signed(app, body))
    assert response.status_code == 400 and response.is_json
    assert message in response.get_json()["error"]["message"]


def test_an_unknown_payment_is_a_404_json_error(client, app):
    """A well-signed event about a payment we never made: 404 JSON."""
    body = build_event("payment.succeeded", "sbx_nobody", Decimal("10.00"), now=utcnow())
    response = client.post(WEBHOOK, data=body, headers=signed(app, body))
    assert response.status_code == 404 and response.is_json
    assert response.get_json() == {"error": {"status": 404, "message": "Unknown payment."}}


def test_a_stale_webhook_is_refused(client, app, pending_payment):
    """Signed ten minutes ago: 400, it may be a replay."""
    payment_id, reference, amount = pending_payment
    then = utcnow() - timedelta(minutes=10)
    body = build_event("payment.succeeded", reference, amount, now=then)
    headers = sign(body, int(then.timestamp()), app.config["GATEWAY_WEBHOOK_SECRET"])
    response = client.post(WEBHOOK, data=body, headers=headers)
    assert response.status_code == 400 and "too old" in response.get_json()["error"]["message"]
    assert payment_status(app, payment_id) == PaymentStatus.PENDING


def test_the_webhook_only_takes_posts(client):
    """GET: 405, still JSON."""
    response = client.get(WEBHOOK)
    assert response.status_code == 405 and response.get_json()["error"]["status"] == 405


def test_the_webhook_needs_no_csrf_token(make_app, app, pending_payment):
    """With CSRF on, the gateway's POST (which has no session or token) still gets through."""
    guarded = make_app(WTF_CSRF_ENABLED=True)
    payment_id, reference, amount = pending_payment
    body = build_event("payment.failed", reference, amount, now=utcnow())
    response = guarded.test_client().post(WEBHOOK, data=body, headers=signed(app, body))
    assert response.status_code == 200 and response.get_json()["outcome"] == "failed"
    assert payment_status(app, payment_id) == PaymentStatus.FAILED


# ---- verifying tickets ---------------------------------------------------------------------------


@pytest.fixture
def ticket_token(app) -> str:
    """The QR text of a confirmed booking's ticket, on a trip leaving in 6 hours (check-in is
    open: it opens CHECKIN_OPENS_HOURS, 12, before departure)."""
    with app.app_context():
        now = utcnow()
        trip = make_trip(now=now, departs_in=timedelta(hours=6))
        customer = make_user(wallet="1000", now=now)
        hold = holds.hold_seats(
            customer_id=customer.id, schedule_id=trip.id, seat_numbers=["2A"], now=now
        )
        booking = payments.pay_with_wallet(
            hold_id=hold.id, customer_id=customer.id, details=details(["2A"]), now=now
        )
        return db.session.scalar(select(Ticket.qr_payload).where(Ticket.booking_id == booking.id))


def verdict(response) -> str:
    """The big words the verify page shows: VALID, ALREADY USED, CANCELLED, FORGED..."""
    page = html.unescape(response.get_data(as_text=True))
    return page.split('<p class="verify-status">')[1].split("<")[0]


def test_verify_is_for_staff_only(client, app, auth):
    """Anonymous: to sign in; a customer: 403; staff and admins: the form."""
    anonymous = client.get("/tickets/verify")
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"] == "/login?next=%2Ftickets%2Fverify"
    sign_in_as(app, auth, Role.CUSTOMER)
    assert client.get("/tickets/verify").status_code == 403
    assert client.post("/tickets/verify", data={"token": "x"}).status_code == 403
    for role in (Role.STAFF, Role.ADMIN):
        auth.logout()
        sign_in_as(app, auth, role)
        page = client.get("/tickets/verify")
        assert page.status_code == 200 and 'name="token"' in page.text


def test_a_valid_ticket_is_valid_then_used_after_check_in(client, app, auth, ticket_token):
    """Check: VALID with a Check in button; check in; check again: USED."""
    sign_in_as(app, auth, Role.STAFF)
    checked = client.post("/tickets/verify", data={"token": ticket_token, "action": "verify"})
    assert checked.status_code == 200 and verdict(checked) == "VALID"
    assert 'value="check_in"' in checked.text and "2A Priya Raman" in checked.text

    admitted = client.post("/tickets/verify", data={"token": ticket_token, "action": "check_in"})
    assert verdict(admitted) == "VALID" and "Checked in:" in admitted.text
    with app.app_context():
        ticket = db.session.scalar(select(Ticket).where(Ticket.qr_payload == ticket_token))
        assert ticket.validity == TicketValidity.USED

    again = client.post("/tickets/verify", data={"token": ticket_token, "action": "check_in"})
    assert verdict(again) == "ALREADY USED" and "Already checked in" in again.text
    assert 'value="check_in"' not in again.text


def test_a_token_in_the_address_is_verified_too(client, app, auth, ticket_token):
    """A scanner that opens /tickets/verify?token=... gets the verdict without checking in."""
    sign_in_as(app, auth, Role.STAFF)
    response = client.get("/tickets/verify", query_string={"token": ticket_token})
    assert verdict(response) == "VALID"
    with app.app_context():
        ticket = db.session.scalar(select(Ticket).where(Ticket.qr_payload == ticket_token))
        assert ticket.validity == TicketValidity.VALID


def test_checking_in_needs_a_post(client, app, auth, ticket_token):
    """GET with action=check_in only verifies: a link cannot admit a passenger."""
    sign_in_as(app, auth, Role.STAFF)
    client.get("/tickets/verify", query_string={"token": ticket_token, "action": "check_in"})
    with app.app_context():
        ticket = db.session.scalar(select(Ticket).where(Ticket.qr_payload == ticket_token))
        assert ticket.validity == TicketValidity.VALID


@pytest.mark.parametrize(
    "token",
    ["garbage", "x" * 5000, "eyJ0IjoiMTIzIn0.bad-signature", "<script>alert(1)</script>"],
    ids=["garbage", "huge", "bad-signature", "markup"],
)
def test_garbage_is_not_a_ticket_and_a_bad_signature_forged(client, app, auth, token):
    """Text that is no token is NOT A TICKET, a token whose signature fails FORGED (and what
    was typed is shown back safely escaped)."""
    sign_in_as(app, auth, Role.STAFF)
    response = client.post("/tickets/verify", data={"token": token, "action": "check_in"})
    expected = "FORGED" if token.endswith("bad-signature") else "NOT A TICKET"
    assert response.status_code == 200 and verdict(response) == expected
    assert "<script>alert(1)</script>" not in response.text


def test_an_altered_code_is_forged(client, app, auth, ticket_token):
    """One character changed: FORGED."""
    sign_in_as(app, auth, Role.STAFF)
    flipped = ticket_token[:-1] + ("A" if ticket_token[-1] != "A" else "B")
    response = client.post("/tickets/verify", data={"token": flipped})
    assert verdict(response) == "FORGED"


def test_after_cancelling_the_old_code_and_the_new_one_are_cancelled(
    client, app, auth, ticket_token
):
    """Cancelling reissues the ticket: the old code no longer verifies (CANCELLED, an older
    copy), the current one says CANCELLED; neither offers a check-in."""
    from booking.services import cancellations

    with app.app_context():
        booking = db.session.scalar(
            select(Booking).join(Ticket).where(Ticket.qr_payload == ticket_token)
        )
        cancellations.cancel_booking(booking.id, actor_id=booking.user_id, now=utcnow())
        current = db.session.scalar(
            select(Ticket.qr_payload)
            .where(Ticket.booking_id == booking.id)
            .execution_options(populate_existing=True)
        )
    assert current != ticket_token
    sign_in_as(app, auth, Role.STAFF)
    old = client.post("/tickets/verify", data={"token": ticket_token})
    assert verdict(old) == "CANCELLED" and "an older copy" in old.text
    new = client.post("/tickets/verify", data={"token": current, "action": "check_in"})
    assert verdict(new) == "CANCELLED" and "was cancelled" in new.text
    assert 'value="check_in"' not in old.text + new.text


def test_webhook_json_error_bodies_are_not_html(client):
    """Errors at the webhook are never the HTML error page."""
    response = client.post(WEBHOOK, data=json.dumps({}).encode())
    assert response.status_code == 400 and "<html" not in response.text


@pytest.mark.parametrize("token", ["", "  \n  "], ids=["empty", "blank"])
def test_checking_no_code_says_what_to_do(client, app, auth, token):
    """An empty box: 400 with the form's message next to the box, and no verdict."""
    sign_in_as(app, auth, Role.STAFF)
    response = client.post("/tickets/verify", data={"token": token, "action": "check_in"})
    assert response.status_code == 400
    assert "Scan or paste the QR code text of a ticket." in response.text
    assert 'class="verify-status"' not in response.text and 'name="token"' in response.text


def test_an_unknown_action_admits_nobody(client, app, auth, ticket_token):
    """A tampered action is refused (400) and the ticket stays valid."""
    sign_in_as(app, auth, Role.STAFF)
    response = client.post("/tickets/verify", data={"token": ticket_token, "action": "admit"})
    assert response.status_code == 400 and "Not a valid choice" in response.text
    with app.app_context():
        ticket = db.session.scalar(select(Ticket).where(Ticket.qr_payload == ticket_token))
        assert ticket.validity == TicketValidity.VALID


def test_with_csrf_on_the_verify_page_renders_the_token_it_needs(make_app, app, ticket_token):
    """CSRF on: the verify page's own token lets staff check a code in."""
    client = make_app(WTF_CSRF_ENABLED=True).test_client()
    with app.app_context():
        email = make_user(Role.STAFF).email
    login = csrf_token(client.get("/login").text)
    client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": login})
    token = csrf_token(client.get("/tickets/verify").text)
    admitted = client.post(
        "/tickets/verify",
        data={"token": ticket_token, "action": "check_in", "csrf_token": token},
    )
    assert admitted.status_code == 200 and "Checked in:" in admitted.text
    with app.app_context():
        ticket = db.session.scalar(select(Ticket).where(Ticket.qr_payload == ticket_token))
        assert ticket.validity == TicketValidity.USED
