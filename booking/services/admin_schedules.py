"""The admin back office's schedules (trips): times, bus, route, fare, status.

One transaction per call, the acting admin and ``now`` passed in, an activity_logs row per
change in the same transaction, CatalogError / NotFound / Conflict with a message for people;
a refusal changes nothing. Lists are searched, filtered, sorted and paged in SQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import and_, func, or_, select

from booking.database import unit_of_work
from booking.extensions import db
from booking.formatting import local_time
from booking.layouts import parse_layout
from booking.models import Bus, ReservationSeat, Route, Schedule, Seat
from booking.models.enums import ScheduleStatus, SeatStatus, SeatType
from booking.services import audit, inventory
from booking.services.admin_common import (
    CatalogError,
    Page,
    apply_changes,
    like,
    ordered,
    paginate,
)
from booking.services.errors import Conflict, NotFound

MESSAGES = {
    "route_not_found": "We could not find that route.",
    "bus_not_found": "We could not find that bus.",
    "schedule_not_found": "We could not find that trip.",
    "departure_past": "The departure must be in the future.",
    "arrival": "The arrival must be after the departure.",
    "price": "The base fare must be more than 0.",
    "bus_inactive": "Bus {number} is not in service; choose an active bus.",
    "route_inactive": "{route} is not active; choose an active route.",
    "overlap": "Bus {number} already runs {route} from {start} to {end}, which overlaps this trip.",
    "swap_loses": (
        "Bus {number} has no seat {seats}, which {verb} already sold or held on this trip; "
        "choose a bus whose layout has every sold seat."
    ),
    "swap_history": (
        "Seats {seats} of this trip have booking history and are missing from bus {number}."
    ),
    "status_sold": (
        "This trip has {count} seat(s) sold or held; cancel it through trip cancellation, which "
        "refunds the passengers."
    ),
    "status": "Choose a valid trip status.",
}
DAY_FORMAT = "%d %b %H:%M"


@dataclass(frozen=True)
class ScheduleData:
    """What the schedule form gives."""

    bus_id: uuid.UUID
    route_id: uuid.UUID
    departure_at: datetime
    arrival_at: datetime
    base_price: Decimal | str
    status: ScheduleStatus | str = ScheduleStatus.SCHEDULED


@dataclass(frozen=True)
class ScheduleRow:
    """A trip in the admin list with its seats sold and left (one aggregate for the page)."""

    schedule: Schedule
    sold: int
    left: int


SCHEDULE_SORTS = {
    "departure": Schedule.departure_at,
    "arrival": Schedule.arrival_at,
    "price": Schedule.base_price,
    "route": Route.origin_city,
    "bus": Bus.bus_number,
    "status": Schedule.status,
    "left": Schedule.available_seats,
}


def list_schedules(
    filters: Mapping[str, Any] | None = None,
    sort: str | None = None,
    page: int | None = 1,
    per_page: int | None = 25,
    *,
    now: datetime | None = None,
) -> Page[ScheduleRow]:
    """Trips matching ``filters`` (q: a city or bus number; route_id; bus_id; status; from/to:
    departure dates as datetimes), sorted, one page; three statements whatever the page size."""
    filters = filters or {}
    sold = (
        select(Seat.schedule_id, func.count().label("sold"))
        .where(Seat.status == SeatStatus.BOOKED)
        .group_by(Seat.schedule_id)
        .subquery()
    )
    query = (
        select(Schedule, func.coalesce(sold.c.sold, 0))
        .join(Schedule.route)
        .join(Schedule.bus)
        .outerjoin(sold, sold.c.schedule_id == Schedule.id)
    )
    if q := (filters.get("q") or "").strip():
        pattern = like(q)
        query = query.where(
            or_(
                func.lower(Route.origin_city).like(pattern, escape="\\"),
                func.lower(Route.destination_city).like(pattern, escape="\\"),
                func.lower(Bus.bus_number).like(pattern, escape="\\"),
            )
        )
    for name, column in (("route_id", Schedule.route_id), ("bus_id", Schedule.bus_id)):
        if value := filters.get(name):
            with suppress(ValueError):
                query = query.where(column == uuid.UUID(str(value)))
    if (status := filters.get("status")) in {s.value for s in ScheduleStatus}:
        query = query.where(Schedule.status == ScheduleStatus(status))
    if isinstance(start := filters.get("from"), datetime):
        query = query.where(Schedule.departure_at >= start)
    if isinstance(end := filters.get("to"), datetime):
        query = query.where(Schedule.departure_at < end)
    sorts = {**SCHEDULE_SORTS, "sold": func.coalesce(sold.c.sold, 0)}
    query = ordered(query, sort, sorts, "departure").order_by(Schedule.id)
    result = paginate(query, page, per_page, scalars=False)
    schedules = [schedule for schedule, _sold in result.items]
    left = inventory.seats_left(schedules, now) if now is not None else {}
    rows = [
        ScheduleRow(schedule, sold_count, left.get(schedule.id, schedule.available_seats))
        for schedule, sold_count in result.items
    ]
    return Page(rows, result.total, result.page, result.pages, result.per_page)


def get_schedule(schedule_id: uuid.UUID) -> Schedule:
    """One trip. :raise NotFound: when it does not exist."""
    schedule = db.session.get(Schedule, schedule_id)
    if schedule is None:
        raise NotFound(MESSAGES["schedule_not_found"])
    return schedule


def _schedule_values(data: ScheduleData) -> dict[str, Any]:
    """Checked trip values (the rules that need no database)."""
    if data.arrival_at <= data.departure_at:
        raise CatalogError(MESSAGES["arrival"], field="arrival_at")
    try:
        price = Decimal(str(data.base_price)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        price = Decimal("0")
    if price <= 0:
        raise CatalogError(MESSAGES["price"], field="base_price")
    try:
        status = ScheduleStatus(data.status)
    except ValueError:
        raise CatalogError(MESSAGES["status"], field="status") from None
    return {
        "bus_id": data.bus_id,
        "route_id": data.route_id,
        "departure_at": data.departure_at,
        "arrival_at": data.arrival_at,
        "base_price": price,
        "status": status,
    }


def _bus_and_route(values: dict[str, Any], current: Schedule | None) -> tuple[Bus, Route]:
    """The trip's bus and route; a new choice must be in service."""
    bus = db.session.get(Bus, values["bus_id"])
    if bus is None:
        raise CatalogError(MESSAGES["bus_not_found"], field="bus_id")
    route = db.session.get(Route, values["route_id"])
    if route is None:
        raise CatalogError(MESSAGES["route_not_found"], field="route_id")
    if not bus.is_active and (current is None or current.bus_id != bus.id):
        raise CatalogError(MESSAGES["bus_inactive"].format(number=bus.bus_number), field="bus_id")
    if not route.is_active and (current is None or current.route_id != route.id):
        raise CatalogError(MESSAGES["route_inactive"].format(route=route.name), field="route_id")
    return bus, route


