"""Request tests of the admin's refunds queue: every refund with its state, method, amount,
booking, attempts and last error; the state filter; totals per state; Retry (POST, CSRF)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from booking import tasks
from booking.extensions import db
from booking.models import Cancellation, Refund
from booking.models.enums import RefundStatus, Role
from booking.orm import utcnow
from booking.services import cancellations, refund_queue
from tests.money_support import (
    assert_invariants,
    booking_of,
    deliver,
    fresh,
    hold,
    pay_wallet,
    start_gateway,
)
from tests.support import NOW, PASSWORD, csrf_token, make_trip, make_user, sign_in_as, text
from tests.test_refunds import CANCELLED_AT, MIN, book_by_upi, cancel_to_card


@pytest.fixture
def queue_data(app, monkeypatch):
    """One failed gateway refund (the sandbox refused its only attempt) and one wallet refund
    processed at once. Returns (failed refund id, its booking reference, wallet refund id)."""
    # The session app's task itself (a proxy would follow another app made later in the test).
    monkeypatch.setattr(tasks.process_refund._get_current_object(), "delay", lambda _id: None)
    monkeypatch.setitem(app.config, "SANDBOX_FAIL_REFUNDS", True)
    monkeypatch.setitem(app.config, "REFUND_MAX_ATTEMPTS", 1)
    with app.app_context():
        trip = make_trip()
        customer, booking_id = book_by_upi(trip)
        done = cancel_to_card(customer, booking_id)
        assert refund_queue.process_due_refunds(CANCELLED_AT + MIN) == 1
        failed = db.session.scalar(select(Refund).where(Refund.cancellation_id == done.id))
        assert failed.status == RefundStatus.FAILED
        reference = done.booking.reference

        other = make_user(wallet="1000.00")
        hold_id = hold(other.id, trip.id, ["5A"])
        wallet_booking = pay_wallet(other.id, hold_id, ["5A"], now=NOW + MIN)
        undone = cancellations.cancel_booking(wallet_booking, actor_id=other.id, now=CANCELLED_AT)
        wallet_refund = db.session.scalar(
            select(Refund.id).where(Refund.cancellation_id == undone.id)
        )
        return failed.id, reference, wallet_refund


def row_of(page: str, refund_id) -> str:
    """The table row of one refund (found by its Retry form, or by position for others)."""
    rows = re.findall(r"<tr.*?</tr>", page, flags=re.S)
    return next(row for row in rows if str(refund_id) in row)


def test_the_queue_lists_every_refund_with_its_state_method_booking_attempts_and_error(
    app, client, auth, queue_data
):
    failed_id, reference, _ = queue_data
    sign_in_as(app, auth, Role.ADMIN)
    response = client.get("/admin/refunds")
    assert response.status_code == 200
    page = text(response)
    assert "<html" in page and 'href="/admin/refunds"' in page  # in the admin navigation
    row = row_of(page, failed_id)
    assert "failed" in row and "Gateway" in row and "paid by UPI" in row
    assert "Rs 525.00" in row
    assert f'href="/desk/bookings/{reference}"' in row
    assert "refused the refund" in row
    assert re.search(r'class="num">1</td>', row)
    assert "Retry" in row
    # Totals per state: one failed and one processed, with their money.
    assert re.search(r"Failed</a><strong>1</strong><span>Rs 525.00", page)
    assert re.search(r"Processed</a><strong>1</strong><span>Rs 525.00", page)
    assert re.search(r"Pending</a><strong>0</strong>", page)
    assert page.count("Retry<span") == 1  # a wallet refund has nothing to retry


def test_the_dashboard_shows_failed_refunds_with_a_link_to_retry_them(
    app, client, auth, queue_data
):
    """A failed gateway refund is visible where the admin looks first."""
    sign_in_as(app, auth, Role.ADMIN)
    page = text(client.get("/admin"))
    assert re.search(r'href="/admin/refunds\?state=failed" id="refunds-failed">1 failed</a>', page)
    assert "Rs 525.00 <strong>(need a retry)</strong>" in page
    assert 'id="refunds-pending">0 pending</a>' in page


def test_the_state_filter_shows_only_that_state_and_htmx_gets_the_fragment(
    app, client, auth, queue_data
):
    sign_in_as(app, auth, Role.ADMIN)
    page = text(client.get("/admin/refunds?state=failed"))
    assert "Rs 525.00" in page and "Retry<span" in page
    assert "paid by Wallet" not in page
    page = text(client.get("/admin/refunds?state=processed"))
    assert "paid by Wallet" in page and "Retry<span" not in page

    fragment = client.get("/admin/refunds?state=failed", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert "Vary" in fragment.headers and "HX-Request" in fragment.headers["Vary"]
    for odd in ("?state=nonsense", "?page=abc", "?page=999999999999"):
        assert client.get(f"/admin/refunds{odd}").status_code == 200


def test_retry_asks_the_gateway_again_and_says_what_happened(
    app, client, auth, queue_data, monkeypatch
):
    failed_id, _, _ = queue_data
    sign_in_as(app, auth, Role.ADMIN)
    response = client.post(f"/admin/refunds/{failed_id}/retry", data={"state": "failed"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/refunds?state=failed"
    page = text(client.get(response.headers["Location"]))
    assert "The gateway refused the refund of Rs 525.00 again" in page
    with app.app_context():
        assert fresh(Refund, failed_id).attempts == 2

    monkeypatch.setitem(app.config, "SANDBOX_FAIL_REFUNDS", False)
    response = client.post(f"/admin/refunds/{failed_id}/retry", data={})
    assert response.headers["Location"] == "/admin/refunds"
    page = text(client.get("/admin/refunds"))
    assert "Refund of Rs 525.00 processed" in page
    with app.app_context():
        refund = fresh(Refund, failed_id)
        assert refund.status == RefundStatus.PROCESSED and refund.processed_at is not None
        cancellation = fresh(Cancellation, refund.cancellation_id)
        assert cancellation.refund_status == RefundStatus.PROCESSED
        assert_invariants()

    again = client.post(f"/admin/refunds/{failed_id}/retry", data={})
    assert again.status_code == 302
    assert "already been processed" in text(client.get("/admin/refunds"))


def test_retry_of_a_wallet_refund_or_an_unknown_one_is_refused_with_a_message(
    app, client, auth, queue_data
):
    _, _, wallet_refund = queue_data
    sign_in_as(app, auth, Role.ADMIN)
    client.post(f"/admin/refunds/{wallet_refund}/retry", data={})
    assert "Only a refund through the payment gateway can be retried" in text(
        client.get("/admin/refunds")
    )
    response = client.post("/admin/refunds/not-a-refund/retry", data={})
    assert response.status_code == 404
    client.post("/admin/refunds/00000000-0000-0000-0000-000000000000/retry", data={})
    assert "We could not find that refund." in text(client.get("/admin/refunds"))


def test_retry_needs_the_csrf_token(make_app, queue_data):
    failed_id, _, _ = queue_data
    guarded = make_app(WTF_CSRF_ENABLED=True)
    client = guarded.test_client()
    with guarded.app_context():
        admin = make_user(Role.ADMIN)
        email = admin.email
    login_page = client.get("/login").text
    signed = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf_token(login_page)}
    )
    assert signed.status_code == 302
    refused = client.post(f"/admin/refunds/{failed_id}/retry", data={})
    assert refused.status_code == 400
    with guarded.app_context():
        assert fresh(Refund, failed_id).attempts == 1

    page = client.get("/admin/refunds").text
    sent = client.post(
        f"/admin/refunds/{failed_id}/retry", data={"csrf_token": csrf_token(page), "state": ""}
    )
    assert sent.status_code == 302
    with guarded.app_context():
        assert fresh(Refund, failed_id).attempts == 2


@pytest.mark.parametrize("role", [Role.CUSTOMER, Role.STAFF])
def test_only_admins_see_the_queue(app, client, auth, role):
    sign_in_as(app, auth, role)
    assert client.get("/admin/refunds").status_code == 403


def test_a_customer_cancelling_while_the_gateway_refund_waits_is_told_it_is_on_its_way(
    app, client, auth, monkeypatch
):
    """Redis is down, so the gateway refund waits for the beat: the customer reads that the
    money is on its way back, not that it was refunded."""
    monkeypatch.setattr(tasks.process_refund._get_current_object(), "delay", _broker_down)
    customer_id = sign_in_as(app, auth, Role.CUSTOMER)
    with app.app_context():
        now = utcnow()
        trip = make_trip(now=now)
        hold_id = hold(customer_id, trip.id, ["2A"], now=now)
        started = start_gateway(customer_id, hold_id, ["2A"], now=now, use_wallet=False)
        assert deliver("payment.succeeded", started.payment_id, now).outcome == "confirmed"
        reference = booking_of(hold_id).reference
    response = client.post(
        f"/bookings/{reference}/cancel", data={"seats": ["2A"], "refund_mode": "original"}
    )
    assert response.status_code == 302
    body = text(client.get(response.headers["Location"]))
    assert "Rs 525.00 is on its way back to your original payment method." in body
    with app.app_context():
        [refund] = db.session.scalars(select(Refund).where(Refund.payment_id == started.payment_id))
        assert refund.status == RefundStatus.PENDING


def _broker_down(_refund_id):
    raise ConnectionError("Connection refused.")
