"""Cancellations with a fixed clock: the refund policy at its boundaries, whole and partial
cancellation, where the refund goes, and the operator cancelling a whole trip."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from booking.extensions import db
from booking.models import (
    Booking,
    Cancellation,
    Payment,
    ReservationSeat,
    Schedule,
    Seat,
    Ticket,
    WalletTransaction,
)
from booking.models.enums import (
    BookingPaymentStatus,
    BookingSeatStatus,
    BookingStatus,
    HoldStatus,
    LedgerKind,
    PaymentMethod,
    PaymentStatus,
    RefundMode,
    RefundStatus,
    Role,
    ScheduleStatus,
    SeatStatus,
    TicketValidity,
)
from booking.orm import utcnow
from booking.services import bookings, cancellations, desk_sales, holds, tickets
from booking.services.cancellations import CancelError, CancelRefused
from booking.services.errors import NotFound
from booking.services.holds import HoldError
from booking.services.tickets import ScanStatus
from tests.money_support import (
    SEAT,
    actions,
    assert_invariants,
    balance,
    booking_of,
    deliver,
    desk_hold,
    details,
    emails,
    fresh,
    hold,
    hold_row,
    ledger,
    make_promo,
    open_shift,
    pay_wallet,
    payments_of,
    start_gateway,
    table_snapshot,
)
from tests.support import NOW, make_trip, make_user

MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DEPARTURE = NOW + timedelta(days=2)


@pytest.fixture
def asha_wallet() -> str:
    """Asha starts with Rs 5,000 in her wallet in these tests."""
    return "5000.00"


def book_by_wallet(customer, trip, seats, **kw):
    """A booking paid wholly from the wallet at NOW; returns its id."""
    hold_id = hold(customer.id, trip.id, seats)
    return pay_wallet(customer.id, hold_id, seats, now=NOW + MIN, **kw)


def book_split(trip, seats, wallet_part: str = "300.00"):
    """A customer pays ``wallet_part`` from the wallet and the rest by UPI; returns
    (customer, booking id)."""
    customer = make_user(wallet=wallet_part)
    hold_id = hold(customer.id, trip.id, seats)
    started = start_gateway(customer.id, hold_id, seats, now=NOW + MIN)
    assert deliver("payment.succeeded", started.payment_id, NOW + 2 * MIN).outcome == "confirmed"
    return customer, booking_of(hold_id).id


def cancel(booking_id, actor, at, seats=None, **kw):
    return cancellations.cancel_booking(
        booking_id, actor_id=actor.id, now=at, seat_numbers=seats, **kw
    )


def seat_status(trip_id, number) -> SeatStatus:
    return db.session.scalar(
        select(Seat.status)
        .where(Seat.schedule_id == trip_id, Seat.seat_number == number)
        .execution_options(populate_existing=True)
    )


def counter(trip_id) -> int:
    return db.session.scalar(
        select(Schedule.available_seats)
        .where(Schedule.id == trip_id)
        .execution_options(populate_existing=True)
    )


def ticket_of(booking_id) -> Ticket:
    return db.session.scalar(
        select(Ticket)
        .where(Ticket.booking_id == booking_id)
        .execution_options(populate_existing=True)
    )


# ---- the policy table --------------------------------------------------------------------------

CUSTOMER_POLICY = {
    "48 h before: 100%": (48 * HOUR, 100),
    "24 h 1 s before: 100%": (24 * HOUR + timedelta(seconds=1), 100),
    "exactly 24 h before: 50%": (24 * HOUR, 50),
    "23 h 59 min before: 50%": (24 * HOUR - MIN, 50),
    "2 h 1 s before: 50%": (2 * HOUR + timedelta(seconds=1), 50),
    "exactly 2 h before: 50%": (2 * HOUR, 50),
}


@pytest.mark.parametrize("ahead,percent", CUSTOMER_POLICY.values(), ids=CUSTOMER_POLICY.keys())
def test_customer_refund_follows_the_policy_at_its_boundaries(trip, asha, ahead, percent):
    """More than 24 h: 100%; from 24 h down to 2 h: 50%; the refund lands in the wallet."""
    booking_id = book_by_wallet(asha, trip, ["2A"])
    at = DEPARTURE - ahead
    preview = cancellations.refund_preview(
        fresh(Booking, booking_id), None, actor_role=Role.CUSTOMER, now=at
    )
    assert preview.allowed and preview.percent == percent
    done = cancel(booking_id, asha, at)
    expected = SEAT * percent / 100
    assert done.refund_amount == preview.amount == expected
    assert done.refund_percent == percent
    assert balance(asha.id) == Decimal("5000.00") - SEAT + expected
    assert_invariants()


@pytest.mark.parametrize("ahead", [2 * HOUR - timedelta(seconds=1), 30 * MIN, timedelta(seconds=1)])
def test_customer_cannot_cancel_within_two_hours_of_departure(trip, asha, ahead):
    """Refused with the message pointing to the counter; nothing changes."""
    booking_id = book_by_wallet(asha, trip, ["2A"])
    before = table_snapshot()
    with pytest.raises(CancelError) as caught:
        cancel(booking_id, asha, DEPARTURE - ahead)
    assert caught.value.message == (
        "Bookings can be cancelled online up to 2 hours before departure. "
        "Please speak to our counter staff."
    )
    assert table_snapshot() == before


@pytest.mark.parametrize("role", [Role.STAFF, Role.ADMIN])
def test_staff_and_admins_may_cancel_within_two_hours_at_no_refund(trip, asha, role):
    """The seat is freed and the booking cancelled, but nothing is refunded."""
    booking_id = book_by_wallet(asha, trip, ["2A"])
    done = cancel(booking_id, make_user(role), DEPARTURE - 30 * MIN, reason="No-show warning")
    assert done.refund_amount == 0 and done.refund_percent == 0
    booking = fresh(Booking, booking_id)
    assert booking.status == BookingStatus.CANCELLED
    assert booking.payment_status == BookingPaymentStatus.COMPLETED  # nothing was refunded
    assert balance(asha.id) == Decimal("5000.00") - SEAT
    assert seat_status(trip.id, "2A") == SeatStatus.AVAILABLE
    assert ticket_of(booking_id).validity == TicketValidity.CANCELLED
    assert_invariants()


@pytest.mark.parametrize("role", [Role.CUSTOMER, Role.STAFF, Role.ADMIN])
@pytest.mark.parametrize("after", [timedelta(0), MIN, 3 * HOUR])
def test_nobody_can_cancel_once_the_bus_has_left(trip, asha, role, after):
    booking_id = book_by_wallet(asha, trip, ["2A"])
    actor = asha if role == Role.CUSTOMER else make_user(role)
    before = table_snapshot()
    with pytest.raises(CancelError, match="already left"):
        cancel(booking_id, actor, DEPARTURE + after)
    assert table_snapshot() == before


def test_a_refusal_by_the_policy_is_a_409_carrying_the_preview(trip, asha):
    """Too late for a customer: CancelRefused (a CancelError) with status 409 and the preview
    the cancel page shows; nothing changes."""
    booking_id = book_by_wallet(asha, trip, ["2A", "2B"])
    before = table_snapshot()
    with pytest.raises(CancelRefused) as caught:
        cancel(booking_id, asha, DEPARTURE - 30 * MIN, seats=["2B"])
    preview = caught.value.details["preview"]
    assert caught.value.status == 409 and isinstance(caught.value, CancelError)
    assert preview.allowed is False and preview.seat_numbers == ("2B",)
    assert preview.refusal == caught.value.message
    assert table_snapshot() == before


def test_staff_cancelling_early_refund_like_customers(trip, asha):
    """The policy percent does not depend on who cancels, only the late window does."""
    booking_id = book_by_wallet(asha, trip, ["2A"])
    done = cancel(booking_id, make_user(Role.STAFF), DEPARTURE - 10 * HOUR)
    assert done.refund_percent == 50


# ---- whole and partial -------------------------------------------------------------------------


def test_cancelling_one_seat_keeps_the_others_and_reissues_the_ticket(trip, asha):
    """2B goes back on sale with its fare refunded; 2A and 2C stay booked on a new ticket whose
    QR verifies (at the door) while the old one reads as replaced."""
    booking_id = book_by_wallet(asha, trip, ["2A", "2B", "2C"])
    old_token = ticket_of(booking_id).qr_payload
    done = cancel(booking_id, asha, NOW + HOUR, seats=["2b"], reason="Plans changed")

    assert (done.refund_amount, done.refund_percent) == (SEAT, 100)
    assert done.refund_mode == RefundMode.WALLET
    assert done.refund_status == RefundStatus.PROCESSED
    assert done.reason == "Plans changed" and done.cancelled_by_id == asha.id
    booking = fresh(Booking, booking_id)
    assert booking.status == BookingStatus.CONFIRMED
    assert booking.payment_status == BookingPaymentStatus.PARTIALLY_REFUNDED
    assert booking.refunded_amount == SEAT
    assert {s.seat_number: s.status for s in booking.seats} == {
        "2A": BookingSeatStatus.BOOKED,
        "2B": BookingSeatStatus.CANCELLED,
        "2C": BookingSeatStatus.BOOKED,
    }
    assert [s.seat_number for s in fresh(Cancellation, done.id).seats] == ["2B"]
    assert seat_status(trip.id, "2B") == SeatStatus.AVAILABLE
    assert seat_status(trip.id, "2A") == seat_status(trip.id, "2C") == SeatStatus.BOOKED
    assert counter(trip.id) == 38

    ticket = ticket_of(booking_id)
    assert ticket.version == 2 and ticket.validity == TicketValidity.VALID
    assert tickets.verify(old_token, DEPARTURE - HOUR).status == ScanStatus.REPLACED
    assert tickets.verify(ticket.qr_payload, DEPARTURE - HOUR).status == ScanStatus.VALID

    [debit] = ledger(asha.id, LedgerKind.DEBIT)
    [refund] = ledger(asha.id, LedgerKind.REFUND)
    assert refund.parent_id == debit.id and refund.amount == SEAT
    assert refund.booking_id == booking_id
    assert "booking.seats_cancelled" in actions(booking_id)
    [email] = emails("booking_cancelled")
    assert "2B" in email.subject and email.attach_ticket

    # The freed seat can be held by someone else at once.
    other = make_user()
    assert hold(other.id, trip.id, ["2B"], now=NOW + HOUR)
    assert_invariants()


def test_cancelling_the_last_seats_cancels_the_booking_and_its_ticket(trip, asha):
    booking_id = book_by_wallet(asha, trip, ["2A", "2B"])
    cancel(booking_id, asha, NOW + HOUR, seats=["2A"])
    cancel(booking_id, asha, NOW + 2 * HOUR, seats=["2B"])
    booking = fresh(Booking, booking_id)
    assert booking.status == BookingStatus.CANCELLED
    assert booking.payment_status == BookingPaymentStatus.REFUNDED
    assert booking.refunded_amount == booking.total_amount
    ticket = ticket_of(booking_id)
    assert ticket.validity == TicketValidity.CANCELLED
    assert tickets.verify(ticket.qr_payload, NOW + 2 * HOUR).status == ScanStatus.CANCELLED
    assert balance(asha.id) == Decimal("5000.00")
    assert fresh(Payment, payments_of(booking.reservation_id)[0].id).status == (
        PaymentStatus.REFUNDED
    )
    assert counter(trip.id) == 40
    assert "booking.cancelled" in actions(booking_id)
    assert_invariants()


def test_a_whole_cancellation_ends_every_claim_of_the_booking(trip, asha):
    booking_id = book_by_wallet(asha, trip, ["2A", "2B"])
    cancel(booking_id, asha, NOW + HOUR)
    hold_id = fresh(Booking, booking_id).reservation_id
    live = db.session.scalar(
        select(func.count())
        .select_from(ReservationSeat)
        .where(ReservationSeat.reservation_id == hold_id, ReservationSeat.is_live)
    )
    assert live == 0
    assert hold_row(hold_id).status == HoldStatus.CONFIRMED  # the hold was paid; it stays so
    assert_invariants()


@pytest.mark.parametrize(
    "seats,message",
    [(["9D"], "9D are not booked"), (["2A", "7C"], "7C are not booked"), ([" "], "at least one")],
)
def test_cancelling_seats_that_are_not_on_the_booking_is_refused(trip, asha, seats, message):
    booking_id = book_by_wallet(asha, trip, ["2A", "2B"])
    before = table_snapshot()
    with pytest.raises(CancelError, match=message):
        cancel(booking_id, asha, NOW + HOUR, seats=seats)
    assert table_snapshot() == before


def test_a_seat_already_cancelled_cannot_be_cancelled_again(trip, asha):
    booking_id = book_by_wallet(asha, trip, ["2A", "2B"])
    cancel(booking_id, asha, NOW + HOUR, seats=["2A"])
    with pytest.raises(CancelError, match="2A"):
        cancel(booking_id, asha, NOW + HOUR, seats=["2A"])


def test_a_cancelled_booking_cannot_be_cancelled_again(trip, asha):
    booking_id = book_by_wallet(asha, trip, ["2A"])
    cancel(booking_id, asha, NOW + HOUR)
    before = table_snapshot()
    with pytest.raises(CancelError):
        cancel(booking_id, asha, NOW + HOUR)
    assert table_snapshot() == before


def test_another_customers_booking_is_not_found(trip, asha):
    """Cancelling or even looking up someone else's booking is NotFound (not 403)."""
    booking_id = book_by_wallet(asha, trip, ["2A"])
    stranger = make_user()
    before = table_snapshot()
    with pytest.raises(NotFound):
        cancel(booking_id, stranger, NOW + HOUR)
    with pytest.raises(NotFound):
        bookings.booking_for(fresh(Booking, booking_id).reference, stranger)
    assert table_snapshot() == before
    staff = make_user(Role.STAFF)
    assert bookings.booking_for(fresh(Booking, booking_id).reference.lower(), staff).id == (
        booking_id
    )


