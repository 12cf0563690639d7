"""The booking desk: what a counter clerk sees and does between the departures board and the
printed receipt. Seats are held through ``holds`` (the same claim path and race rules as online),
paid through ``desk_sales.sell_at_desk`` (the one finalization), cancelled through
``cancellations``; this module only reads and words the desk's own views.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app
from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import selectinload

from booking.database import unit_of_work
from booking.extensions import db
from booking.models import Booking, BookingSeat, Reservation, Route, Schedule, Seat
from booking.models.enums import BookingSeatStatus, Channel, HoldStatus
from booking.services import (
    audit,
    catalog,
    claims,
    holds,
    inventory,
    notifications,
    pricing,
)
from booking.services.errors import DomainError, NotFound
from booking.services.pricing import PromoError, Quote
from booking.services.refunds import account_email

MESSAGES = {
    "hold_not_found": "We could not find that desk hold.",
    "booking_not_found": "We could not find that booking.",
    "no_seats_typed": "Type the seat numbers (for example L2 L3 or 3A,3B) or tick them on the map.",
    "no_email": "This booking has no email address to send the ticket to.",
    "query_short": "Type at least 2 letters or digits: a reference, a phone number or a name.",
}

LOOKUP_LIMIT = 50
_SEAT_SPLIT = re.compile(r"[\s,;]+")


class DeskError(DomainError):
    """A desk request was refused; nothing changed."""


@dataclass(frozen=True)
class Departure:
    """A row of the departures board."""

    schedule: Schedule
    seats_left: int
    from_station: bool

    @property
    def trip_code(self) -> str:
        """What a clerk types or reads out for a trip: the bus number (unique per departure
        time in the timetable)."""
        return self.schedule.bus.bus_number


@dataclass(frozen=True)
class DeskCheckout:
    """A desk hold being paid: its trip, seats, price and time left."""

    hold: Reservation
    schedule: Schedule
    seats: list[Seat]
    quote: Quote
    promo_error: str | None
    live: bool
    seconds_left: int


# ---- departures --------------------------------------------------------------------------------


def departures(
    day: date, now: datetime, *, station: str | None = None, query: str | None = None
) -> list[Departure]:
    """The day's departures still to leave (operator's time), those from the clerk's station
    first, each with the seats free right now. ``query`` keeps the trips whose route or bus
    number contains every word typed (case-insensitive)."""
    trips = catalog.trips_on(day, now)
    words = [w.casefold() for w in (query or "").split() if w.strip()]
    if words:
        trips = [t for t in trips if all(w in _searchable(t) for w in words)]
    left = inventory.seats_left(trips, now)
    home = (station or "").casefold()
    rows = [
        Departure(t, left[t.id], bool(home) and t.route.origin_city.casefold() == home)
        for t in trips
    ]
    return sorted(rows, key=lambda row: (not row.from_station, row.schedule.departure_at))


def _searchable(trip: Schedule) -> str:
    """The text a type-ahead word may match: origin, destination, bus number and type."""
    route, bus = trip.route, trip.bus
    return (
        f"{route.origin_city} {route.destination_city} {bus.bus_number} {bus.bus_type}".casefold()
    )


# ---- selling -------------------------------------------------------------------------------------


def seat_numbers(typed: str | None, ticked: list[str] | None = None) -> list[str]:
    """Seat numbers from what the clerk typed ("L2 L3", "3a,3b") and ticked, in order, once.

    :raise DeskError: when there are none.
    """
    numbers = [n.upper() for n in _SEAT_SPLIT.split(typed or "") if n]
    numbers += [n.upper() for n in ticked or [] if n]
    numbers = list(dict.fromkeys(numbers))
    if not numbers:
        raise DeskError(MESSAGES["no_seats_typed"])
    return numbers


def hold_for_walk_in(
    schedule_id: uuid.UUID, *, clerk_id: uuid.UUID, typed: str | None, ticked: list[str], now
) -> Reservation:
    """Hold seats for a walk-in: a desk hold sold by the clerk, no customer account, through
    the same claim path as online (a clerk and a customer racing for a seat: one wins).

    :raise DeskError: nothing typed; HoldError naming taken or unknown seats (nothing held).
    """
    return holds.hold_seats(
        customer_id=None,
        schedule_id=schedule_id,
        seat_numbers=seat_numbers(typed, ticked),
        now=now,
        sold_by_id=clerk_id,
    )


def checkout(hold_id: uuid.UUID, now: datetime, promo_code: str | None = None) -> DeskCheckout:
    """A desk hold as the payment page shows it, priced by the one pricing function (a bad
    promo code is reported, and the price shown without it).

    :raise NotFound: for an unknown hold or one that is not a desk hold.
    """
    hold = db.session.get(Reservation, hold_id)
    if hold is None or hold.channel != Channel.DESK:
        raise NotFound(MESSAGES["hold_not_found"])
    schedule = db.session.get(Schedule, hold.schedule_id)
    live = hold.is_live_at(now)
    seats = claims.held_seats(hold.id)
    if not seats:
        ids = claims.last_seat_ids(db.session, hold)
        seats = list(db.session.scalars(select(Seat).where(Seat.id.in_(ids)))) if ids else []
    seats.sort(key=lambda seat: seat.seat_number)
    promo_error = None
    try:
        quote = _price(schedule, seats, now, promo_code)
    except PromoError as refusal:
        promo_error, quote = refusal.message, _price(schedule, seats, now, None)
    left = max(0, int((hold.expires_at - now).total_seconds())) if live else 0
    return DeskCheckout(hold, schedule, seats, quote, promo_error, live, left)


def _price(schedule, seats, now, promo_code) -> Quote:
    """The one pricing function, for a walk-in (no wallet, no customer limits)."""
    return pricing.quote(schedule, seats, now=now, promo_code=promo_code)


def open_hold_of(hold: Reservation) -> bool:
    """Whether a desk hold can still be paid (active; lapsed ones the page offers to redo)."""
    return hold.status == HoldStatus.ACTIVE


# ---- look-up ---------------------------------------------------------------------------------


def lookup(query: str, now: datetime) -> list[Booking]:
    """Bookings whose reference, contact phone, contact name or a passenger's name contains
    what was typed (case-insensitive): trips from today on first (soonest first), then past
    ones (most recent first); at most LOOKUP_LIMIT.

    :raise DeskError: for fewer than 2 letters or digits.
    """
    text = (query or "").strip()
    if len(re.sub(r"\W", "", text)) < 2:
        raise DeskError(MESSAGES["query_short"])
    lowered, digits = text.casefold(), re.sub(r"\D", "", text)
    matches = [
        func.upper(Booking.reference).contains(text.upper(), autoescape=True),
        func.lower(Booking.contact_name).contains(lowered, autoescape=True),
        exists().where(
            BookingSeat.booking_id == Booking.id,
            func.lower(BookingSeat.passenger_name).contains(lowered, autoescape=True),
        ),
    ]
    if len(digits) >= 4:
        matches.append(Booking.contact_phone.contains(digits, autoescape=True))
    start, _ = catalog.local_day_bounds(catalog.local_today(now))
    upcoming = Schedule.departure_at >= start
    rows = db.session.scalars(
        select(Booking)
        .join(Schedule, Schedule.id == Booking.schedule_id)
        .join(Route, Route.id == Schedule.route_id)
        .where(or_(*matches))
        .options(selectinload(Booking.seats), selectinload(Booking.schedule))
        .order_by(upcoming.desc(), Schedule.departure_at)
        .limit(LOOKUP_LIMIT * 2)
    ).all()
    ahead = [b for b in rows if b.schedule.departure_at >= start]
    past = sorted(
        (b for b in rows if b.schedule.departure_at < start), key=_departure, reverse=True
    )
    return (ahead + past)[:LOOKUP_LIMIT]


def _departure(booking: Booking) -> datetime:
    return booking.schedule.departure_at


# ---- after the sale ------------------------------------------------------------------------------


def resend_ticket(booking_id: uuid.UUID, *, staff_id: uuid.UUID, now: datetime) -> str:
    """Mail the ticket again to the booking's email (the contact's, else the account's).
    Returns the address.

    :raise NotFound: unknown booking; DeskError: no email address to send to.
    """
    with unit_of_work() as session:
        booking = session.get(Booking, booking_id)
        if booking is None:
            raise NotFound(MESSAGES["booking_not_found"])
        to = booking.contact_email or account_email(booking.user_id)
        if not to:
            raise DeskError(MESSAGES["no_email"])
        seats = [s.seat for s in booking.seats if s.status == BookingSeatStatus.BOOKED]
        notifications.queue(
            kind="booking_confirmed",
            to=to,
            now=now,
            context={"booking": booking, "schedule": booking.schedule, "seats": seats},
            booking_id=booking.id,
            attach_ticket=True,
        )
        audit.record("booking", booking.id, "ticket.resent", actor_id=staff_id, at=now, to=to)
    return to


def max_seats() -> int:
    """How many seats one desk hold may have (the same rule as online)."""
    return current_app.config["MAX_SEATS_PER_HOLD"]
