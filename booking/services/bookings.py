"""Reading bookings: a customer's trips, one booking as its owner or staff may see it, and the
calendar entry for a trip."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from booking.extensions import db
from booking.models import Booking, Schedule, User
from booking.models.enums import BookingSeatStatus, BookingStatus, Role
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


def calendar(booking: Booking, now: datetime) -> str:
    """An iCalendar (RFC 5545) event for the trip, to add it to a calendar."""
    schedule = booking.schedule

    def stamp(moment: datetime) -> str:
        return moment.strftime("%Y%m%dT%H%M%SZ")

    def text(value: str) -> str:
        return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")

    seats = ", ".join(booked_numbers(booking))
    summary = f"Bus {schedule.route.origin_city} to {schedule.route.destination_city}"
    description = (
        f"Booking {booking.reference}, seats {seats}, bus {schedule.bus.bus_number} "
        f"({schedule.bus.type_label}). Show the QR code of your ticket when boarding."
    )
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:-//{text(current_app.config['OPERATOR_NAME'])}//Bus booking//EN",
        "BEGIN:VEVENT",
        f"UID:{booking.id}@{booking.reference.lower()}.booking",
        f"DTSTAMP:{stamp(now)}",
        f"DTSTART:{stamp(schedule.departure_at)}",
        f"DTEND:{stamp(schedule.arrival_at)}",
        f"SUMMARY:{text(summary)}",
        f"LOCATION:{text(schedule.route.origin_city)}",
        f"DESCRIPTION:{text(description)}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(lines) + "\r\n"
