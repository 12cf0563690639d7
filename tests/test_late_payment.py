"""Invariant 7: a gateway payment that arrives after its hold lapsed confirms the booking if the
same seats are still free, and is otherwise refunded in full, automatically, with an audit row."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from booking.extensions import db
from booking.models import Booking, Payment, ReservationSeat, Schedule, Seat
from booking.models.enums import HoldStatus, LedgerKind, PaymentStatus, Role, SeatStatus
from booking.services import cancellations, payments, refunds, sweep
from tests.money_support import (
    SEAT,
    actions,
    assert_invariants,
    balance,
    booking_of,
    count,
    deliver,
    emails,
    fresh,
    hold,
    hold_row,
    ledger,
    pay_wallet,
    payments_of,
    start_gateway,
)
from tests.support import NOW, make_trip, make_user

MIN = timedelta(minutes=1)
WALLET = Decimal("300.00")
LAPSED = NOW + 20 * MIN  # the hold made at NOW ran out at NOW + 15 min


def pay_then_lapse(trip, seats=("2A", "2B")):
    """A customer with 300.00 starts paying for ``seats`` a minute in, then nothing arrives in
    time. Returns (customer id, hold id, gateway payment id)."""
    customer = make_user(wallet=WALLET)
    hold_id = hold(customer.id, trip.id, list(seats))
    started = start_gateway(customer.id, hold_id, list(seats), now=NOW + MIN)
    assert hold_row(hold_id).expires_at == NOW + 15 * MIN  # the gateway session fits inside
    return customer.id, hold_id, started.payment_id


def counter(trip_id) -> int:
    return db.session.scalar(
        select(Schedule.available_seats)
        .where(Schedule.id == trip_id)
        .execution_options(populate_existing=True)
    )


def seat_status(trip_id, number) -> SeatStatus:
    return db.session.scalar(
        select(Seat.status)
        .where(Seat.schedule_id == trip_id, Seat.seat_number == number)
        .execution_options(populate_existing=True)
    )


def assert_refunded_in_full(customer_id, hold_id, payment_id, gateway_refunds) -> None:
    """No booking; the gateway part refunded in full (and asked of the gateway), the wallet part
    back through a refund row linked to its debit; an audit row and an email say so."""
    assert booking_of(hold_id) is None
    gateway_part = fresh(Payment, payment_id)
    assert gateway_part.status == PaymentStatus.REFUNDED
    assert gateway_part.refunded_amount == gateway_part.amount
    assert gateway_part.booking_id is None
    assert gateway_refunds == [(gateway_part.gateway_reference, gateway_part.amount)]
    wallet_part = gateway_part.paired_payment
    assert wallet_part.status == PaymentStatus.FAILED
    [debit] = ledger(customer_id, LedgerKind.DEBIT)
    [refund] = ledger(customer_id, LedgerKind.REFUND)
    assert debit.payment_id == wallet_part.id
    assert refund.parent_id == debit.id and refund.amount == debit.amount == WALLET
    assert balance(customer_id) == WALLET
    assert "payment.late_refunded" in actions(hold_id)
    [email] = emails("late_payment_refunded")
    assert email.to_address == "priya@example.com"
    assert "refunded it in full" in email.body
    assert "1,050.00" in email.body  # the whole amount, wallet part included
    assert_invariants()


@pytest.mark.parametrize("swept", [False, True], ids=["before-sweep", "after-sweep"])
def test_late_success_books_the_hold_when_its_seats_are_still_free(trip, swept):
    """Nobody took the seats: the booking is confirmed late, whether or not the sweep ran."""
    customer_id, hold_id, payment_id = pay_then_lapse(trip)
    if swept:
        assert len(sweep.expire_holds(NOW + 16 * MIN).retired) == 1
        assert hold_row(hold_id).status == HoldStatus.EXPIRED
        assert counter(trip.id) == 40
    outcome = deliver("payment.succeeded", payment_id, LAPSED)
    assert outcome.outcome == "confirmed_late"

    booking = booking_of(hold_id)
    assert outcome.booking_id == booking.id
    assert booking.total_amount == 2 * SEAT
    held = hold_row(hold_id)
    assert held.status == HoldStatus.CONFIRMED and held.end_reason == "paid late"
    assert {p.status for p in payments_of(hold_id)} == {PaymentStatus.COMPLETED}
    assert seat_status(trip.id, "2A") == seat_status(trip.id, "2B") == SeatStatus.BOOKED
    assert counter(trip.id) == 38
    assert len(ledger(customer_id, LedgerKind.DEBIT)) == 1
    assert ledger(customer_id, LedgerKind.REFUND) == []
    assert_invariants()


@pytest.mark.parametrize("swept", [False, True], ids=["before-sweep", "after-sweep"])
def test_late_success_is_refunded_in_full_when_a_seat_was_taken(trip, gateway_refunds, swept):
    """Someone else held 2B after the hold lapsed: everything is refunded automatically and the
    other customer's hold is untouched."""
    customer_id, hold_id, payment_id = pay_then_lapse(trip)
    if swept:
        sweep.expire_holds(NOW + 16 * MIN)
    other = make_user()
    other_hold = hold(other.id, trip.id, ["2B"], now=NOW + 17 * MIN)

    outcome = deliver("payment.succeeded", payment_id, LAPSED)
    assert outcome.outcome == "refunded"
    assert_refunded_in_full(customer_id, hold_id, payment_id, gateway_refunds)

    theirs = hold_row(other_hold)
    assert theirs.status == HoldStatus.ACTIVE and theirs.expires_at == NOW + 32 * MIN
    claim = db.session.scalar(
        select(ReservationSeat).where(
            ReservationSeat.reservation_id == other_hold, ReservationSeat.is_live
        )
    )
    assert claim is not None
    assert seat_status(trip.id, "2B") == SeatStatus.RESERVED
    assert seat_status(trip.id, "2A") == SeatStatus.AVAILABLE
    assert counter(trip.id) == 39
    assert hold_row(hold_id).status == HoldStatus.EXPIRED