# ---- where the refund goes ---------------------------------------------------------------------


def test_refund_to_the_wallet_reverses_the_wallet_debit_and_credits_the_gateway_part(trip):
    """Paid 300.00 from the wallet and 750.00 by UPI: cancelling refunds the 300.00 against its
    debit and credits the 750.00 to the wallet, naming the UPI payment."""
    customer, booking_id = book_split(trip, ["2A", "2B"])
    cancel(booking_id, customer, NOW + HOUR, refund_mode=RefundMode.WALLET)
    wallet_part, upi_part = payments_of(fresh(Booking, booking_id).reservation_id)
    [debit] = ledger(customer.id, LedgerKind.DEBIT)
    [refund] = ledger(customer.id, LedgerKind.REFUND)
    assert refund.parent_id == debit.id and refund.amount == Decimal("300.00")
    credit = ledger(customer.id, LedgerKind.CREDIT)[-1]
    assert credit.amount == Decimal("750.00") and credit.payment_id == upi_part.id
    assert credit.booking_id == booking_id
    assert balance(customer.id) == 2 * SEAT
    assert wallet_part.status == upi_part.status == PaymentStatus.REFUNDED
    assert wallet_part.refunded_amount == wallet_part.amount
    assert upi_part.refunded_amount == upi_part.amount
    assert_invariants()


