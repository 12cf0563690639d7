"""Reading bookings: a customer's trips, one booking as its owner or staff may see it, its seats
still booked and the payments that paid for it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from booking.extensions import db
from booking.models import Booking, Payment, Schedule, User
from booking.models.enums import BookingSeatStatus, BookingStatus, PaymentStatus, Role
from booking.services.errors import NotFound


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
        raise NotFound("We could not find that booking.")
    return booking


def booked_numbers(booking: Booking) -> list[str]:
    """The seat numbers still booked."""
    return [s.seat_number for s in booking.seats if s.status == BookingSeatStatus.BOOKED]


def settled_payments(booking: Booking) -> list[Payment]:
    """The payments that paid for the booking (refunded ones included), oldest first."""
    return list(
        db.session.scalars(
            select(Payment)
            .where(
                Payment.booking_id == booking.id,
                Payment.status.in_([PaymentStatus.COMPLETED, PaymentStatus.REFUNDED]),
            )
            .order_by(Payment.created_at)
        )
    )