def _require_no_overlap(bus: Bus, values: dict[str, Any], schedule_id: uuid.UUID | None) -> None:
    """Refuse a trip while the same bus runs another (not cancelled) trip in that time."""
    query = (
        select(Schedule)
        .where(
            Schedule.bus_id == bus.id,
            Schedule.status != ScheduleStatus.CANCELLED,
            and_(
                Schedule.departure_at < values["arrival_at"],
                Schedule.arrival_at > values["departure_at"],
            ),
        )
        .order_by(Schedule.departure_at)
        .limit(1)
    )
    if schedule_id is not None:
        query = query.where(Schedule.id != schedule_id)
    clash = db.session.scalar(query)
    if clash is not None:
        raise Conflict(
            MESSAGES["overlap"].format(
                number=bus.bus_number,
                route=clash.route.name,
                start=local_time(clash.departure_at, DAY_FORMAT),
                end=local_time(clash.arrival_at, DAY_FORMAT),
            ),
            field="departure_at",
        )


def create_schedule(data: ScheduleData, *, actor_id: uuid.UUID | None, now: datetime) -> Schedule:
    """Add a trip departing in the future and generate its seats from the bus layout.

    :raise CatalogError: a bad value; Conflict: the bus already runs a trip at that time.
    """
    values = _schedule_values(data)
    if values["departure_at"] <= now:
        raise CatalogError(MESSAGES["departure_past"], field="departure_at")
    values["status"] = ScheduleStatus.SCHEDULED
    with unit_of_work() as session:
        bus, _route = _bus_and_route(values, None)
        bus = session.get(Bus, bus.id, with_for_update=True)  # trips of one bus one at a time
        _require_no_overlap(bus, values, None)
        schedule = Schedule(**values, created_at=now, updated_at=now)
        session.add(schedule)
        session.flush()
        seats = inventory.add_seats(schedule, now)
        audit.record(
            "schedule",
            schedule.id,
            "schedule.created",
            actor_id=actor_id,
            at=now,
            bus=bus.bus_number,
            route_id=values["route_id"],
            departure_at=values["departure_at"],
            base_price=values["base_price"],
            seats=seats,
        )
    return schedule