def test_refund_to_the_original_method_goes_back_through_the_gateway(trip, gateway_refunds):
    """The UPI part is refunded at the gateway (asked after commit); the wallet part, whose
    original method is the wallet, comes back to it."""
    customer, booking_id = book_split(trip, ["2A", "2B"])
    cancel(booking_id, customer, NOW + HOUR, seats=["2A"], refund_mode=RefundMode.ORIGINAL)
    wallet_part, upi_part = payments_of(fresh(Booking, booking_id).reservation_id)
    # 525.00 refunded, split over what each payment paid: 150.00 wallet, 375.00 UPI.
    assert wallet_part.refunded_amount == Decimal("150.00")
    assert upi_part.refunded_amount == Decimal("375.00")
    assert upi_part.status == PaymentStatus.COMPLETED  # partly refunded, still kept in part
    assert gateway_refunds == [(upi_part.gateway_reference, Decimal("375.00"))]
    assert [r.amount for r in ledger(customer.id, LedgerKind.REFUND)] == [Decimal("150.00")]
    assert len(ledger(customer.id, LedgerKind.CREDIT)) == 1  # only the opening credit
    assert balance(customer.id) == Decimal("150.00")
    assert_invariants()


def test_a_walk_in_is_refunded_to_the_original_method_only(trip):
    """A desk booking has no wallet: cash goes back over the counter, never to a wallet."""
    clerk = make_user(Role.STAFF)
    open_shift(clerk.id)
    hold_id = desk_hold(clerk.id, trip.id, ["5A"])
    booking = desk_sales.sell_at_desk(
        hold_id=hold_id, clerk_id=clerk.id, details=details(["5A"]), now=NOW + MIN
    )
    with pytest.raises(CancelError, match="no wallet"):
        cancel(booking.id, clerk, NOW + HOUR, refund_mode=RefundMode.WALLET)
    done = cancel(booking.id, clerk, NOW + HOUR)
    assert done.refund_mode == RefundMode.ORIGINAL and done.refund_amount == SEAT
    [cash] = payments_of(hold_id)
    assert cash.method == PaymentMethod.CASH and cash.status == PaymentStatus.REFUNDED
    assert db.session.scalar(select(func.count()).select_from(WalletTransaction)) == 0
    assert_invariants()


