"""Bookings: the one finalization that turns a paid hold into a booking, and the reads of
bookings (a customer's trips, one booking as its owner or staff may see it, its seats still
booked and the payments that paid for it).

Payment first: a booking row is only ever created by ``confirm``, in the same transaction that
completes its payments, debits the wallet, books the seats, confirms the hold, issues the ticket
and writes the audit rows. Lock order: payment, hold, wallet, seats, schedule.
"""

from __future__ import annotations

import functools
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from booking.database import StaleRead, on_commit
from booking.extensions import db
from booking.formatting import money
from booking.models import Booking, BookingSeat, Payment, Reservation, Schedule, Seat, User
from booking.models.booking import REFERENCE_ALPHABET
from booking.models.enums import (
    BookingPaymentStatus,
    BookingStatus,
    HoldStatus,
    PaymentMethod,
    PaymentStatus,
    Role,
)
from booking.services import audit, claims, events, notifications, pricing, tickets, wallet
from booking.services.details import CheckoutDetails, PaymentError, require_details
from booking.services.errors import Conflict, NotFound
from booking.services.pricing import Quote
from booking.services.refunds import account_email

ZERO = Decimal("0.00")

MESSAGES = {
    "not_found": "We could not find that booking.",
    "mismatch": "The payments ({paid}) do not match the price ({total}).",
    "no_booking": "This hold is confirmed but has no booking; please contact support.",
}


@dataclass(frozen=True)
class Priced:
    """A hold's seats and the one quote for them, as checked inside the paying transaction."""

    seats: list[Seat]
    quote: Quote
    late: bool = False


@dataclass(frozen=True)
class _Amounts:
    """What the booking charges: the quote's, or nothing for a complimentary ticket."""

    discount: Decimal
    tax: Decimal
    total: Decimal


# ---- the one finalization ----------------------------------------------------------------------


def _logs_failure(finalize: Callable[..., Booking]) -> Callable[..., Booking]:
    """Write a ``booking.finalization_failed`` log line (hold, amount, error) when ``finalize``
    raises; the error still propagates and the caller's transaction rolls back. A stale read is
    no failure: the caller runs the transaction again."""

    @functools.wraps(finalize)
    def wrapper(hold: Reservation, payments: list[Payment], **options) -> Booking:
        try:
            return finalize(hold, payments, **options)
        except StaleRead:
            raise
        except Exception as error:
            audit.log_failure(
                "booking.finalization_failed",
                hold=hold.id,
                schedule=hold.schedule_id,
                customer=hold.user_id,
                amount=sum((payment.amount for payment in payments), ZERO),
                methods=[payment.method.value for payment in payments],
                error=type(error).__name__,
                reason=getattr(error, "message", None) or str(error)[:200],
            )
            raise

    return wrapper


@_logs_failure
def confirm(
    hold: Reservation,
    payments: list[Payment],
    *,
    now: datetime,
    actor_id: uuid.UUID | None,
    priced: Priced | None = None,
    complimentary_reason: str | None = None,
) -> Booking:
    """Turn a paid hold into a booking, inside the caller's transaction (the hold is locked).

    ``priced`` is the caller's check of the seats and price in this same transaction; without
    it (a gateway's word arriving) the hold is checked and priced here: live, or its seats still
    free for a late payment. Then: the amounts must match, the promo is redeemed, the booking is
    created with its seats and passengers, the payments completed (debiting the wallet for a
    wallet payment not debited yet), the seats booked, the hold confirmed, the ticket issued,
    the audit rows and the email written. The seat maps hear of it after commit.

    :raise PaymentError: when the amounts do not match the price; HoldError when a late
        payment's seats were taken; PricingError when the promo code no longer applies.
    """
    details = CheckoutDetails.from_json(hold.checkout)
    priced = priced or price_hold(hold, details, now)
    amounts = _amounts(priced.quote, complimentary_reason)
    _require_paid(payments, amounts.total)
    if priced.quote.promo_id and not complimentary_reason:
        pricing.redeem_promo(priced.quote.promo_id)
    booking = _new_booking(hold, details, priced.quote, amounts, now, complimentary_reason)
    _add_passengers(booking, priced, details, amounts.total, now)
    _complete_payments(booking, payments, hold.user_id, now, actor_id)
    claims.book(db.session, hold.schedule_id, [seat.id for seat in priced.seats], now)
    _confirm_hold(hold, now, priced.late, amounts.total)
    with audit.acting_for(actor_id):  # the ticket is issued by whoever made the booking
        tickets.issue_ticket(booking, now)
    _record_confirmed(booking, hold, priced, actor_id, now, complimentary_reason)
    return booking


