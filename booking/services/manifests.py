"""The boarding manifest of a trip: every booked seat with its passenger, contact, booking and
check-in state, grouped for the conductor, with totals. Read-only.

Groups: by boarding point when the route has them (routes have none yet: ``_boarding_point`` is
where one will be read), else by deck; within a group by seat order (row, then column).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from booking.extensions import db
from booking.models import Booking, BookingSeat, Schedule, Seat, Ticket
from booking.models.enums import BookingSeatStatus, BookingStatus, Channel, Gender, TicketValidity
from booking.services.errors import NotFound

MESSAGES = {
    "no_trip": "We could not find that trip.",
}


@dataclass(frozen=True)
class ManifestRow:
    """One booked seat on the manifest."""

    seat_number: str
    deck: int
    row: int
    column: int
    passenger_name: str
    age: int
    gender: Gender
    contact_phone: str
    reference: str
    channel: Channel
    checked_in_at: datetime | None
    boarding_point: str | None = None

    @property
    def checked_in(self) -> bool:
        """True once the booking's ticket was scanned at the door."""
        return self.checked_in_at is not None


@dataclass(frozen=True)
class ManifestGroup:
    """The seats boarding at one point (or on one deck), in seat order."""

    label: str
    rows: tuple[ManifestRow, ...]

    @property
    def checked_in(self) -> int:
        """How many of the group's seats are checked in."""
        return sum(1 for row in self.rows if row.checked_in)


@dataclass(frozen=True)
class ManifestTotals:
    """booked seats, seats checked in, and no-shows: booked but not checked in once the bus has
    left (None before departure: they have not boarded yet)."""

    booked: int
    checked_in: int
    not_checked_in: int
    no_shows: int | None


@dataclass(frozen=True)
class Manifest:
    """The boarding list of one trip, as it stands at ``generated_at``."""

    schedule_id: uuid.UUID
    route_name: str
    origin: str
    destination: str
    bus_number: str
    departure_at: datetime
    arrival_at: datetime
    departed: bool
    grouped_by: str  # "boarding point" or "deck"
    groups: tuple[ManifestGroup, ...]
    totals: ManifestTotals
    generated_at: datetime

    @property
    def rows(self) -> tuple[ManifestRow, ...]:
        """Every row, group after group."""
        return tuple(row for group in self.groups for row in group.rows)


def trip_manifest(schedule_id: uuid.UUID, now: datetime) -> Manifest:
    """The manifest of a trip now.

    :raise NotFound: for an unknown trip.
    """
    schedule = db.session.get(Schedule, schedule_id)
    if schedule is None:
        raise NotFound(MESSAGES["no_trip"])
    found = db.session.execute(
        select(BookingSeat, Booking, Seat, Ticket)
        .join(Booking, BookingSeat.booking_id == Booking.id)
        .join(Seat, BookingSeat.seat_id == Seat.id)
        .outerjoin(Ticket, Ticket.booking_id == Booking.id)
        .where(
            Booking.schedule_id == schedule.id,
            Booking.status.in_([BookingStatus.CONFIRMED, BookingStatus.COMPLETED]),
            BookingSeat.status == BookingSeatStatus.BOOKED,
        )
    ).all()
    rows = [
        ManifestRow(
            seat_number=booked.seat_number,
            deck=seat.deck,
            row=seat.row_index,
            column=seat.column_index,
            passenger_name=booked.passenger_name,
            age=booked.passenger_age,
            gender=booked.passenger_gender,
            contact_phone=booking.contact_phone,
            reference=booking.reference,
            channel=booking.channel,
            checked_in_at=(
                ticket.used_at
                if ticket is not None and ticket.validity == TicketValidity.USED
                else None
            ),
            boarding_point=_boarding_point(booking),
        )
        for booked, booking, seat, ticket in found
    ]
    by_point = any(row.boarding_point for row in rows)
    groups = _group(rows, schedule, by_point)
    departed = now >= schedule.departure_at
    checked_in = sum(1 for row in rows if row.checked_in)
    totals = ManifestTotals(
        booked=len(rows),
        checked_in=checked_in,
        not_checked_in=len(rows) - checked_in,
        no_shows=(len(rows) - checked_in) if departed else None,
    )
    route = schedule.route
    return Manifest(
        schedule_id=schedule.id,
        route_name=route.name,
        origin=route.origin_city,
        destination=route.destination_city,
        bus_number=schedule.bus.bus_number,
        departure_at=schedule.departure_at,
        arrival_at=schedule.arrival_at,
        departed=departed,
        grouped_by="boarding point" if by_point else "deck",
        groups=groups,
        totals=totals,
        generated_at=now,
    )


def _boarding_point(booking: Booking) -> str | None:
    """Where the booking's passengers board. Routes have no boarding points yet; when bookings
    carry one, return its name here and the manifest groups by it."""
    return None


def _group(
    rows: list[ManifestRow], schedule: Schedule, by_point: bool
) -> tuple[ManifestGroup, ...]:
    """The rows grouped by boarding point (in the order first seen by seat) or by deck, each
    group in seat order."""
    rows = sorted(rows, key=lambda r: (r.deck, r.row, r.column, r.seat_number))
    deck_names = _deck_names(schedule)
    keyed: dict[str, list[ManifestRow]] = {}
    for row in rows:
        label = (
            (row.boarding_point or "Boarding point not given")
            if by_point
            else deck_names.get(row.deck, f"Deck {row.deck + 1}")
        )
        keyed.setdefault(label, []).append(row)
    return tuple(ManifestGroup(label, tuple(members)) for label, members in keyed.items())


def _deck_names(schedule: Schedule) -> dict[int, str]:
    """Deck index -> its name from the bus layout ('Lower deck'); 'Seats' for a one-deck bus."""
    decks = (schedule.bus.seat_layout_config or {}).get("decks") or []
    if len(decks) <= 1:
        return {0: "Seats"}
    return {index: deck.get("name") or f"Deck {index + 1}" for index, deck in enumerate(decks)}
