"""Operating one trip: what it looks like now, moving it to another bus, marking it departed.

Cancelling a whole trip is ``cancellations.cancel_trip``; completing trips after arrival is
``timetable.complete_trips``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select, update

from booking.database import unit_of_work
from booking.extensions import db
from booking.layouts import parse_layout
from booking.models import (
    BookingSeat,
    Bus,
    Reservation,
    ReservationSeat,
    Schedule,
    Seat,
)
from booking.models.enums import BookingSeatStatus, Gender, HoldStatus, ScheduleStatus
from booking.services import audit, claims, holds
from booking.services.errors import Conflict, DomainError, NotFound

# A trip can be marked departed from this long before its departure time.
DEPART_EARLIEST = timedelta(hours=2)

MESSAGES = {
    "trip_not_found": "We could not find that trip.",
    "bus_not_found": "We could not find that bus.",
    "same_bus": "This trip already runs with bus {bus}.",
    "bus_inactive": "Bus {bus} is not active.",
    "not_scheduled": "This trip is {status}; only a scheduled trip can be {what}.",
    "bus_left": "This bus has already left; its bus can no longer be changed.",
    "bus_busy": "Bus {bus} runs another trip at that time ({trip}).",
    "seats_missing": "Bus {bus} has no seat{s} {numbers}, which {verb} sold or held on this trip.",
    "seats_history": "Bus {bus} has no seat{s} {numbers}, which {verb} held or sold on this "
    "trip before; choose a bus that has {them}.",
    "ladies_only": "On bus {bus} seat{s} {numbers} {verb} for ladies only, and {were} sold to "
    "a passenger who is not marked female.",
    "too_early": "Trips can be marked departed from {hours} hours before departure; "
    "{examples} {verb} later than that.",
    "no_trips": "Choose at least one trip.",
    "unknown_trips": "{count} of the chosen trips no longer exist.",
    "not_all_scheduled": "Only scheduled trips can be marked departed; {examples} {verb} not. "
    "Nothing was changed.",
}


class TripError(DomainError):
    """A trip operation was refused; nothing was changed."""


class TripConflict(Conflict):
    """The trip's current state refuses the operation; nothing was changed."""


@dataclass(frozen=True)
class TripOverview:
    """A trip as its operations page shows it."""

    schedule: Schedule
    sold: int
    held: int
    free: int
    buses: list[Bus]  # the buses it could move to

    @property
    def on_sale_status(self) -> str:
        """The status for people."""
        return self.schedule.status.value.capitalize()

    @property
    def can_change(self) -> bool:
        """Whether the bus can be swapped or the trip cancelled (scheduled trips only)."""
        return self.schedule.status == ScheduleStatus.SCHEDULED


def overview(schedule_id: uuid.UUID, now: datetime) -> TripOverview:
    """The trip with its seats sold, held (by holds still live at ``now``) and free.

    :raise NotFound: for an unknown trip.
    """
    schedule = db.session.get(Schedule, schedule_id)
    if schedule is None:
        raise NotFound(MESSAGES["trip_not_found"])
    sold = case((Reservation.status == HoldStatus.CONFIRMED, 1), else_=0)
    held = case(
        ((Reservation.status == HoldStatus.ACTIVE) & (Reservation.expires_at > now), 1), else_=0
    )
    total, sold_count, held_count = db.session.execute(
        select(func.count(Seat.id), func.sum(sold), func.sum(held))
        .select_from(Seat)
        .outerjoin(ReservationSeat, (ReservationSeat.seat_id == Seat.id) & ReservationSeat.is_live)
        .outerjoin(Reservation, Reservation.id == ReservationSeat.reservation_id)
        .where(Seat.schedule_id == schedule_id)
    ).one()
    sold_count, held_count = int(sold_count or 0), int(held_count or 0)
    buses = list(
        db.session.scalars(
            select(Bus).where(Bus.is_active, Bus.id != schedule.bus_id).order_by(Bus.bus_number)
        )
    )
    return TripOverview(schedule, sold_count, held_count, total - sold_count - held_count, buses)


# ---- another bus ------------------------------------------------------------------------------