def test_refunds_never_exceed_what_was_paid_across_partial_cancellations(trip, app_ctx):
    """Odd paise (a 7% code on mixed fares, paid wallet + UPI), seats cancelled one at a time at
    50% and then 100%: each refund is within what is left, and the totals add up exactly."""
    make_promo("ODD7", percent_off=7)
    customer = make_user(wallet="333.33")
    seats = ["1A", "2A", "2B", "2C"]
    hold_id = hold(customer.id, trip.id, seats)
    started = start_gateway(customer.id, hold_id, seats, now=NOW + MIN, promo_code="ODD7")
    deliver("payment.succeeded", started.payment_id, NOW + 2 * MIN)
    booking_id = booking_of(hold_id).id
    total = fresh(Booking, booking_id).total_amount
    # Fares 2050.00, 7% off is 143.50, GST 5% of 1906.50 is 95.325 -> 95.33.
    assert total == Decimal("2001.83")

    cancel(booking_id, customer, DEPARTURE - 5 * HOUR, seats=["2A"])  # 50%
    cancel(booking_id, customer, DEPARTURE - 5 * HOUR, seats=["1A"])  # 50%
    cancel(booking_id, customer, NOW + HOUR, seats=["2B"])  # 100%
    cancel(booking_id, customer, NOW + HOUR)  # the last seat, 100%

    booking = fresh(Booking, booking_id)
    refunds = db.session.scalars(
        select(Cancellation.refund_amount).where(Cancellation.booking_id == booking_id)
    ).all()
    assert len(refunds) == 4
    assert sum(refunds) == booking.refunded_amount < booking.total_amount
    charged = {s.seat_number: s.charged for s in booking.seats}
    assert sum(charged.values()) == total
    expected = (
        (charged["2A"] / 2).quantize(Decimal("0.01"))
        + (charged["1A"] / 2).quantize(Decimal("0.01"))
        + charged["2B"]
        + charged["2C"]
    )
    assert abs(booking.refunded_amount - expected) <= Decimal("0.01")
    paid = payments_of(hold_id)
    assert sum(p.refunded_amount for p in paid) == booking.refunded_amount
    assert all(p.refunded_amount <= p.amount for p in paid)
    [debit] = ledger(customer.id, LedgerKind.DEBIT)
    assert sum(r.amount for r in ledger(customer.id, LedgerKind.REFUND)) <= debit.amount
    assert_invariants()


