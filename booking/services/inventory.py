"""Seat inventory: seats generated from a bus layout, and the seat map as of a moment."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, insert, select, update

from booking.database import unit_of_work
from booking.extensions import db
from booking.layouts import deck_names, parse_layout
from booking.models import Reservation, ReservationSeat, Schedule, Seat
from booking.models.enums import HoldStatus, SeatStatus
from booking.services import audit, pricing
from booking.services.errors import Conflict, NotFound

MESSAGES = {
    "trip_not_found": "We could not find that trip.",
    "regenerate": "Seats of this trip cannot be regenerated: some have already been held or sold.",
}


class InventoryError(Conflict):
    """Seats cannot be (re)generated for this trip."""


def seat_rows(schedule: Schedule, now: datetime) -> list[dict]:
    """The seats rows of a trip, built from its bus layout (not yet inserted)."""
    specs = parse_layout(schedule.bus.seat_layout_config, schedule.bus.total_seats)
    return [new_seat_row(schedule.id, spec, now) for spec in specs]


def new_seat_row(schedule_id: uuid.UUID, spec, now: datetime) -> dict:
    """The row of a new, free seat of a trip, from its layout spec."""
    return {
        "id": uuid.uuid4(),
        "schedule_id": schedule_id,
        "seat_number": spec.number,
        **spec.columns(),
        "status": SeatStatus.AVAILABLE,
        "created_at": now,
        "updated_at": now,
    }


def add_seats(schedule: Schedule, now: datetime) -> int:
    """Insert a trip's seats inside the caller's transaction and set its counter; returns count."""
    rows = seat_rows(schedule, now)
    db.session.execute(insert(Seat), rows)
    schedule.available_seats = len(rows)
    schedule.seat_version += 1
    return len(rows)


def add_seats_for(bus, schedule_ids: list[uuid.UUID], now: datetime) -> int:
    """Insert the seats of several new trips of one bus (the layout parsed once) in one
    statement inside the caller's transaction, and set their counters; returns seats added."""
    specs = parse_layout(bus.seat_layout_config, bus.total_seats)
    rows = [new_seat_row(schedule_id, spec, now) for schedule_id in schedule_ids for spec in specs]
    if rows:
        db.session.execute(insert(Seat), rows)
    db.session.execute(
        update(Schedule)
        .where(Schedule.id.in_(schedule_ids))
        .values(available_seats=len(specs), seat_version=Schedule.seat_version + 1)
        .execution_options(synchronize_session=False)
    )
    return len(rows)


def generate_seats(schedule_id: uuid.UUID, now: datetime, actor_id: uuid.UUID | None) -> int:
    """(Re)generate a trip's seats from its bus layout; idempotent until a seat is held or sold.

    :raise NotFound: for an unknown trip; InventoryError once any seat is held or booked.
    """
    with unit_of_work() as session:
        schedule = session.get(Schedule, schedule_id, with_for_update=True)
        if schedule is None:
            raise NotFound(MESSAGES["trip_not_found"])
        # Any claim, even one long released, keeps history pointing at these seats.
        claimed = session.scalar(
            select(func.count())
            .select_from(ReservationSeat)
            .join(Seat, Seat.id == ReservationSeat.seat_id)
            .where(Seat.schedule_id == schedule_id)
        )
        if claimed:
            raise InventoryError(MESSAGES["regenerate"])
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


# ---- reading the seat map ------------------------------------------------------------------

AVAILABLE, HELD, BOOKED, YOURS = "available", "held", "booked", "yours"


@dataclass(frozen=True)
class SeatView:
    """One seat as a viewer sees it at ``now``: held seats whose hold lapsed show as available."""

    id: uuid.UUID
    number: str
    deck: int
    row: int
    column: int
    seat_type: str
    ladies_only: bool
    is_window: bool
    fare: Decimal
    state: str
    holder_id: uuid.UUID | None  # the customer holding it (server side only, never rendered)

    def for_viewer(self, viewer_id: uuid.UUID | None) -> SeatView:
        """The same seat as ``viewer_id`` sees it: their own held seats are 'yours'."""
        if self.state == HELD and viewer_id is not None and self.holder_id == viewer_id:
            return replace(self, state=YOURS)
        return self

    @property
    def selectable(self) -> bool:
        """Whether the viewer may tick it (free, or already theirs)."""
        return self.state in (AVAILABLE, YOURS)


@dataclass(frozen=True)
class ViewerHold:
    """The viewer's own live hold on the trip, read with the seats."""

    id: uuid.UUID
    expires_at: datetime


@dataclass(frozen=True)
class SeatMap:
    """A trip's seats laid out deck by deck, with the version live updates are numbered by."""

    schedule: Schedule
    decks: list[tuple[str, list[list[SeatView | str]]]]
    seats: dict[str, SeatView]
    version: int
    my_hold: ViewerHold | None = None  # the viewer's live hold on this trip, if any

    @property
    def available_count(self) -> int:
        """Seats free to take right now."""
        return sum(1 for seat in self.seats.values() if seat.state == AVAILABLE)


def _seat_state_query(now: datetime):
    """Seats joined to their live claim: one query whatever the bus size."""
    return (
        select(
            Seat, Reservation.status, Reservation.expires_at, Reservation.user_id, Reservation.id
        )
        .outerjoin(
            ReservationSeat,
            (ReservationSeat.seat_id == Seat.id) & ReservationSeat.is_live,
        )
        .outerjoin(Reservation, Reservation.id == ReservationSeat.reservation_id)
    )