def swap_bus(
    schedule_id: uuid.UUID, new_bus_id: uuid.UUID, *, admin_id: uuid.UUID, now: datetime
) -> Schedule:
    """Run the trip with another bus: its seats are refitted to the new layout, each seat
    that is on both buses keeping its claim (sold and held seats stay where they are sold).

    :raise TripConflict: when the new bus lacks a seat that is sold or held (or ever was) on
        the trip, has a ladies-only seat where a man is booked, or runs another trip then;
        TripError for a trip that is not scheduled or has left; NotFound for unknowns.
    """
    with unit_of_work() as session:
        schedule = session.get(Schedule, schedule_id)
        if schedule is None:
            raise NotFound(MESSAGES["trip_not_found"])
        bus = session.get(Bus, new_bus_id, with_for_update=True)
        if bus is None:
            raise NotFound(MESSAGES["bus_not_found"])
        # Lock order: seats (by id), then the trip's row.
        claims.lock_seats(
            session, set(session.scalars(select(Seat.id).where(Seat.schedule_id == schedule_id)))
        )
        session.refresh(schedule, with_for_update=True)
        _require_changeable(schedule, now, "moved to another bus")
        old_number = schedule.bus.bus_number
        if bus.id == schedule.bus_id:
            raise TripError(MESSAGES["same_bus"].format(bus=bus.bus_number))
        if not bus.is_active:
            raise TripError(MESSAGES["bus_inactive"].format(bus=bus.bus_number))
        busy = session.scalars(
            select(Schedule).where(
                Schedule.bus_id == bus.id,
                Schedule.id != schedule.id,
                Schedule.status != ScheduleStatus.CANCELLED,
                Schedule.departure_at < schedule.arrival_at,
                Schedule.arrival_at > schedule.departure_at,
            )
        ).first()
        if busy is not None:
            when = f"{busy.route.name} {busy.departure_at:%d %b %H:%M} UTC"
            raise TripConflict(MESSAGES["bus_busy"].format(bus=bus.bus_number, trip=when))
        specs = parse_layout(bus.seat_layout_config, bus.total_seats)
        _refuse_lost_seats(session, schedule, bus, {s.number: s for s in specs})
        added, removed = claims.refit_seats(session, schedule.id, specs, now)
        session.execute(
            update(Schedule)
            .where(Schedule.id == schedule.id)
            .values(bus_id=bus.id, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        audit.record(
            "schedule",
            schedule.id,
            "schedule.bus_swapped",
            actor_id=admin_id,
            at=now,
            old_bus=old_number,
            new_bus=bus.bus_number,
            seats_added=added,
            seats_removed=removed,
        )
    db.session.expire_all()
    return db.session.get(Schedule, schedule_id)


def _refuse_lost_seats(session, schedule: Schedule, bus: Bus, specs: dict) -> None:
    """Refuse when a seat the trip sold, holds or ever claimed is not on ``bus``, or a seat
    booked by a passenger not marked female is ladies-only there."""
    rows = session.execute(
        select(Seat.seat_number, func.max(case((ReservationSeat.is_live, 1), else_=0)))
        .join(ReservationSeat, ReservationSeat.seat_id == Seat.id)
        .where(Seat.schedule_id == schedule.id)
        .group_by(Seat.seat_number)
    ).all()
    live = sorted(n for n, is_live in rows if is_live and n not in specs)
    past = sorted(n for n, is_live in rows if not is_live and n not in specs)
    for numbers, key in ((live, "seats_missing"), (past, "seats_history")):
        if numbers:
            raise TripConflict(
                MESSAGES[key].format(bus=bus.bus_number, **_plural(numbers)), seats=numbers
            )
    booked = session.execute(
        select(BookingSeat.seat_number, BookingSeat.passenger_gender)
        .join(Seat, Seat.id == BookingSeat.seat_id)
        .where(Seat.schedule_id == schedule.id, BookingSeat.status == BookingSeatStatus.BOOKED)
    ).all()
    wrong = sorted(
        n for n, gender in booked if n in specs and specs[n].ladies_only and gender != Gender.FEMALE
    )
    if wrong:
        raise TripConflict(
            MESSAGES["ladies_only"].format(bus=bus.bus_number, **_plural(wrong)), seats=wrong
        )


def _plural(numbers: list[str]) -> dict:
    one = len(numbers) == 1
    return {
        "numbers": ", ".join(numbers),
        "s": "" if one else "s",
        "verb": "is" if one else "are",
        "were": "was" if one else "were",
        "them": "it" if one else "them",
    }


def _require_changeable(schedule: Schedule, now: datetime, what: str) -> None:
    """:raise TripError: unless the trip is scheduled and has not left."""
    if schedule.status != ScheduleStatus.SCHEDULED:
        raise TripError(MESSAGES["not_scheduled"].format(status=schedule.status.value, what=what))
    if schedule.departure_at <= now:
        raise TripError(MESSAGES["bus_left"])


# ---- departed ----------------------------------------------------------------------------------


def mark_departed(schedule_ids: Iterable[uuid.UUID], *, admin_id: uuid.UUID, now: datetime) -> int:
    """The buses have left: the trips become departed (no more sales; claims.require_on_sale
    refuses them) and their live holds are released. All or nothing; returns the trips marked.

    :raise TripError: for none chosen, an unknown trip, one not scheduled, or one more than
        DEPART_EARLIEST before its departure.
    """
    ids = sorted(set(schedule_ids))
    with unit_of_work() as session:
        schedules = _departable(session, ids, now, lock=True)
        session.execute(
            update(Schedule)
            .where(Schedule.id.in_(ids))
            .values(status=ScheduleStatus.DEPARTED, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        for schedule in schedules:
            audit.record("schedule", schedule.id, "schedule.departed", actor_id=admin_id, at=now)
    db.session.expire_all()
    hold_ids = db.session.scalars(
        select(Reservation.id).where(
            Reservation.schedule_id.in_(ids), Reservation.status == HoldStatus.ACTIVE
        )
    ).all()
    for hold_id in hold_ids:  # each its own short transaction, as cancel_trip does
        holds.admin_release(hold_id, admin_id=admin_id, reason="trip departed", now=now)
    return len(ids)


def departing(schedule_ids: Iterable[uuid.UUID], now: datetime) -> list[Schedule]:
    """The trips ``mark_departed`` would mark, by departure (a preview; changes nothing).

    :raise TripError: as ``mark_departed`` would.
    """
    chosen = _departable(db.session, sorted(set(schedule_ids)), now, lock=False)
    return sorted(chosen, key=lambda s: (s.departure_at, s.route.name))


def _departable(session, ids: list, now: datetime, lock: bool) -> list[Schedule]:
    """These trips, if every one can be marked departed now."""
    if not ids:
        raise TripError(MESSAGES["no_trips"])
    query = select(Schedule).where(Schedule.id.in_(ids)).order_by(Schedule.id)
    if lock:
        query = query.with_for_update(of=Schedule).execution_options(populate_existing=True)
    schedules = list(session.scalars(query).unique())
    if len(schedules) != len(ids):
        raise NotFound(MESSAGES["unknown_trips"].format(count=len(ids) - len(schedules)))
    not_scheduled = [s for s in schedules if s.status != ScheduleStatus.SCHEDULED]
    if not_scheduled:
        examples = ", ".join(f"{_name(s)} ({s.status.value})" for s in not_scheduled[:3])
        raise TripError(
            MESSAGES["not_all_scheduled"].format(
                examples=examples, verb="is" if len(not_scheduled) == 1 else "are"
            )
        )
    early = [s for s in schedules if s.departure_at - DEPART_EARLIEST > now]
    if early:
        raise TripError(
            MESSAGES["too_early"].format(
                hours=int(DEPART_EARLIEST.total_seconds() // 3600),
                examples=", ".join(_name(s) for s in early[:3]),
                verb="departs" if len(early) == 1 else "depart",
            )
        )
    return schedules


def _name(schedule: Schedule) -> str:
    return f"{schedule.route.name} {schedule.departure_at:%d %b %H:%M} UTC"