def price_hold(hold: Reservation, details: CheckoutDetails, now: datetime) -> Priced:
    """With the hold locked: its seats (taken back first when it lapsed), the details checked
    against them, and the one quote (the customer's wallet locked first: it serialises their
    promo uses and debits)."""
    late = not hold.is_live_at(now)
    seats = claims.retake(hold, now) if late else claims.held_seats(hold.id)
    require_details(seats, details)
    if hold.user_id is not None:
        wallet.lock_wallet(hold.user_id)
    schedule = db.session.get(Schedule, hold.schedule_id)
    quote = pricing.quote(
        schedule, seats, now=now, promo_code=details.promo_code, customer_id=hold.user_id
    )
    return Priced(seats, quote, late)


def _amounts(quote: Quote, complimentary_reason: str | None) -> _Amounts:
    """The quote's discount, tax and total; a complimentary ticket discounts the whole fare."""
    if complimentary_reason:
        return _Amounts(discount=quote.fare_total, tax=ZERO, total=ZERO)
    return _Amounts(discount=quote.discount, tax=quote.tax, total=quote.total)


def _require_paid(payments: list[Payment], total: Decimal) -> None:
    """:raise PaymentError: when the payments do not add up to the total."""
    paid = sum((p.amount for p in payments), ZERO)
    if paid != total:
        raise PaymentError(
            MESSAGES["mismatch"].format(paid=money(paid), total=money(total)),
            paid=paid,
            total=total,
        )


def _new_booking(hold, details, quote: Quote, amounts: _Amounts, now, complimentary) -> Booking:
    """The booking row, with the contact and the amounts."""
    booking = Booking(
        id=uuid.uuid4(),
        reference=_new_reference(),
        reservation_id=hold.id,
        user_id=hold.user_id,
        sold_by_id=hold.sold_by_id,
        channel=hold.channel,
        schedule_id=hold.schedule_id,
        contact_name=details.contact_name.strip(),
        contact_phone=details.clean_phone,
        contact_email=(details.contact_email or None),
        base_amount=quote.fare_total,
        discount_amount=amounts.discount,
        tax_amount=amounts.tax,
        total_amount=amounts.total,
        promo_code_id=None if complimentary else quote.promo_id,
        payment_status=BookingPaymentStatus.COMPLETED,
        confirmed_at=now,
        created_at=now,
        updated_at=now,
    )
    db.session.add(booking)
    db.session.flush()
    return booking


def _add_passengers(booking: Booking, priced: Priced, details, total: Decimal, now) -> None:
    """One booking_seats row per seat: the seat number, its fare and charge, its passenger."""
    quote = priced.quote
    charges = quote.charge_by_seat() if total else {seat.id: ZERO for seat in priced.seats}
    fares = {fare.seat_id: fare.fare for fare in quote.seats}
    passengers = {p.seat_number: p for p in details.passengers}
    for seat in priced.seats:
        passenger = passengers[seat.seat_number]
        db.session.add(
            BookingSeat(
                booking_id=booking.id,
                seat_id=seat.id,
                seat_number=seat.seat_number,
                fare=fares[seat.id],
                charged=charges[seat.id],
                passenger_name=passenger.name.strip(),
                passenger_age=passenger.age,
                passenger_gender=passenger.gender,
                created_at=now,
                updated_at=now,
            )
        )