def _view(
    seat: Seat, base_price: Decimal, status, expires_at, holder_id, _hold_id, now
) -> SeatView:
    """Decide a seat's state as of ``now`` from its live claim (if any)."""
    if status == HoldStatus.CONFIRMED:
        state, holder = BOOKED, None
    elif status == HoldStatus.ACTIVE and expires_at > now:
        state, holder = HELD, holder_id
    else:
        state, holder = AVAILABLE, None  # no claim, or a hold that lapsed: the seat is free
    return SeatView(
        id=seat.id,
        number=seat.seat_number,
        deck=seat.deck,
        row=seat.row_index,
        column=seat.column_index,
        seat_type=seat.seat_type.value,
        ladies_only=seat.ladies_only,
        is_window=seat.is_window,
        fare=pricing.seat_fare(base_price, seat.price_modifier),
        state=state,
        holder_id=holder,
    )


def seat_views(
    schedule_id: uuid.UUID,
    now: datetime,
    seat_ids: Iterable[uuid.UUID] | None = None,
    numbers: Iterable[str] | None = None,
) -> tuple[int, list[SeatView]]:
    """The trip's seat_version and the seats (or only ``seat_ids``, or only the seats
    numbered ``numbers``) as of ``now``: two queries."""
    found = db.session.execute(
        select(Schedule.seat_version, Schedule.base_price).where(Schedule.id == schedule_id)
    ).one_or_none()
    if found is None:
        raise NotFound(MESSAGES["trip_not_found"])
    version, base_price = found
    query = _seat_state_query(now).where(Seat.schedule_id == schedule_id)
    if seat_ids is not None:
        query = query.where(Seat.id.in_(list(seat_ids)))
    if numbers is not None:
        query = query.where(Seat.seat_number.in_(list(numbers)))
    rows = db.session.execute(query).all()
    return version, [_view(seat, base_price, *rest, now) for seat, *rest in rows]


def seat_map(schedule_id: uuid.UUID, now: datetime, viewer_id: uuid.UUID | None = None) -> SeatMap:
    """The seat map of a trip for one viewer (with their live hold, if any), in two SQL
    statements whatever the bus size.

    :raise NotFound: for an unknown trip.
    """
    schedule = db.session.get(Schedule, schedule_id)
    if schedule is None:
        raise NotFound(MESSAGES["trip_not_found"])
    rows = db.session.execute(_seat_state_query(now).where(Seat.schedule_id == schedule_id)).all()
    seats = {
        seat.seat_number: _view(seat, schedule.base_price, *rest, now).for_viewer(viewer_id)
        for seat, *rest in rows
    }
    mine = next(
        (
            ViewerHold(hold_id, expires)
            for _seat, status, expires, holder, hold_id in rows
            if viewer_id is not None
            and holder == viewer_id
            and status == HoldStatus.ACTIVE
            and expires > now
        ),
        None,
    )
    layout = schedule.bus.seat_layout_config
    names = deck_names(layout)
    decks = []
    for index, deck in enumerate(layout["decks"]):
        grid = [
            [
                seats.get(cell["number"], "gap") if isinstance(cell, dict) else (cell or "gap")
                for cell in row
            ]
            for row in deck["rows"]
        ]
        decks.append((names[index], grid))
    return SeatMap(
        schedule=schedule,
        decks=decks,
        seats=seats,
        version=schedule.seat_version,
        my_hold=mine,
    )


def lapsed_claims_by_schedule(schedule_ids: list[uuid.UUID], now: datetime) -> dict:
    """Seats still marked held by holds that have lapsed, per trip (free, though not yet swept)."""
    if not schedule_ids:
        return {}
    rows = db.session.execute(
        select(Reservation.schedule_id, func.count())
        .join(ReservationSeat, ReservationSeat.reservation_id == Reservation.id)
        .where(
            Reservation.schedule_id.in_(schedule_ids),
            Reservation.status == HoldStatus.ACTIVE,
            Reservation.expires_at <= now,
            ReservationSeat.is_live,
        )
        .group_by(Reservation.schedule_id)
    ).all()
    return dict(rows)


def seats_left(schedules: list[Schedule], now: datetime) -> dict[uuid.UUID, int]:
    """Seats free right now per trip: the counter plus seats of lapsed holds (one query)."""
    lapsed = lapsed_claims_by_schedule([s.id for s in schedules], now)
    return {s.id: s.available_seats + lapsed.get(s.id, 0) for s in schedules}


@dataclass(frozen=True)
class LayoutPreview:
    """A seat map drawn from a layout alone (no trip): every seat available, at its modifier
    over ``base_price``. It has what templates/schedules/_decks.html reads from a SeatMap."""

    decks: list[tuple[str, list[list[SeatView | str]]]]
    seats: dict[str, SeatView]

    @property
    def available_count(self) -> int:
        """Every seat of the layout."""
        return len(self.seats)


def layout_preview(config: dict, base_price: Decimal = Decimal("0.00")) -> LayoutPreview:
    """The decks of a layout as the customers' seat map draws them, before any bus or trip
    exists. :raise LayoutError: when the layout does not validate."""
    specs = parse_layout(config)
    seats = {
        spec.number: SeatView(
            id=uuid.uuid5(uuid.NAMESPACE_OID, f"preview-{spec.number}"),
            number=spec.number,
            deck=spec.deck,
            row=spec.row,
            column=spec.column,
            seat_type=spec.seat_type,
            ladies_only=spec.ladies_only,
            is_window=spec.is_window,
            fare=pricing.seat_fare(base_price, spec.price_modifier),
            state=AVAILABLE,
            holder_id=None,
        )
        for spec in specs
    }
    names = deck_names(config)
    decks = [
        (
            names[index],
            [
                [
                    seats[cell["number"]] if isinstance(cell, dict) else (cell or "gap")
                    for cell in row
                ]
                for row in deck["rows"]
            ],
        )
        for index, deck in enumerate(config["decks"])
    ]
    return LayoutPreview(decks=decks, seats=seats)