def test_late_success_is_refunded_when_a_seat_was_booked_by_someone_else(trip, gateway_refunds):
    """The other customer did not just hold 2B, they paid for it."""
    from tests.money_support import pay_wallet

    customer_id, hold_id, payment_id = pay_then_lapse(trip)
    other = make_user(wallet="1000.00")
    other_hold = hold(other.id, trip.id, ["2B"], now=NOW + 17 * MIN)
    pay_wallet(other.id, other_hold, ["2B"], now=NOW + 18 * MIN)
    assert deliver("payment.succeeded", payment_id, LAPSED).outcome == "refunded"
    assert_refunded_in_full(customer_id, hold_id, payment_id, gateway_refunds)
    assert count(Booking) == 1 and seat_status(trip.id, "2B") == SeatStatus.BOOKED


@pytest.mark.parametrize("lapsed", [False, True], ids=["hold-live", "hold-lapsed"])
def test_late_success_is_refunded_when_the_trip_was_cancelled_meanwhile(
    trip, gateway_refunds, lapsed
):
    """The operator cancelled the trip (releasing every hold) while the customer was paying."""
    customer_id, hold_id, payment_id = pay_then_lapse(trip)
    admin = make_user(Role.ADMIN)
    cancelled_at = NOW + (16 if lapsed else 5) * MIN
    cancellations.cancel_trip(trip.id, admin_id=admin.id, reason="Bus broke down", now=cancelled_at)
    assert hold_row(hold_id).status == HoldStatus.RELEASED

    outcome = deliver("payment.succeeded", payment_id, cancelled_at + MIN)
    assert outcome.outcome == "refunded"
    assert "cancelled" in outcome.notes["reason"]
    assert_refunded_in_full(customer_id, hold_id, payment_id, gateway_refunds)
    assert counter(trip.id) == 40


def test_late_success_is_refunded_when_sales_have_closed(app_ctx, gateway_refunds):
    """A trip leaving in 45 minutes closes sales 30 minutes before: a payment that lands after
    that cannot book, even with the seats free."""
    trip = make_trip(departs_in=timedelta(minutes=45))
    customer_id, hold_id, payment_id = pay_then_lapse(trip)
    assert deliver("payment.succeeded", payment_id, LAPSED).outcome == "refunded"
    assert_refunded_in_full(customer_id, hold_id, payment_id, gateway_refunds)


def test_a_late_decline_just_returns_the_wallet_part(trip):
    """A decline after the hold lapsed refunds the wallet part; nothing else happens."""
    customer_id, hold_id, payment_id = pay_then_lapse(trip)
    assert deliver("payment.failed", payment_id, LAPSED).outcome == "failed"
    assert balance(customer_id) == WALLET
    assert booking_of(hold_id) is None
    assert emails("late_payment_refunded") == []
    assert_invariants()


