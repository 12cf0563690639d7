"""The structured log lines with amounts (seeds 001/003): a wallet debit, a cancellation with
its refund, and a finalization that failed. Written after commit (a failure: when it happens)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from booking.models.enums import RefundMode
from booking.services import cancellations, wallet
from tests.money_support import Boom, booking_of, deliver, hold, pay_wallet, start_gateway
from tests.support import NOW, make_user

MIN = timedelta(minutes=1)


@pytest.fixture
def events_log(caplog):
    """The ``booking.events`` lines written during the test."""
    caplog.set_level(logging.INFO, logger="booking.events")

    def lines(event: str) -> list[str]:
        return [
            record.getMessage()
            for record in caplog.records
            if record.name == "booking.events" and record.getMessage().startswith(f"event={event} ")
        ]

    return lines


def test_a_wallet_payment_logs_the_debit_with_its_amount_and_balance(trip, events_log):
    """event=wallet.debited with the customer, the amount and the balance left."""
    customer = make_user(wallet="2000.00")
    hold_id = hold(customer.id, trip.id, ["2A", "2B"])
    pay_wallet(customer.id, hold_id, ["2A", "2B"], now=NOW + MIN)
    [line] = events_log("wallet.debited")
    assert f"customer={customer.id}" in line
    assert "amount=1050.00" in line and "balance_after=950.00" in line
    assert f"booking={booking_of(hold_id).id}" in line


def test_the_wallet_part_of_a_gateway_payment_is_logged_when_taken(trip, events_log):
    """The wallet covers part, debited when the gateway session opens."""
    customer = make_user(wallet="100.00")
    hold_id = hold(customer.id, trip.id, ["2A"])
    start_gateway(customer.id, hold_id, ["2A"], now=NOW + MIN)
    [line] = events_log("wallet.debited")
    assert "amount=100.00" in line and "balance_after=0.00" in line


def test_a_debit_rolled_back_is_not_logged(trip, events_log, monkeypatch):
    """A finalization failing after the debit: no debit line (nothing was taken), and one
    finalization_failed line at WARNING with the hold, the amount and the error."""
    from booking.services import bookings

    customer = make_user(wallet="2000.00")
    hold_id = hold(customer.id, trip.id, ["2A"])

    def fail(*_args, **_kwargs):
        raise Boom("the ticket printer caught fire")

    monkeypatch.setattr(bookings.tickets, "issue_ticket", fail)
    with pytest.raises(Boom):
        pay_wallet(customer.id, hold_id, ["2A"], now=NOW + MIN)
    assert events_log("wallet.debited") == []
    [line] = events_log("booking.finalization_failed")
    assert f"hold={hold_id}" in line and f"customer={customer.id}" in line
    assert "amount=525.00" in line and "methods=wallet" in line
    assert "error=Boom" in line and 'reason="the ticket printer caught fire"' in line
    assert wallet.balance(customer.id) == 2000


def test_a_cancellation_logs_the_refund_amount_percent_and_mode(trip, events_log):
    """event=booking.seats_cancelled / booking.cancelled with the refund, its percent and mode."""
    customer = make_user(wallet="2000.00")
    hold_id = hold(customer.id, trip.id, ["2A", "2B"])
    pay_wallet(customer.id, hold_id, ["2A", "2B"], now=NOW + MIN)
    booking = booking_of(hold_id)
    cancellations.cancel_booking(
        booking.id, actor_id=customer.id, now=NOW + 2 * MIN, seat_numbers=["2A"]
    )
    [one] = events_log("booking.seats_cancelled")
    assert f"booking={booking.reference}" in one and "seats=2A" in one
    assert "refund=525.00" in one and "percent=100" in one and "mode=wallet" in one
    cancellations.cancel_booking(
        booking.id, actor_id=customer.id, now=NOW + 3 * MIN, refund_mode=RefundMode.WALLET
    )
    [whole] = events_log("booking.cancelled")
    assert "seats=2B" in whole and "refund=525.00" in whole and f"by={customer.id}" in whole


def test_a_late_payment_that_cannot_be_finalized_logs_why_with_its_amount(
    trip, events_log, gateway_refunds
):
    """The seats went to someone else after the hold lapsed: the success webhook cannot book,
    the money is refunded, and booking.finalization_failed says how much and why."""
    customer = make_user(wallet="0")
    hold_id = hold(customer.id, trip.id, ["2A"])
    started = start_gateway(customer.id, hold_id, ["2A"], now=NOW + MIN)
    hold(make_user().id, trip.id, ["2A"], now=NOW + 17 * MIN)
    assert deliver("payment.succeeded", started.payment_id, NOW + 20 * MIN).outcome == "refunded"
    [line] = events_log("booking.finalization_failed")
    assert f"hold={hold_id}" in line and "amount=525.00" in line and "methods=upi" in line
    assert "error=HoldError" in line and "2A" in line
