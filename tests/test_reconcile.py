"""`flask reconcile`: silent (exit 0) on a healthy database full of bookings, and exit 1 naming the
invariant and the ids for each corruption a direct UPDATE can make."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.exc import IntegrityError

from booking.extensions import db
from booking.models import (
    Booking,
    Payment,
    ReservationSeat,
    Schedule,
    Ticket,
    Wallet,
    WalletTransaction,
)
from booking.models.enums import LedgerKind, TicketValidity
from booking.services import cancellations, invariants
from tests.money_support import (
    booking_of,
    deliver,
    hold,
    ledger,
    pay_wallet,
    payments_of,
    start_gateway,
)
from tests.support import NOW, make_trip, make_user

MIN = timedelta(minutes=1)


@dataclass(frozen=True)
class World:
    """A trip with a wallet booking, a wallet + UPI booking with one seat cancelled, a cancelled
    booking and a live hold."""

    trip_id: uuid.UUID
    asha_id: uuid.UUID
    ravi_id: uuid.UUID
    wallet_booking: uuid.UUID
    split_booking: uuid.UUID
    cancelled_booking: uuid.UUID
    live_hold: uuid.UUID


@pytest.fixture
def world(app_ctx) -> World:
    trip = make_trip()
    asha = make_user(wallet="3000.00")
    ravi = make_user(wallet="300.00")
    meera = make_user(wallet="1000.00")
    wallet_booking = pay_wallet(asha.id, hold(asha.id, trip.id, ["2A", "2B"]), ["2A", "2B"])

    split_hold = hold(ravi.id, trip.id, ["3C", "3D"])
    started = start_gateway(ravi.id, split_hold, ["3C", "3D"], now=NOW + MIN)
    deliver("payment.succeeded", started.payment_id, NOW + 2 * MIN)
    split_booking = booking_of(split_hold).id
    cancellations.cancel_booking(
        split_booking, actor_id=ravi.id, now=NOW + MIN, seat_numbers=["3D"]
    )

    cancelled_booking = pay_wallet(meera.id, hold(meera.id, trip.id, ["5A"]), ["5A"])
    cancellations.cancel_booking(cancelled_booking, actor_id=meera.id, now=NOW + MIN)
    live_hold = hold(make_user().id, trip.id, ["6A"], now=NOW + 2 * MIN)
    return World(
        trip.id, asha.id, ravi.id, wallet_booking, split_booking, cancelled_booking, live_hold
    )


def reconcile(runner, *args) -> tuple[int, str, set[str]]:
    """Run `flask reconcile`; returns (exit code, output, names of the failing checks)."""
    db.session.commit()  # the command reads on its own; leave nothing open
    result = runner.invoke(args=["reconcile", *args])
    failed = set(re.findall(r"^FAIL (\S+)", result.output, flags=re.MULTILINE))
    return result.exit_code, result.output, failed


def corrupt(statement) -> None:
    """Apply one direct UPDATE behind the services' back."""
    db.session.execute(statement)
    db.session.commit()


def test_reconcile_passes_on_a_healthy_database_with_bookings(world, runner):
    code, output, failed = reconcile(runner)
    assert code == 0, output
    assert failed == set()
    assert "All invariants hold." in output
    for name in invariants.CHECKS:
        assert f"ok   {name}" in output


def test_reconcile_names_a_wallet_balance_off_by_one_paisa(world, runner):
    wallet_id = db.session.scalar(select(Wallet.id).where(Wallet.user_id == world.asha_id))
    corrupt(
        update(Wallet)
        .where(Wallet.id == wallet_id)
        .values(balance=Wallet.balance + Decimal("0.01"))
    )
    code, output, failed = reconcile(runner)
    assert code == 1
    assert failed == {"wallet-balance-matches-ledger"}
    assert str(wallet_id) in output and "violation" in output


def test_reconcile_names_a_refund_larger_than_its_debit(world, runner):
    """The wallet part's refund grows past the debit (the balance moved with it, so only the
    refund rule breaks)."""
    [debit] = ledger(world.ravi_id, LedgerKind.DEBIT)
    [refund] = ledger(world.ravi_id, LedgerKind.REFUND)
    extra = debit.amount - refund.amount + Decimal("1.00")
    corrupt(
        update(WalletTransaction)
        .where(WalletTransaction.id == refund.id)
        .values(amount=WalletTransaction.amount + extra)
    )
    corrupt(
        update(Wallet).where(Wallet.user_id == world.ravi_id).values(balance=Wallet.balance + extra)
    )
    code, output, failed = reconcile(runner)
    assert code == 1
    assert failed == {"refunds-within-their-debit"}
    assert str(debit.id) in output


