"""Trips in bulk: one row per trip, keyed by bus number and local departure time.

Editable: arrival, route (origin + destination, only while nobody ever held a seat), base price
(sold seats keep the fare they were sold at: booking_seats hold a snapshot) and the bus
(``move_to_bus``: the new layout must have every seat number held or sold on the trip). ``delete``
removes a trip nobody ever held a seat on. Cancelling a trip is not a bulk edit: it refunds
people, so it stays on the trip's own page.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from types import SimpleNamespace

from sqlalchemy import (
    Boolean,
    Integer,
    Numeric,
    String,
    Uuid,
    column,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
    values,
)

from booking.extensions import db
from booking.layouts import LayoutError
from booking.models import Bus, Reservation, ReservationSeat, Route, Schedule, Seat
from booking.models.enums import ScheduleStatus, SeatStatus
from booking.services import inventory
from booking.services.bulk import cells
from booking.services.bulk.engine import CREATE, DELETE, UPDATE, Kind, Row, cell, diff

MESSAGES = {
    "unknown_bus": "There is no bus {number}.",
    "inactive_bus": "Bus {number} is not in service.",
    "unknown_route": "There is no route from {origin} to {destination}.",
    "inactive_route": "The route from {origin} to {destination} is not in service.",
    "past": "The departure must be in the future.",
    "arrival": "The arrival must be after the departure.",
    "not_scheduled": "This trip is {status}; only scheduled trips are edited here.",
    "departed": "This trip has already left; it can no longer be changed.",
    "delete_new": "There is no such trip to delete.",
    "delete_held": "This trip cannot be deleted: {count} hold(s) or booking(s) were made on it. "
    "Cancel it on the trip's page instead.",
    "route_held": "The route of this trip cannot change: seats have been held or sold on it.",
    "swap_seats": "Bus {number} has no seat(s) {seats}, which are held or sold on this trip.",
    "swap_layout": "The layout of bus {number} is not valid: {detail}",
    "overlap": "Bus {number} would run two trips at once: this one and the one departing {other}"
    "{where}.",
    "same_line": " (line {line})",
}


class Schedules(Kind):
    """schedules"""

    name = "schedules"
    label = "Schedules"
    entity = "schedule"
    columns = (
        "bus_number",
        "departure",
        "arrival",
        "origin",
        "destination",
        "base_price",
        "move_to_bus",
        "delete",
    )
    required = ("bus_number", "departure")
    key_columns = ("bus_number", "departure")

    # ---- export ---------------------------------------------------------------------------------

    def export_rows(self, q: str | None) -> list[dict[str, str]]:
        """Every scheduled trip (bus number or city matching ``q``), by departure."""
        query = (
            select(Schedule)
            .join(Schedule.bus)
            .join(Schedule.route)
            .where(Schedule.status == ScheduleStatus.SCHEDULED)
            .order_by(Schedule.departure_at, Bus.bus_number)
        )
        if q:
            like = f"%{q.strip()}%"
            query = query.where(
                or_(
                    Bus.bus_number.ilike(like),
                    Route.origin_city.ilike(like),
                    Route.destination_city.ilike(like),
                )
            )
        return [
            {
                "bus_number": s.bus.bus_number,
                "departure": cells.show_time(s.departure_at),
                "arrival": cells.show_time(s.arrival_at),
                "origin": s.route.origin_city,
                "destination": s.route.destination_city,
                "base_price": cells.show_money(s.base_price),
                "move_to_bus": "",
                "delete": "no",
            }
            for s in db.session.scalars(query)
        ]

    # ---- check ----------------------------------------------------------------------------------

    def check(self, rows: list[Row], now: datetime, lock: bool) -> None:
        """Parse every row, then read buses, routes, trips and claims for all of them at once."""
        parsed = [row for row in rows if not row.errors]
        for row in parsed:
            row.values["departure_at"] = cell(row, "departure", cells.local_time)
        numbers = {r.cells["bus_number"].casefold() for r in parsed} | {
            r.cells["move_to_bus"].casefold() for r in parsed if r.cells.get("move_to_bus")
        }
        buses = {
            bus.bus_number.casefold(): bus
            for bus in db.session.scalars(
                select(Bus).where(func.lower(Bus.bus_number).in_(numbers))
            )
        }
        pairs = {
            (r.cells.get("origin", "").casefold(), r.cells.get("destination", "").casefold())
            for r in parsed
        }
        routes = {
            (route.origin_city.casefold(), route.destination_city.casefold()): route
            for route in db.session.scalars(
                select(Route).where(
                    func.lower(Route.origin_city).in_({o for o, _ in pairs}),
                    func.lower(Route.destination_city).in_({d for _, d in pairs}),
                )
            )
        }
        departures = [r.values["departure_at"] for r in parsed if r.values["departure_at"]]
        existing: list[Schedule] = []
        if departures and buses:
            # every trip of these buses that could clash with a row: a day beyond the file
            query = select(Schedule).where(
                Schedule.bus_id.in_([b.id for b in buses.values()]),
                Schedule.departure_at < max(departures) + _SPAN,
                Schedule.arrival_at > min(departures) - _SPAN,
            )
            if lock:
                query = query.with_for_update(of=Schedule)
            existing = list(db.session.scalars(query))
        # files carry minutes: a trip stored with seconds is still found by its minute
        by_key = {(s.bus_id, _minute(s.departure_at)): s for s in existing}

        for row in parsed:
            bus = buses.get(row.cells["bus_number"].casefold())
            if bus is None:
                row.error(
                    "bus_number", MESSAGES["unknown_bus"].format(number=row.cells["bus_number"])
                )
            departure = row.values["departure_at"]
            if bus is None or departure is None:
                continue
            row.label = f"{bus.bus_number} {row.cells['departure']}"
            row.current = by_key.get((bus.id, departure))
            self._read_row(row, bus, buses, routes, now)

        claims = self._claims([r for r in parsed if r.current is not None and not r.errors])
        for row in parsed:
            if row.current is not None and not row.errors:
                self._check_claims(row, claims)
        self._check_overlaps(parsed, existing)

    def _read_row(self, row: Row, bus: Bus, buses: dict, routes: dict, now: datetime) -> None:
        """Parse and check one row against its trip (if it exists); set action and changes."""
        current: Schedule | None = row.current
        values = row.values
        deleting = cell(row, "delete", cells.boolean, False) if row.cells.get("delete") else False
        if deleting:
            if current is None:
                row.error("delete", MESSAGES["delete_new"])
            elif current.status != ScheduleStatus.SCHEDULED:
                row.error("delete", MESSAGES["not_scheduled"].format(status=current.status.value))
            row.action = DELETE if not row.errors else row.action
            return
        if current is not None:
            values["id"] = current.id
        arrival = cell(row, "arrival", cells.local_time, *_keep(current, "arrival_at"))
        price = cell(row, "base_price", cells.money, *_keep(current, "base_price"))
        route = self._route(row, routes, current)
        new_bus = bus
        if row.cells.get("move_to_bus"):
            new_bus = buses.get(row.cells["move_to_bus"].casefold())
            if new_bus is None:
                row.error(
                    "move_to_bus", MESSAGES["unknown_bus"].format(number=row.cells["move_to_bus"])
                )
                return
        if (new_bus is not bus or current is None) and not new_bus.is_active:
            column = "move_to_bus" if new_bus is not bus else "bus_number"
            row.error(column, MESSAGES["inactive_bus"].format(number=new_bus.bus_number))
        if row.errors:
            return
        departure = values["departure_at"]
        if arrival <= departure:
            row.error("arrival", MESSAGES["arrival"])
        values.update(arrival_at=arrival, base_price=price, route=route, bus=new_bus)
        if current is None:
            if departure <= now:
                row.error("departure", MESSAGES["past"])
            if not route.is_active:
                row.error(
                    "origin",
                    MESSAGES["inactive_route"].format(
                        origin=route.origin_city, destination=route.destination_city
                    ),
                )
            if not row.errors:
                row.action = CREATE
                values["id"] = uuid.uuid4()
            return
        diff(
            row,
            {
                "arrival": (cells.show_time(current.arrival_at), cells.show_time(arrival)),
                "route": (current.route.name, route.name),
                "base_price": (
                    cells.show_money(current.base_price),
                    cells.show_money(price),
                ),
                "bus": (current.bus.bus_number, new_bus.bus_number),
            },
        )
        if not row.changes:
            return
        if current.status != ScheduleStatus.SCHEDULED:
            row.error(None, MESSAGES["not_scheduled"].format(status=current.status.value))
        elif current.departure_at <= now:
            row.error(None, MESSAGES["departed"])
        if not row.errors:
            row.action = UPDATE

    def _route(self, row: Row, routes: dict, current: Schedule | None) -> Route | None:
        """The route a row names (or the trip's own when the file has no route columns)."""
        if "origin" not in row.cells and "destination" not in row.cells and current is not None:
            return current.route
        origin, destination = row.cells.get("origin", ""), row.cells.get("destination", "")
        route = routes.get((origin.casefold(), destination.casefold()))
        if route is None:
            row.error(
                "origin" if origin else "destination",
                MESSAGES["unknown_route"].format(
                    origin=origin or "?", destination=destination or "?"
                ),
            )
        return route

    def _claims(self, rows: list[Row]) -> dict:
        """Per trip: how many holds were ever made on it, and the seat numbers ever claimed."""
        ids = [row.current.id for row in rows]
        if not ids:
            return {}
        holds = dict(
            db.session.execute(
                select(Reservation.schedule_id, func.count())
                .where(Reservation.schedule_id.in_(ids))
                .group_by(Reservation.schedule_id)
            ).all()
        )
        claimed: dict = defaultdict(set)
        swapped = [
            row.current.id for row in rows if row.values.get("bus") not in (None, row.current.bus)
        ]
        if swapped:
            for schedule_id, number in db.session.execute(
                select(Seat.schedule_id, Seat.seat_number)
                .join(ReservationSeat, ReservationSeat.seat_id == Seat.id)
                .where(Seat.schedule_id.in_(swapped))
                .distinct()
            ):
                claimed[schedule_id].add(number)
        return {"holds": holds, "claimed": claimed}

    def _check_claims(self, row: Row, claims: dict) -> None:
        """Refuse what would strand a held or sold seat."""
        current: Schedule = row.current
        holds = claims["holds"].get(current.id, 0)
        if row.action == DELETE:
            if holds:
                row.error("delete", MESSAGES["delete_held"].format(count=holds))
            return
        if row.action != UPDATE:
            return
        if holds and row.values["route"].id != current.route_id:
            row.error("origin", MESSAGES["route_held"])
        bus: Bus = row.values["bus"]
        if bus.id != current.bus_id:
            try:
                specs = inventory.seat_rows(
                    SimpleNamespace(id=current.id, bus=bus), current.updated_at
                )
            except LayoutError as error:
                row.error(
                    "move_to_bus",
                    MESSAGES["swap_layout"].format(number=bus.bus_number, detail=error),
                )
                return
            missing = claims["claimed"].get(current.id, set()) - {s["seat_number"] for s in specs}
            if missing:
                row.error(
                    "move_to_bus",
                    MESSAGES["swap_seats"].format(
                        number=bus.bus_number, seats=", ".join(sorted(missing))
                    ),
                )

    def _check_overlaps(self, rows: list[Row], existing: list[Schedule]) -> None:
        """No bus may run two trips at once, counting the file's trips and the database's."""
        # interval per trip id: (bus_id, departure, arrival, row or None)
        plan: dict = {
            s.id: (s.bus_id, s.departure_at, s.arrival_at, None)
            for s in existing
            if s.status != ScheduleStatus.CANCELLED
        }
        for row in rows:
            if row.errors or row.action not in (CREATE, UPDATE, DELETE):
                continue
            if row.action == DELETE:
                plan.pop(row.current.id, None)
                continue
            plan[row.values["id"]] = (
                row.values["bus"].id,
                row.values["departure_at"],
                row.values["arrival_at"],
                row,
            )
        per_bus: dict = defaultdict(list)
        for bus_id, departure, arrival, row in plan.values():
            per_bus[bus_id].append((departure, arrival, row))
        for trips in per_bus.values():
            trips.sort(key=lambda t: t[0])
            latest = None  # the trip ending last so far
            for trip in trips:
                if latest is not None and trip[0] < latest[1]:
                    self._overlap(trip, latest)
                if latest is None or trip[1] > latest[1]:
                    latest = trip

    def _overlap(self, one, other) -> None:
        """Report an overlap on the file's row(s) involved."""
        for this, that in ((one, other), (other, one)):
            row = this[2]
            if row is None or row.errors:
                continue
            where = MESSAGES["same_line"].format(line=that[2].line) if that[2] else ""
            row.error(
                "departure",
                MESSAGES["overlap"].format(
                    number=row.values["bus"].bus_number,
                    other=cells.show_time(that[0]),
                    where=where,
                ),
            )
            return  # one message per clash is enough

    # ---- write ----------------------------------------------------------------------------------

    def write(self, rows: list[Row], now: datetime, admin_id: uuid.UUID | None) -> None:
        """Insert new trips and their seats, update changed ones, delete the deleted: set-based."""
        creates = [r for r in rows if r.action == CREATE]
        updates = [r for r in rows if r.action == UPDATE]
        deletes = [r for r in rows if r.action == DELETE]
        session = db.session
        if deletes:
            ids = [r.current.id for r in deletes]
            session.execute(delete(Seat).where(Seat.schedule_id.in_(ids)))
            session.execute(delete(Schedule).where(Schedule.id.in_(ids)))
        if creates:
            seat_rows, schedule_rows, layouts = [], [], {}
            for row in creates:
                v = row.values
                bus = v["bus"]
                if bus.id not in layouts:
                    layouts[bus.id] = inventory.seat_rows(SimpleNamespace(id=None, bus=bus), now)
                seats = layouts[bus.id]
                schedule_rows.append(
                    {
                        "id": v["id"],
                        "bus_id": bus.id,
                        "route_id": v["route"].id,
                        "departure_at": v["departure_at"],
                        "arrival_at": v["arrival_at"],
                        "base_price": v["base_price"],
                        "available_seats": len(seats),
                        "seat_version": 1,
                        "status": ScheduleStatus.SCHEDULED,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                if session.get_bind().dialect.name != "postgresql":
                    seat_rows.extend(
                        {**s, "id": uuid.uuid4(), "schedule_id": v["id"]} for s in seats
                    )
            session.execute(insert(Schedule), schedule_rows)
            if session.get_bind().dialect.name == "postgresql":
                _insert_seats_from_layouts([r.values["id"] for r in creates], layouts, now)
            else:
                session.execute(insert(Seat), seat_rows)
        plain = [r for r in updates if r.values["bus"].id == r.current.bus_id]
        if plain:
            session.execute(
                update(Schedule),
                [
                    {
                        "id": r.current.id,
                        "arrival_at": r.values["arrival_at"],
                        "base_price": r.values["base_price"],
                        "route_id": r.values["route"].id,
                        "updated_at": now,
                    }
                    for r in plain
                ],
            )
        for row in updates:
            if row.values["bus"].id != row.current.bus_id:
                self._swap_bus(row, now)

    def _swap_bus(self, row: Row, now: datetime) -> None:
        """Move a trip to another bus: seats re-laid from its layout, claimed seats kept."""
        session = db.session
        trip: Schedule = row.current
        bus: Bus = row.values["bus"]
        wanted = {
            s["seat_number"]: s
            for s in inventory.seat_rows(SimpleNamespace(id=trip.id, bus=bus), now)
        }
        seats = list(session.scalars(select(Seat).where(Seat.schedule_id == trip.id)))
        have = {seat.seat_number: seat for seat in seats}
        gone = [seat.id for number, seat in have.items() if number not in wanted]
        if gone:
            session.execute(delete(Seat).where(Seat.id.in_(gone)))
        kept = [
            {
                "id": have[number].id,
                **{k: spec[k] for k in _LAYOUT_FIELDS},
                "updated_at": now,
            }
            for number, spec in wanted.items()
            if number in have
        ]
        if kept:
            session.execute(update(Seat), kept)
        new = [spec for number, spec in wanted.items() if number not in have]
        if new:
            session.execute(insert(Seat), new)
        session.execute(
            update(Schedule)
            .where(Schedule.id == trip.id)
            .values(
                bus_id=bus.id,
                arrival_at=row.values["arrival_at"],
                base_price=row.values["base_price"],
                route_id=row.values["route"].id,
                available_seats=Schedule.available_seats + len(new) - len(gone),
                seat_version=Schedule.seat_version + 1,
                updated_at=now,
            )
        )


_LAYOUT_FIELDS = (
    "deck",
    "row_index",
    "column_index",
    "seat_type",
    "price_modifier",
    "ladies_only",
    "is_window",
)


def _insert_seats_from_layouts(
    schedule_ids: list[uuid.UUID], layouts: dict[uuid.UUID, list[dict]], now: datetime
) -> None:
    """Every new trip's seats in one INSERT ... SELECT on PostgreSQL: the trips joined to their
    bus's seat rows (``inventory.seat_rows`` of each bus, sent once as a VALUES list)."""
    names = ("seat_number", "deck", "row_index", "column_index", "seat_type")
    template = values(
        column("bus_id", Uuid()),
        *(column(n, String() if n in ("seat_number", "seat_type") else Integer()) for n in names),
        column("price_modifier", Numeric(12, 2)),
        column("ladies_only", Boolean()),
        column("is_window", Boolean()),
        name="layout",
    ).data(
        [
            (
                bus_id,
                *(str(s[n]) if n == "seat_type" else s[n] for n in names),
                s["price_modifier"],
                s["ladies_only"],
                s["is_window"],
            )
            for bus_id, seats in layouts.items()
            for s in seats
        ]
    )
    stamp = literal(now, Seat.created_at.type)
    rows = (
        select(
            func.gen_random_uuid(),
            Schedule.id,
            *(template.c[n] for n in names),
            template.c.price_modifier,
            template.c.ladies_only,
            template.c.is_window,
            literal(SeatStatus.AVAILABLE.value),
            stamp,
            stamp,
        )
        .join_from(Schedule, template, template.c.bus_id == Schedule.bus_id)
        .where(Schedule.id.in_(schedule_ids))
    )
    target = (
        "id",
        "schedule_id",
        *names,
        "price_modifier",
        "ladies_only",
        "is_window",
        "status",
        "created_at",
        "updated_at",
    )
    db.session.execute(insert(Seat.__table__).from_select(target, rows))


def _minute(moment: datetime) -> datetime:
    """The instant without seconds."""
    return moment.replace(second=0, microsecond=0)


def _keep(current, attribute: str) -> tuple:
    """The ``current`` argument of ``cell``: the trip's value for an update, none for a create."""
    return (getattr(current, attribute),) if current is not None else ()


from datetime import timedelta  # noqa: E402

_SPAN = timedelta(days=3)
