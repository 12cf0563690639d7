"""The whole journey with GATEWAY=razorpay, through the pages, against the fake Razorpay: the
wallet pays part of the fare and a Payment Link the rest; the customer comes back, waits on the
confirming page, gets the ticket when the webhook lands; cancels one seat and sees its refund
go from on its way to refunded when Razorpay's refund.processed webhook arrives."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

import pytest

from booking import tasks
from booking.extensions import db
from booking.models import Booking, Payment
from booking.orm import utcnow
from booking.services import wallet
from tests.razorpay_fake import RunningFake, settings
from tests.support import PASSWORD, make_trip, make_user, text
from tests.test_web_checkout import checkout_form

WALLET = "300.00"


@pytest.fixture
def fake():
    with RunningFake(utcnow()) as running:
        yield running


@pytest.fixture
def razorpay(app, fake, monkeypatch):
    """GATEWAY=razorpay at the fake; the return URL built from the request, as in production."""
    for name, value in settings(fake, RAZORPAY_CALLBACK_URL=None).items():
        monkeypatch.setitem(app.config, name, value)
    return fake


@pytest.fixture
def customer(app, auth) -> uuid.UUID:
    with app.app_context():
        user = make_user(wallet=WALLET, now=utcnow())
        user_id, email = user.id, user.email
    assert auth.login(email, PASSWORD).status_code == 302
    return user_id


def pay_through_razorpay(client, app, razorpay, seats) -> tuple[uuid.UUID, Payment, dict]:
    """Hold seats, pay with the wallet and UPI at Razorpay; returns (hold id, the gateway
    payment, the signed return Razorpay sends the customer back with)."""
    with app.app_context():
        trip_id = make_trip(now=utcnow()).id
    held = client.post(f"/schedules/{trip_id}/holds", data={"seats": seats})
    hold_id = uuid.UUID(held.headers["Location"].rsplit("/", 1)[1])
    paying = client.post(f"/holds/{hold_id}", data=checkout_form(seats, method="upi"))
    assert paying.status_code == 302, text(paying)
    [link] = razorpay.links.values()
    assert paying.headers["Location"] == link["short_url"]  # off to Razorpay's page
    assert link["callback_url"] == "http://localhost/payments/razorpay/return"
    with app.app_context():
        payment = db.session.get(Payment, uuid.UUID(link["reference_id"]))
        db.session.expunge(payment)
    return hold_id, payment, razorpay.pay(link["id"])


def test_wallet_and_razorpay_pay_a_fare_the_ticket_comes_and_a_cancelled_seat_is_refunded(
    client, app, razorpay, customer, monkeypatch
):
    monkeypatch.setattr(tasks, "settle_later", lambda payment_id: None)  # the webhook settles
    hold_id, payment, returned = pay_through_razorpay(client, app, razorpay, ["2A", "2B"])
    assert payment.amount == Decimal("1050.00") - Decimal(WALLET)  # the gateway part

    # back from Razorpay: the confirming page, nothing booked yet
    back = client.get(razorpay.callback_path(returned))
    assert back.headers["Location"] == f"/holds/{hold_id}/paying"
    waiting = client.get(back.headers["Location"])
    assert waiting.status_code == 200
    with app.app_context():
        assert db.session.query(Booking).count() == 0

    # Razorpay's webhook books it; the waiting page then leads to the booking and its ticket
    body, headers = razorpay.link_paid(payment.gateway_reference)
    hooked = client.post("/payments/webhook", data=body, headers=headers)
    assert hooked.get_json()["outcome"] == "confirmed"
    done = client.get(f"/holds/{hold_id}/paying")
    assert done.status_code == 302
    reference = re.fullmatch(r"/bookings/([A-Z0-9]+)", done.headers["Location"]).group(1)
    ticket = client.get(f"/bookings/{reference}/ticket.pdf")
    assert ticket.status_code == 200 and ticket.data.startswith(b"%PDF")
    with app.app_context():
        assert wallet.balance(customer) == Decimal("0.00")

    # one seat cancelled to the original method: Razorpay is asked, the refund is on its way
    cancelled = client.post(
        f"/bookings/{reference}/cancel",
        data={"seats": ["2B"], "refund_mode": "original", "reason": "plans changed"},
    )
    assert cancelled.status_code == 302, text(cancelled)
    pending = client.get(f"/bookings/{reference}").get_data(as_text=True)
    assert '<span class="refund-state">refund on its way</span>' in pending
    [refund] = razorpay.refunds.values()
    assert refund["status"] == "pending"

    # refund.processed: refunded
    body, headers = razorpay.refund_event(refund["id"], "processed")
    hooked = client.post("/payments/webhook", data=body, headers=headers)
    assert hooked.get_json()["outcome"] == "refund_processed"
    page = client.get(f"/bookings/{reference}").get_data(as_text=True)
    assert '<span class="refund-state">refunded</span>' in page
    assert "refund on its way" not in page


def test_a_return_whose_webhook_never_comes_is_settled_by_the_task(client, app, razorpay, customer):
    """No broker here, so the settle task runs as the customer comes back: Razorpay is asked,
    says paid, and the waiting page leads straight to the booking."""
    hold_id, payment, returned = pay_through_razorpay(client, app, razorpay, ["2A"])
    back = client.get(razorpay.callback_path(returned))
    assert back.headers["Location"] == f"/holds/{hold_id}/paying"
    assert client.get(back.headers["Location"]).status_code == 302  # booked: on to the booking
    with app.app_context():
        assert db.session.get(Payment, payment.id).booking_id is not None
    # the webhook arriving at last changes nothing
    body, headers = razorpay.link_paid(payment.gateway_reference)
    again = client.post("/payments/webhook", data=body, headers=headers)
    assert again.get_json()["outcome"] == "already_completed"


def test_razorpay_down_at_pay_time_shows_try_again_and_keeps_the_hold(
    client, app, razorpay, customer
):
    with app.app_context():
        trip_id = make_trip(now=utcnow()).id
    held = client.post(f"/schedules/{trip_id}/holds", data={"seats": ["2A"]})
    hold_id = held.headers["Location"].rsplit("/", 1)[1]
    razorpay.fail_next("POST", "/v1/payment_links", 500)
    razorpay.fail_next("POST", "/v1/payment_links", 500)
    response = client.post(f"/holds/{hold_id}", data=checkout_form(["2A"], method="upi"))
    assert response.status_code < 500
    assert "nothing was charged. Try again." in text(response)
    with app.app_context():
        assert wallet.balance(customer) == Decimal(WALLET)
    again = client.post(f"/holds/{hold_id}", data=checkout_form(["2A"], method="upi"))
    assert again.status_code == 302 and again.headers["Location"].startswith(razorpay.url)


def test_a_boosted_pay_form_is_sent_to_razorpay_by_hx_redirect_not_a_302(
    client, app, razorpay, customer
):
    """With htmx the form is posted by XHR, which may not follow a 302 to another site
    (connect-src 'self'): the answer tells htmx to send the browser there itself."""
    with app.app_context():
        trip_id = make_trip(now=utcnow()).id
    held = client.post(f"/schedules/{trip_id}/holds", data={"seats": ["2A"]})
    hold_id = held.headers["Location"].rsplit("/", 1)[1]
    response = client.post(
        f"/holds/{hold_id}",
        data=checkout_form(["2A"], method="upi"),
        headers={"HX-Request": "true", "HX-Boosted": "true"},
    )
    [link] = razorpay.links.values()
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == link["short_url"]