def test_reconcile_names_a_completed_payment_pointing_at_another_booking(world, runner):
    hold_id = db.session.get(Booking, world.wallet_booking).reservation_id
    [payment] = payments_of(hold_id)
    corrupt(update(Payment).where(Payment.id == payment.id).values(booking_id=world.split_booking))
    code, output, failed = reconcile(runner)
    assert code == 1
    assert "completed-payment-belongs-to-its-booking" in failed
    assert "booking-money-adds-up" in failed  # both bookings' sums are now wrong
    assert str(payment.id) in output
    assert str(world.wallet_booking) in output and str(world.split_booking) in output


def test_reconcile_names_a_booked_seat_whose_claim_was_ended(world, runner):
    booking = db.session.get(Booking, world.wallet_booking)
    booked = next(s for s in booking.seats if s.seat_number == "2A")
    corrupt(
        update(ReservationSeat)
        .where(
            ReservationSeat.reservation_id == booking.reservation_id,
            ReservationSeat.seat_id == booked.seat_id,
        )
        .values(is_live=False, released_at=NOW)
    )
    code, output, failed = reconcile(runner)
    assert code == 1
    assert {"booked-seat-matches-claim", "seat-status-matches-claim", "free-seat-counter"} <= (
        failed
    )
    assert str(booked.id) in output and str(booked.seat_id) in output


def test_reconcile_names_a_ticket_left_valid_on_a_cancelled_booking(world, runner):
    corrupt(
        update(Ticket)
        .where(Ticket.booking_id == world.cancelled_booking)
        .values(validity=TicketValidity.VALID)
    )
    code, output, failed = reconcile(runner)
    assert code == 1
    assert failed == {"ticket-follows-booking"}
    assert str(world.cancelled_booking) in output


@pytest.mark.parametrize("delta", [-1, 1])
def test_reconcile_names_a_free_seat_counter_off_by_one(world, runner, delta):
    corrupt(
        update(Schedule)
        .where(Schedule.id == world.trip_id)
        .values(available_seats=Schedule.available_seats + delta)
    )
    code, output, failed = reconcile(runner)
    assert code == 1
    assert failed == {"free-seat-counter"}
    assert str(world.trip_id) in output


def test_reconcile_only_runs_the_named_checks(world, runner):
    corrupt(
        update(Schedule)
        .where(Schedule.id == world.trip_id)
        .values(available_seats=Schedule.available_seats - 1)
    )
    code, output, _ = reconcile(runner, "--only", "ticket-follows-booking")
    assert code == 0 and "free-seat-counter" not in output
    code, output, _ = reconcile(runner, "--only", "no-such-check")
    assert code == 2 and "no-such-check" in output


def _second_live_claim(world) -> dict:
    """A second live claim on the seat the live hold already claims, as a row to insert."""
    seat_id = db.session.scalar(
        select(ReservationSeat.seat_id).where(
            ReservationSeat.reservation_id == world.live_hold, ReservationSeat.is_live
        )
    )
    other_hold = db.session.get(Booking, world.wallet_booking).reservation_id
    return {
        "id": uuid.uuid4(),
        "reservation_id": other_hold,
        "seat_id": seat_id,
        "is_live": True,
        "created_at": NOW,
        "updated_at": NOW,
    }


def test_the_database_refuses_a_second_live_claim_on_a_seat(world):
    """Invariant 1 is enforced by the database itself, whatever the code does."""
    row = _second_live_claim(world)
    with pytest.raises(IntegrityError):
        db.session.execute(insert(ReservationSeat), [row])
    db.session.rollback()
    assert invariants.run_all() == []


def test_the_claim_check_is_a_second_line_behind_the_index(world):
    """With the unique index dropped (inside a transaction that is rolled back), the
    one-live-claim check names the doubly claimed seat."""
    row = _second_live_claim(world)
    db.session.execute(text("DROP INDEX uq_reservation_seats_one_live_claim"))
    db.session.execute(insert(ReservationSeat), [row])
    violations = invariants.run_all(["one-live-claim-per-seat"])
    db.session.rollback()
    assert [(v.invariant, v.ids) for v in violations] == [
        ("one-live-claim-per-seat", (str(row["seat_id"]),))
    ]
    with pytest.raises(IntegrityError):  # the rollback brought the index back
        db.session.execute(insert(ReservationSeat), [row | {"id": uuid.uuid4()}])
    db.session.rollback()


def test_reconcile_on_an_empty_database_passes(app_ctx, runner):
    code, output, _ = reconcile(runner)
    assert code == 0, output
