"""Seat inventory: seats generated for a trip from its bus layout."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, insert, select

from booking.database import unit_of_work
from booking.extensions import db
from booking.layouts import parse_layout
from booking.models import ReservationSeat, Schedule, Seat
from booking.models.enums import SeatStatus
from booking.services import audit
from booking.services.errors import Conflict, NotFound


class InventoryError(Conflict):
    """Seats cannot be (re)generated for this trip."""


def seat_rows(schedule: Schedule, now: datetime) -> list[dict]:
    """The seats rows of a trip, built from its bus layout (not yet inserted)."""
    specs = parse_layout(schedule.bus.seat_layout_config, schedule.bus.total_seats)
    return [
        {
            "id": uuid.uuid4(),
            "schedule_id": schedule.id,
            "seat_number": spec.number,
            "deck": spec.deck,
            "row_index": spec.row,
            "column_index": spec.column,
            "seat_type": spec.seat_type,
            "price_modifier": spec.price_modifier,
            "ladies_only": spec.ladies_only,
            "is_window": spec.is_window,
            "status": SeatStatus.AVAILABLE,
            "created_at": now,
            "updated_at": now,
        }
        for spec in specs
    ]


def add_seats(schedule: Schedule, now: datetime) -> int:
    """Insert a trip's seats inside the caller's transaction and set its counter; returns count."""
    rows = seat_rows(schedule, now)
    db.session.execute(insert(Seat), rows)
    schedule.available_seats = len(rows)
    schedule.seat_version += 1
    return len(rows)


def generate_seats(schedule_id: uuid.UUID, now: datetime, actor_id: uuid.UUID | None) -> int:
    """(Re)generate a trip's seats from its bus layout; idempotent until a seat is held or sold.

    :raise NotFound: for an unknown trip; InventoryError once any seat is held or booked.
    """
    with unit_of_work() as session:
        schedule = session.get(Schedule, schedule_id, with_for_update=True)
        if schedule is None:
            raise NotFound("No such trip.")
        # Any claim, even one long released, keeps history pointing at these seats.
        claimed = session.scalar(
            select(func.count())
            .select_from(ReservationSeat)
            .join(Seat, Seat.id == ReservationSeat.seat_id)
            .where(Seat.schedule_id == schedule_id)
        )
        if claimed:
            raise InventoryError(
                "Seats of this trip cannot be regenerated: some have already been held or sold."
            )
        session.execute(Seat.__table__.delete().where(Seat.schedule_id == schedule_id))
        count = add_seats(schedule, now)
        audit.record(
            "schedule",
            schedule.id,
            "schedule.seats_generated",
            actor_id=actor_id,
            at=now,
            seats=count,
        )
    return count