def _complete_payments(booking: Booking, payments, user_id, now, actor_id) -> None:
    """Complete each payment for the booking, debiting the wallet where not debited yet."""
    for payment in payments:
        if payment.method == PaymentMethod.WALLET and wallet.debit_for_payment(payment.id) is None:
            wallet.debit(
                wallet.lock_wallet(user_id),
                payment.amount,
                now=now,
                payment_id=payment.id,
                booking_id=booking.id,
                description=f"Booking {booking.reference}",
            )
        payment.status = PaymentStatus.COMPLETED
        payment.booking_id = booking.id
        payment.completed_at = now
        audit.record(
            "payment",
            payment.id,
            "payment.completed",
            actor_id=actor_id,
            at=now,
            booking=booking.reference,
            method=payment.method,
            amount=payment.amount,
        )


def _confirm_hold(hold: Reservation, now: datetime, late: bool, total: Decimal) -> None:
    """The hold has become a booking."""
    hold.status = HoldStatus.CONFIRMED
    hold.ended_at = now
    hold.end_reason = "paid late" if late else "paid"
    hold.total_amount = total


def _record_confirmed(booking, hold, priced: Priced, actor_id, now, complimentary) -> None:
    """The audit row, the confirmation email, and the after-commit announcement."""
    numbers = [s.seat_number for s in priced.seats]
    audit.record(
        "booking",
        booking.id,
        "booking.confirmed",
        actor_id=actor_id,
        at=now,
        reference=booking.reference,
        hold_id=hold.id,
        seats=numbers,
        total=booking.total_amount,
        late=priced.late,
        complimentary=complimentary,
    )
    schedule = db.session.get(Schedule, hold.schedule_id)
    notifications.queue(
        kind="booking_confirmed",
        to=booking.contact_email or account_email(hold.user_id),
        context={"booking": booking, "schedule": schedule, "seats": priced.seats},
        now=now,
        booking_id=booking.id,
        attach_ticket=True,
    )
    events.announce(
        events.booking_confirmed,
        booking.id,
        reference=booking.reference,
        schedule_id=hold.schedule_id,
        seats=numbers,
    )
    reference, schedule_id = booking.reference, hold.schedule_id
    on_commit(
        lambda: audit.log_event(
            "booking.confirmed", booking=reference, schedule=schedule_id, seats=len(numbers)
        )
    )


def booking_of_hold(hold: Reservation) -> Booking:
    """The booking a confirmed hold became.

    :raise Conflict: when there is none (a broken invariant, reported to the customer plainly).
    """
    booking = db.session.scalar(select(Booking).where(Booking.reservation_id == hold.id))
    if booking is None:
        raise Conflict(MESSAGES["no_booking"])
    return booking


def _new_reference() -> str:
    """A fresh booking reference: 10 upper-case letters and digits without look-alikes."""
    while True:
        reference = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(10))
        if db.session.scalar(select(Booking.id).where(Booking.reference == reference)) is None:
            return reference


# ---- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MyBookings:
    """A customer's bookings split by whether the trip is still ahead."""

    upcoming: list[Booking]
    past: list[Booking]


def for_customer(user_id: uuid.UUID, now: datetime) -> MyBookings:
    """The customer's bookings: upcoming soonest first, past most recent first."""
    rows = db.session.scalars(
        select(Booking)
        .join(Schedule, Schedule.id == Booking.schedule_id)
        .where(Booking.user_id == user_id)
        .options(selectinload(Booking.seats), selectinload(Booking.schedule))
        .order_by(Schedule.departure_at)
    ).all()
    upcoming = [
        b for b in rows if b.schedule.departure_at > now and b.status == BookingStatus.CONFIRMED
    ]
    past = [b for b in reversed(rows) if b not in upcoming]
    return MyBookings(upcoming, past)


def booking_for(reference: str, viewer: User) -> Booking:
    """A booking by reference, if the viewer may see it (its customer, staff or admins).

    :raise NotFound: otherwise (404 rather than 403, so references cannot be probed).
    """
    booking = db.session.scalar(
        select(Booking).where(Booking.reference == (reference or "").strip().upper())
    )
    if booking is None or (viewer.role == Role.CUSTOMER and booking.user_id != viewer.id):
        raise NotFound(MESSAGES["not_found"])
    return booking