# ---- the operator cancels the trip -------------------------------------------------------------


def test_cancelling_a_trip_refunds_every_booking_in_full_and_releases_every_hold(
    trip, asha, admin, gateway_refunds
):
    """Wallet, wallet + UPI and cash bookings all refunded 100% to their original methods (even
    a seat cancelled earlier at 50% keeps its own refund); active and lapsed holds released."""
    wallet_booking = book_by_wallet(asha, trip, ["2A", "2B"])
    cancel(wallet_booking, asha, DEPARTURE - 5 * HOUR, seats=["2A"])  # 50% of 525.00 back
    split_customer, split_booking = book_split(trip, ["3C"])
    clerk = make_user(Role.STAFF)
    open_shift(clerk.id)
    desk_hold_id = desk_hold(clerk.id, trip.id, ["5A"])
    cash_booking = desk_sales.sell_at_desk(
        hold_id=desk_hold_id, clerk_id=clerk.id, details=details(["5A"]), now=NOW + MIN
    ).id
    live_hold = hold(make_user().id, trip.id, ["6A", "6B"], now=DEPARTURE - 4 * HOUR)
    lapsed_hold = hold(make_user().id, trip.id, ["7A"], now=DEPARTURE - 5 * HOUR)
    at = DEPARTURE - 4 * HOUR + MIN

    result = cancellations.cancel_trip(trip.id, admin_id=admin.id, reason="Flooded road", now=at)
    assert result.bookings_cancelled == 3 and result.holds_released == 2
    assert result.refunded == SEAT + SEAT + SEAT  # what was left of each booking

    for booking_id in (wallet_booking, split_booking, cash_booking):
        booking = fresh(Booking, booking_id)
        assert booking.status == BookingStatus.CANCELLED
        assert ticket_of(booking_id).validity == TicketValidity.CANCELLED
        last = fresh(Cancellation, booking.cancellations[-1].id)
        assert last.refund_percent == 100 and last.refund_mode == RefundMode.ORIGINAL
    assert balance(asha.id) == Decimal("5000.00") - SEAT / 2
    assert balance(split_customer.id) == Decimal("300.00")
    upi = fresh(Payment, payments_of(booking_of_id(split_booking))[1].id)
    assert upi.status == PaymentStatus.REFUNDED
    assert gateway_refunds == [(upi.gateway_reference, SEAT - Decimal("300.00"))]
    for hold_id in (live_hold, lapsed_hold):
        assert hold_row(hold_id).status == HoldStatus.RELEASED
    assert fresh(Schedule, trip.id).status == ScheduleStatus.CANCELLED
    assert counter(trip.id) == 40
    assert all(
        status == SeatStatus.AVAILABLE
        for status in db.session.scalars(select(Seat.status).where(Seat.schedule_id == trip.id))
    )
    assert_invariants()

    before = table_snapshot()
    again = cancellations.cancel_trip(trip.id, admin_id=admin.id, reason="Flooded road", now=at)
    assert (again.bookings_cancelled, again.holds_released, again.refunded) == (0, 0, 0)
    assert table_snapshot() == before


