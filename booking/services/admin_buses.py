"""The admin back office's buses and their seat layouts (total_seats is always the layout's
seat count).

One transaction per call, the acting admin and ``now`` passed in, an activity_logs row per
change in the same transaction, CatalogError / NotFound / Conflict with a message for people;
a refusal changes nothing. Lists are searched, filtered, sorted and paged in SQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from booking.database import unit_of_work
from booking.extensions import db
from booking.layouts import LayoutError, parse_layout
from booking.models import Bus, Schedule
from booking.models.enums import BusType, ScheduleStatus
from booking.services import audit
from booking.services.admin_common import (
    ActiveKind,
    CatalogError,
    Page,
    apply_changes,
    flag,
    like,
    ordered,
    paginate,
)
from booking.services.errors import Conflict, NotFound

MESSAGES = {
    "bus_not_found": "We could not find that bus.",
    "bus_number": "Give the bus number (up to 20 letters, digits, spaces or dashes).",
    "bus_taken": "Bus number {number} is already in use.",
    "bus_type": "Choose a bus type.",
    "layout": "The seat layout has problems: {errors}",
    "seat_range": "A bus has between 1 and 100 seats; this layout has {count}.",
    "layout_in_use": (
        "The seat layout of {number} cannot change: it has {count} upcoming trip(s). Move them "
        "to another bus first."
    ),
    "bus_upcoming": (
        "{number} has {count} upcoming trip(s); move them to another bus before deactivating it."
    ),
}


@dataclass(frozen=True)
class BusData:
    """What the bus form gives; the layout is the parsed JSON object."""

    bus_number: str
    bus_type: BusType | str
    seat_layout_config: Any
    amenities: list[str] = field(default_factory=list)
    is_active: bool = True


class LayoutRefused(CatalogError):
    """The seat layout does not validate; ``errors`` lists every problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(MESSAGES["layout"].format(errors="; ".join(errors)), field="layout")
        self.errors = list(errors)


BUS_SORTS = {
    "number": Bus.bus_number,
    "type": Bus.bus_type,
    "seats": Bus.total_seats,
    "active": Bus.is_active,
    "created": Bus.created_at,
}


def list_buses(
    filters: Mapping[str, Any] | None = None,
    sort: str | None = None,
    page: int | None = 1,
    per_page: int | None = 25,
) -> Page[Bus]:
    """Buses matching ``filters`` (q: number; type; active: yes/no), sorted, one page."""
    filters = filters or {}
    query = select(Bus)
    if q := (filters.get("q") or "").strip():
        query = query.where(func.lower(Bus.bus_number).like(like(q), escape="\\"))
    if (kind := filters.get("type")) in {t.value for t in BusType}:
        query = query.where(Bus.bus_type == BusType(kind))
    if (active := flag(filters.get("active"))) is not None:
        query = query.where(Bus.is_active.is_(active))
    query = ordered(query, sort, BUS_SORTS, "number").order_by(Bus.id)
    return paginate(query, page, per_page)


def get_bus(bus_id: uuid.UUID) -> Bus:
    """One bus. :raise NotFound: when it does not exist."""
    bus = db.session.get(Bus, bus_id)
    if bus is None:
        raise NotFound(MESSAGES["bus_not_found"])
    return bus


def check_layout(config: Any) -> int:
    """The seat count of a layout fit for a bus. :raise LayoutRefused: with every problem."""
    try:
        count = len(parse_layout(config))
    except LayoutError as error:
        raise LayoutRefused(error.errors) from None
    if not 1 <= count <= 100:
        raise LayoutRefused([MESSAGES["seat_range"].format(count=count)])
    return count


def _bus_values(data: BusData) -> dict[str, Any]:
    """Checked bus values with total_seats taken from the layout."""
    number = " ".join((data.bus_number or "").upper().split())
    if not number or len(number) > 20 or not all(c.isalnum() or c in " -" for c in number):
        raise CatalogError(MESSAGES["bus_number"], field="bus_number")
    try:
        bus_type = BusType(data.bus_type)
    except ValueError:
        raise CatalogError(MESSAGES["bus_type"], field="bus_type") from None
    amenities = [a for a in dict.fromkeys(" ".join(str(x).split()) for x in data.amenities) if a]
    return {
        "bus_number": number,
        "bus_type": bus_type,
        "amenities": amenities,
        "seat_layout_config": data.seat_layout_config,
        "total_seats": check_layout(data.seat_layout_config),
    }