def update_schedule(
    schedule_id: uuid.UUID, data: ScheduleData, *, actor_id: uuid.UUID | None, now: datetime
) -> Schedule:
    """Change a trip. A new departure must be in the future; a new bus must have every seat
    number sold or held on the trip (its seats are rebuilt from the new layout, the sold ones
    kept); a new base fare applies to seats sold from now on, never to sold fares.

    :raise CatalogError / Conflict: saying which rule refused; nothing is changed then.
    """
    values = _schedule_values(data)
    with unit_of_work() as session:
        schedule = session.get(Schedule, schedule_id, with_for_update=True)
        if schedule is None:
            raise NotFound(MESSAGES["schedule_not_found"])
        if values["departure_at"] != schedule.departure_at and values["departure_at"] <= now:
            raise CatalogError(MESSAGES["departure_past"], field="departure_at")
        bus, _route = _bus_and_route(values, schedule)
        session.get(Bus, bus.id, with_for_update=True)  # trips of one bus are checked in turn
        _require_no_overlap(bus, values, schedule.id)
        taken = session.scalars(
            select(Seat.seat_number)
            .where(Seat.schedule_id == schedule.id, Seat.status != SeatStatus.AVAILABLE)
            .order_by(Seat.seat_number)
        ).all()
        cancelling = values["status"] == ScheduleStatus.CANCELLED != schedule.status
        if cancelling and taken:
            raise Conflict(MESSAGES["status_sold"].format(count=len(taken)), field="status")
        bus_changed = bus.id != schedule.bus_id
        if bus_changed:
            _rebuild_seats(schedule, bus, taken, now)
        changes = apply_changes(schedule, values)
        schedule.updated_at = now
        audit.record(
            "schedule", schedule.id, "schedule.updated", actor_id=actor_id, at=now, **changes
        )
    return schedule


def _rebuild_seats(schedule: Schedule, bus: Bus, taken: list[str], now: datetime) -> None:
    """Move a trip's seats to another bus's layout, keeping every claimed seat row."""
    specs = {spec.number: spec for spec in parse_layout(bus.seat_layout_config, bus.total_seats)}
    lost = [number for number in taken if number not in specs]
    if lost:
        raise Conflict(
            MESSAGES["swap_loses"].format(
                number=bus.bus_number,
                seats=", ".join(lost),
                verb="is" if len(lost) == 1 else "are",
            ),
            field="bus_id",
            seats=lost,
        )
    seats = {
        seat.seat_number: seat
        for seat in db.session.scalars(select(Seat).where(Seat.schedule_id == schedule.id))
    }
    with_history = set(
        db.session.scalars(
            select(Seat.seat_number)
            .join(ReservationSeat, ReservationSeat.seat_id == Seat.id)
            .where(Seat.schedule_id == schedule.id)
        )
    )
    gone = sorted(number for number in seats if number not in specs)
    blocked = [number for number in gone if number in with_history]
    if blocked:
        raise Conflict(
            MESSAGES["swap_history"].format(seats=", ".join(blocked), number=bus.bus_number),
            field="bus_id",
        )
    for number in gone:
        db.session.delete(seats.pop(number))
    db.session.flush()
    schedule.bus_id = bus.id
    schedule.bus = bus
    for number, spec in specs.items():
        seat = seats.get(number)
        if seat is None:
            seat = Seat(
                schedule_id=schedule.id,
                seat_number=number,
                status=SeatStatus.AVAILABLE,
                created_at=now,
            )
            db.session.add(seat)
        seat.deck, seat.row_index, seat.column_index = spec.deck, spec.row, spec.column
        seat.seat_type = SeatType(spec.seat_type)
        seat.price_modifier = spec.price_modifier
        seat.ladies_only = spec.ladies_only
        seat.is_window = spec.is_window
        seat.updated_at = now
    db.session.flush()
    schedule.available_seats = db.session.scalar(
        select(func.count()).where(
            Seat.schedule_id == schedule.id, Seat.status == SeatStatus.AVAILABLE
        )
    )
    schedule.seat_version += 1
