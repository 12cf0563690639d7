"""Money that must not get stuck: a wallet part taken by an abandoned gateway payment comes back
without the beat, a hold ended by a person voids its open gateway payment, and a locked wallet
answers Busy (try again), not a refusal about seats."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from booking.extensions import db
from booking.models import Booking, Payment
from booking.models.enums import HoldStatus, PaymentStatus, Role
from booking.orm import utcnow
from booking.services import checkout, holds, refunds
from tests.money_support import (
    SEAT,
    assert_invariants,
    balance,
    booking_of,
    count,
    deliver,
    fresh,
    hold,
    hold_row,
    pay_wallet,
    start_gateway,
)
from tests.support import NOW, PASSWORD, make_user
from tests.support import text as page_text
from tests.test_web_checkout import checkout_form, hold_through_the_seat_map, lapse

MIN = timedelta(minutes=1)


def gateway_with_wallet_part(trip, seats=("2A", "2B"), wallet=SEAT):
    """A customer whose wallet (``wallet``) covers part of ``seats``; they start paying the rest
    through the gateway a minute in. Returns (customer id, hold id, gateway payment id)."""
    customer = make_user(wallet=wallet)
    hold_id = hold(customer.id, trip.id, list(seats))
    started = start_gateway(customer.id, hold_id, list(seats), now=NOW + MIN)
    assert started.wallet_part == wallet and balance(customer.id) == 0
    return customer.id, hold_id, started.payment_id


# ---- stranded wallet parts come back without the beat -------------------------------------------


def test_next_wallet_payment_succeeds_without_the_sweep_after_a_lapsed_gateway_hold_lost_its_seat(
    trip,
):
    """The gateway payment was abandoned, its hold lapsed and another customer took a seat of it;
    no sweep ran. The customer's wallet part is back in time for their next wallet payment."""
    customer_id, first_hold, payment_id = gateway_with_wallet_part(trip)
    other = make_user()
    hold(other.id, trip.id, ["2A"], now=NOW + 20 * MIN)  # retires the lapsed hold
    assert hold_row(first_hold).status == HoldStatus.EXPIRED

    again = hold(customer_id, trip.id, ["3A"], now=NOW + 21 * MIN)
    booking_id = pay_wallet(customer_id, again, ["3A"], now=NOW + 22 * MIN)

    assert fresh(Booking, booking_id).total_amount == SEAT
    assert balance(customer_id) == 0  # given back, then spent on 3A
    wallet_part = fresh(Payment, payment_id).paired_payment
    assert wallet_part.status == PaymentStatus.FAILED
    assert fresh(Payment, payment_id).status == PaymentStatus.PENDING  # a late success still counts
    assert_invariants()


def test_the_checkout_of_a_lapsed_hold_gives_its_wallet_part_back(trip):
    """Found lapsed on read (no sweep): the checkout shows the wallet with the part back."""
    customer_id, hold_id, _ = gateway_with_wallet_part(trip)
    shown = checkout.page(hold_id, customer_id, NOW + 20 * MIN)
    assert shown.live is False and shown.wallet_balance == SEAT
    assert balance(customer_id) == SEAT
    assert_invariants()


def test_the_wallet_statement_gives_back_a_lapsed_holds_wallet_part(trip):
    customer_id, _, _ = gateway_with_wallet_part(trip)
    assert refunds.wallet_statement(customer_id, NOW + 5 * MIN).balance == 0  # still live
    assert refunds.wallet_statement(customer_id, NOW + 20 * MIN).balance == SEAT
    assert_invariants()


def test_the_wallet_page_shows_the_part_of_an_abandoned_payment_back(app, client, auth, trip_id):
    """Through the pages: pay part by wallet, abandon the gateway, let the hold lapse; /wallet
    shows the full balance again with no sweep run."""
    with app.app_context():
        user = make_user(wallet="500.00", now=utcnow())
        user_id, email = user.id, user.email
    assert auth.login(email, PASSWORD).status_code == 302
    hold_id = hold_through_the_seat_map(client, trip_id, ["2A"])
    response = client.post(f"/holds/{hold_id}", data=checkout_form(["2A"], method="upi"))
    assert response.status_code == 302 and "/gateway/sandbox/" in response.headers["Location"]
    with app.app_context():
        assert balance(user_id) == 0
    lapse(app, hold_id)
    page = page_text(client.get("/wallet"))
    assert "500.00" in page
    with app.app_context():
        assert balance(user_id) == Decimal("500.00")
        assert_invariants()