def _require_unique_bus(number: str, bus_id: uuid.UUID | None) -> None:
    """Refuse a bus number another bus has (case ignored)."""
    query = select(Bus.id).where(func.upper(Bus.bus_number) == number)
    if bus_id is not None:
        query = query.where(Bus.id != bus_id)
    if db.session.scalar(query.limit(1)) is not None:
        raise Conflict(MESSAGES["bus_taken"].format(number=number), field="bus_number")


def upcoming_trips_of_bus(bus_id: uuid.UUID, now: datetime) -> int:
    """Scheduled trips of the bus still to depart."""
    return db.session.scalar(
        select(func.count())
        .select_from(Schedule)
        .where(
            Schedule.bus_id == bus_id,
            Schedule.status == ScheduleStatus.SCHEDULED,
            Schedule.departure_at > now,
        )
    )


def create_bus(data: BusData, *, actor_id: uuid.UUID | None, now: datetime) -> Bus:
    """Add a bus; total_seats is the layout's seat count.

    :raise LayoutRefused: the layout does not validate; Conflict: the number is taken.
    """
    values = _bus_values(data)
    with unit_of_work() as session:
        _require_unique_bus(values["bus_number"], None)
        bus = Bus(**values, is_active=bool(data.is_active), created_at=now, updated_at=now)
        session.add(bus)
        session.flush()
        audit.record(
            "bus",
            bus.id,
            "bus.created",
            actor_id=actor_id,
            at=now,
            bus_number=bus.bus_number,
            bus_type=bus.bus_type,
            total_seats=bus.total_seats,
        )
    return bus


def update_bus(
    bus_id: uuid.UUID, data: BusData, *, actor_id: uuid.UUID | None, now: datetime
) -> Bus:
    """Change a bus. Its layout may change only while no upcoming trip uses it (those trips'
    seats were made from the old one)."""
    values = _bus_values(data)
    with unit_of_work() as session:
        bus = session.get(Bus, bus_id, with_for_update=True)
        if bus is None:
            raise NotFound(MESSAGES["bus_not_found"])
        _require_unique_bus(values["bus_number"], bus.id)
        if values["seat_layout_config"] != bus.seat_layout_config:
            count = upcoming_trips_of_bus(bus.id, now)
            if count:
                raise Conflict(
                    MESSAGES["layout_in_use"].format(number=bus.bus_number, count=count),
                    field="layout",
                )
        if bus.is_active and not data.is_active:
            _require_no_upcoming(bus, now)
        layout_changed = values["seat_layout_config"] != bus.seat_layout_config
        changes = apply_changes(bus, {**values, "is_active": bool(data.is_active)})
        changes.pop("seat_layout_config", None)
        bus.updated_at = now
        audit.record(
            "bus",
            bus.id,
            "bus.updated",
            actor_id=actor_id,
            at=now,
            layout_changed=layout_changed,
            **changes,
        )
    return bus


def _require_no_upcoming(bus: Bus, now: datetime) -> None:
    """Refuse to take a bus out of service while trips are scheduled on it."""
    count = upcoming_trips_of_bus(bus.id, now)
    if count:
        raise Conflict(MESSAGES["bus_upcoming"].format(number=bus.bus_number, count=count))


def _set_bus_active(
    bus_id: uuid.UUID, active: bool, *, actor_id: uuid.UUID | None, now: datetime, **details
) -> Bus:
    """set_bus_active's work inside the caller's transaction: lock, check, switch, audit."""
    bus = db.session.get(Bus, bus_id, with_for_update=True)
    if bus is None:
        raise NotFound(MESSAGES["bus_not_found"])
    _check_bus_switch(bus, active, now)
    bus.is_active = active
    bus.updated_at = now
    action = "bus.activated" if active else "bus.deactivated"
    audit.record("bus", bus.id, action, actor_id=actor_id, at=now, **details)
    return bus


def _check_bus_switch(bus: Bus, active: bool, now: datetime) -> None:
    """The rule a switch must pass: going out of service needs no trips still scheduled."""
    if not active:
        _require_no_upcoming(bus, now)


def set_bus_active(
    bus_id: uuid.UUID, active: bool, *, actor_id: uuid.UUID | None, now: datetime
) -> Bus:
    """Put a bus in or out of service. :raise Conflict: trips are still scheduled on it."""
    with unit_of_work():
        bus = _set_bus_active(bus_id, active, actor_id=actor_id, now=now)
    return bus


ACTIVE = ActiveKind(Bus, "bus", lambda b: b.bus_number, _check_bus_switch, _set_bus_active)