def booking_of_id(booking_id):
    """The hold id of a booking."""
    return fresh(Booking, booking_id).reservation_id


def test_a_cancelled_trip_takes_no_new_holds(trip, admin):
    cancellations.cancel_trip(trip.id, admin_id=admin.id, reason="Strike", now=NOW)
    with pytest.raises(HoldError, match="cancelled"):
        holds.hold_seats(
            customer_id=make_user().id, schedule_id=trip.id, seat_numbers=["2A"], now=NOW
        )


def test_cancelling_a_trip_needs_a_reason_and_a_trip_that_has_not_left(trip, admin):
    before = table_snapshot()
    with pytest.raises(CancelError, match="reason"):
        cancellations.cancel_trip(trip.id, admin_id=admin.id, reason="  ", now=NOW)
    assert table_snapshot() == before
    db.session.execute(
        Schedule.__table__.update()
        .where(Schedule.id == trip.id)
        .values(status=ScheduleStatus.DEPARTED)
    )
    db.session.commit()
    with pytest.raises(CancelError, match="already left"):
        cancellations.cancel_trip(trip.id, admin_id=admin.id, reason="Late", now=NOW)


def test_flask_trips_cancel_refunds_and_releases_once(app_ctx, runner):
    """The ops command: bookings refunded in full, holds released; run again, nothing more; a
    non-admin or an unknown trip change nothing and say why."""
    now = utcnow()
    admin = make_user(Role.ADMIN, now=now)
    trip = make_trip(now=now)
    buyer = make_user(wallet="5000.00", now=now)
    booking_id = pay_wallet(buyer.id, hold(buyer.id, trip.id, ["2A"], now=now), ["2A"], now=now)
    hold(make_user(now=now).id, trip.id, ["3C"], now=now)
    db.session.commit()
    args = ["trips", "cancel", str(trip.id), "--reason", "Flooded road"]

    refused = runner.invoke(args=[*args, "--admin", buyer.email])
    assert refused.exit_code == 1 and f"No active admin has the email '{buyer.email}'" in (
        refused.output
    )
    unknown = runner.invoke(
        args=["trips", "cancel", str(uuid.uuid4()), "--reason", "x", "--admin", admin.email]
    )
    assert unknown.exit_code == 1 and "We could not find that trip." in unknown.output
    assert fresh(Booking, booking_id).status == BookingStatus.CONFIRMED

    first = runner.invoke(args=[*args, "--admin", admin.email])
    assert first.exit_code == 0, first.output
    assert "1 booking(s) refunded Rs 525.00 in all, 1 hold(s) released." in first.output
    assert fresh(Booking, booking_id).status == BookingStatus.CANCELLED
    assert fresh(Schedule, trip.id).available_seats == 40  # the 2+2 seater, all free again
    again = runner.invoke(args=[*args, "--admin", admin.email])
    assert "0 booking(s) refunded Rs 0.00 in all, 0 hold(s) released." in again.output
    assert balance(buyer.id) == Decimal("5000.00")