# ---- a hold ended by a person voids its open gateway payment -----------------------------------


@pytest.mark.parametrize("ender", ["customer", "admin"])
def test_an_ended_hold_voids_its_gateway_payment_and_a_late_success_is_refunded(
    trip, gateway_refunds, ender
):
    """Dropped by the customer or released by an admin: the open gateway payment fails (with
    the reason), its wallet part goes back at once; a success that still arrives books nothing
    and is refunded in full."""
    customer_id, hold_id, payment_id = gateway_with_wallet_part(trip)
    if ender == "customer":
        holds.release_hold(hold_id, customer_id=customer_id, now=NOW + 2 * MIN)
        reason = "hold dropped"
    else:
        admin = make_user(Role.ADMIN)
        holds.admin_release(hold_id, admin_id=admin.id, reason="fraud check", now=NOW + 2 * MIN)
        reason = "hold released by the operator: fraud check"

    payment = fresh(Payment, payment_id)
    assert payment.status == PaymentStatus.FAILED and payment.failure_reason == reason
    assert payment.paired_payment.status == PaymentStatus.FAILED
    assert balance(customer_id) == SEAT
    assert_invariants()

    outcome = deliver("payment.succeeded", payment_id, NOW + 3 * MIN)
    assert outcome.outcome == "refunded"
    assert booking_of(hold_id) is None and count(Booking) == 0
    payment = fresh(Payment, payment_id)
    assert payment.status == PaymentStatus.REFUNDED and payment.refunded_amount == payment.amount
    assert gateway_refunds == [(payment.gateway_reference, payment.amount)]
    assert balance(customer_id) == SEAT
    assert_invariants()


def test_the_sandbox_page_of_a_dropped_holds_payment_offers_no_pay(app, client, auth, trip_id):
    with app.app_context():
        user = make_user(wallet="0", now=utcnow())
        user_id, email = user.id, user.email
    assert auth.login(email, PASSWORD).status_code == 302
    hold_id = hold_through_the_seat_map(client, trip_id, ["2A"])
    response = client.post(f"/holds/{hold_id}", data=checkout_form(["2A"], method="upi"))
    sandbox_url = response.headers["Location"]
    assert "Pay Rs" in page_text(client.get(sandbox_url))

    with app.app_context():
        holds.release_hold(hold_id, customer_id=user_id, now=utcnow())

    page = page_text(client.get(sandbox_url))
    assert "can no longer be paid: hold dropped" in page
    assert 'value="pay"' not in page
    client.post(sandbox_url, data={"decision": "pay"})
    with app.app_context():
        assert booking_of(hold_id) is None
        payment = db.session.scalar(select(Payment).where(Payment.reservation_id == hold_id))
        assert payment.status == PaymentStatus.FAILED
        assert_invariants()


# ---- a locked wallet is Busy -------------------------------------------------------------------


@pytest.mark.postgres
def test_a_locked_wallet_at_checkout_answers_busy_not_a_seat_refusal(app, client, auth, trip_id):
    """Another connection holds the wallet row: the checkout answers 503 "try again in a
    moment" (not 400 about seats being booked), and nothing is charged or booked."""
    with app.app_context():
        user = make_user(wallet="5000.00", now=utcnow())
        user_id, email = user.id, user.email
    assert auth.login(email, PASSWORD).status_code == 302
    hold_id = hold_through_the_seat_map(client, trip_id, ["2A"])

    with app.app_context():
        locker = db.engine.connect()
    try:
        locker.execute(
            text("SELECT id FROM wallets WHERE user_id = :user FOR UPDATE"), {"user": user_id}
        )
        response = client.post(f"/holds/{hold_id}", data=checkout_form(["2A"]))
    finally:
        locker.rollback()
        locker.close()

    assert response.status_code == 503
    body = page_text(response)
    assert "try again in a moment" in body
    assert "seats are being booked" not in body
    with app.app_context():
        assert booking_of(hold_id) is None
        assert balance(user_id) == Decimal("5000.00")
    retried = client.post(f"/holds/{hold_id}", data=checkout_form(["2A"]))
    assert retried.status_code == 302 and "/bookings/" in retried.headers["Location"]