# ---- a wallet part given back by the sweep ---------------------------------------------------


def test_the_sweep_gives_back_the_wallet_part_of_a_payment_whose_hold_lapsed(trip):
    """A gateway payment that never finished: once its hold lapsed, the sweep returns the
    wallet part (a refund row linked to the debit); the gateway payment stays pending."""
    customer_id, _hold_id, payment_id = pay_then_lapse(trip)
    assert balance(customer_id) == 0
    assert refunds.release_stranded_wallet_parts(NOW + 10 * MIN) == 0  # still live: kept
    sweep.expire_holds(LAPSED)
    assert refunds.release_stranded_wallet_parts(LAPSED) == 1
    assert refunds.release_stranded_wallet_parts(LAPSED) == 0  # once
    [debit] = ledger(customer_id, LedgerKind.DEBIT)
    [refund] = ledger(customer_id, LedgerKind.REFUND)
    assert refund.parent_id == debit.id and balance(customer_id) == WALLET
    assert fresh(Payment, payment_id).status == PaymentStatus.PENDING
    assert_invariants()


def test_a_late_success_takes_the_returned_wallet_part_again(trip):
    """After the wallet part went back, a late success re-takes it and books the seats."""
    customer_id, hold_id, payment_id = pay_then_lapse(trip)
    sweep.expire_holds(LAPSED)
    refunds.release_stranded_wallet_parts(LAPSED)
    assert deliver("payment.succeeded", payment_id, LAPSED).outcome == "confirmed_late"
    booking = booking_of(hold_id)
    assert booking is not None and balance(customer_id) == 0
    assert len(ledger(customer_id, LedgerKind.DEBIT)) == 2  # taken, given back, taken again
    assert {p.status for p in payments_of(hold_id)} >= {PaymentStatus.COMPLETED}
    assert_invariants()


def test_a_late_success_is_refunded_when_the_wallet_part_is_no_longer_there(trip, gateway_refunds):
    """The customer spent the returned wallet part meanwhile: the late success is refunded."""
    customer_id, hold_id, payment_id = pay_then_lapse(trip)
    sweep.expire_holds(LAPSED)
    refunds.release_stranded_wallet_parts(LAPSED)
    other_trip = make_trip(base_price="250.00")
    spent = hold(customer_id, other_trip.id, ["5C"], now=LAPSED)
    pay_wallet(customer_id, spent, ["5C"], now=LAPSED)
    assert balance(customer_id) < WALLET
    assert deliver("payment.succeeded", payment_id, LAPSED).outcome == "refunded"
    assert booking_of(hold_id) is None
    gateway_part = fresh(Payment, payment_id)
    assert gateway_part.status == PaymentStatus.REFUNDED
    assert gateway_refunds == [(gateway_part.gateway_reference, gateway_part.amount)]
    assert_invariants()


def test_a_top_up_success_after_its_failure_is_refunded_not_kept(app_ctx, gateway_refunds):
    """Money the gateway captured for a top-up that had already failed goes straight back."""
    customer = make_user()
    started = payments.start_topup(
        customer_id=customer.id,
        amount=Decimal("500.00"),
        method="upi",
        now=NOW,
        return_url="/wallet",
    )
    assert deliver("payment.failed", started.payment_id, NOW + MIN).outcome == "failed"
    assert deliver("payment.succeeded", started.payment_id, NOW + 2 * MIN).outcome == "refunded"
    assert balance(customer.id) == 0
    assert fresh(Payment, started.payment_id).status == PaymentStatus.REFUNDED
    assert len(gateway_refunds) == 1
    assert_invariants()


def test_an_idempotency_key_reused_on_another_hold_is_not_an_error(trip):
    """A form key seen before on another hold is ignored rather than crashing the payment."""
    customer = make_user(wallet="5000.00")
    first = hold(customer.id, trip.id, ["6A"])
    pay_wallet(customer.id, first, ["6A"], key="same-key")
    other_trip = make_trip()
    second = hold(customer.id, other_trip.id, ["6A"])
    pay_wallet(customer.id, second, ["6A"], key="same-key")
    assert booking_of(second) is not None and booking_of(first) is not None
    assert_invariants()