# ---- after check-in ------------------------------------------------------------------------------


def test_a_checked_in_booking_cannot_be_cancelled_by_the_customer_but_staff_may(trip, asha):
    """Once the ticket was scanned at the door the customer's cancel is refused with a clear
    message and nothing changes; counter staff may still cancel, at the policy's percent."""
    booking_id = book_by_wallet(asha, trip, ["2A", "2B"])
    at = DEPARTURE - 3 * HOUR  # inside the check-in window; the policy gives 50%
    clerk = make_user(Role.STAFF)
    admitted = tickets.check_in(ticket_of(booking_id).qr_payload, staff_id=clerk.id, now=at)
    assert admitted.status == ScanStatus.VALID

    preview = cancellations.refund_preview(
        fresh(Booking, booking_id), None, actor_role=Role.CUSTOMER, now=at
    )
    assert not preview.allowed and preview.amount == 0
    assert "checked in at the bus door" in preview.refusal
    with pytest.raises(cancellations.CancelRefused, match="checked in at the bus door"):
        cancel(booking_id, asha, at)
    assert fresh(Booking, booking_id).status == BookingStatus.CONFIRMED

    staff_preview = cancellations.refund_preview(
        fresh(Booking, booking_id), None, actor_role=Role.STAFF, now=at
    )
    assert staff_preview.allowed and staff_preview.percent == 50
    done = cancel(booking_id, clerk, at, seats=["2B"], reason="Missed the bus")
    assert done.refund_percent == 50 and done.refund_amount == SEAT / 2
