"""Routes in bulk: one row per route, keyed by origin and destination city.

Editable: distance, duration and ``active``. Taking a route out of service is refused while
trips on it that have sold seats are still to depart (the message gives how many).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, or_, select

from booking.extensions import db
from booking.models import Booking, Route, Schedule
from booking.models.enums import BookingStatus, ScheduleStatus
from booking.services.bulk import cells
from booking.services.bulk.engine import CREATE, UPDATE, Kind, Row, cell, diff, insert_and_update

MESSAGES = {
    "same_city": "The origin and the destination must differ.",
    "sold_trips": "This route cannot be taken out of service: {count} trip(s) on it with sold "
    "seats are still to depart.",
}


def show_number(value: float) -> str:
    """350.0 as '350', 12.5 as '12.5'."""
    return f"{Decimal(str(value)).normalize():f}"


def upcoming_sold_trips(column, ids: list[uuid.UUID], now: datetime) -> dict:
    """Per route or bus id (``column`` of Schedule): trips still to depart with a booking."""
    if not ids:
        return {}
    return dict(
        db.session.execute(
            select(column, func.count(func.distinct(Schedule.id)))
            .join(Booking, Booking.schedule_id == Schedule.id)
            .where(
                column.in_(ids),
                Schedule.status == ScheduleStatus.SCHEDULED,
                Schedule.departure_at > now,
                Booking.status == BookingStatus.CONFIRMED,
            )
            .group_by(column)
        ).all()
    )


class Routes(Kind):
    """routes"""

    name = "routes"
    label = "Routes"
    entity = "route"
    columns = ("origin", "destination", "distance_km", "duration_minutes", "active")
    required = ("origin", "destination")
    key_columns = ("origin", "destination")

    def export_rows(self, q: str | None) -> list[dict[str, str]]:
        """Every route (either city matching ``q``), by origin then destination."""
        query = select(Route).order_by(Route.origin_city, Route.destination_city)
        if q:
            like = f"%{q.strip()}%"
            query = query.where(
                or_(Route.origin_city.ilike(like), Route.destination_city.ilike(like))
            )
        return [
            {
                "origin": r.origin_city,
                "destination": r.destination_city,
                "distance_km": show_number(r.distance_km),
                "duration_minutes": str(r.estimated_duration_minutes),
                "active": cells.show_bool(r.is_active),
            }
            for r in db.session.scalars(query)
        ]

    def check(self, rows: list[Row], now: datetime, lock: bool) -> None:
        """Read every route the file names in one query, then check each row."""
        origins = {r.cells["origin"].casefold() for r in rows}
        destinations = {r.cells["destination"].casefold() for r in rows}
        query = select(Route).where(
            func.lower(Route.origin_city).in_(origins),
            func.lower(Route.destination_city).in_(destinations),
        )
        if lock:
            query = query.with_for_update()
        found = {
            (r.origin_city.casefold(), r.destination_city.casefold()): r
            for r in db.session.scalars(query)
        }
        for row in rows:
            if row.errors:
                continue
            current = found.get(self.key(row.cells))
            row.current = current
            self._read_row(row, current)
        closing = [
            r
            for r in rows
            if r.action == UPDATE and r.current.is_active and not r.values["is_active"]
        ]
        sold = upcoming_sold_trips(Schedule.route_id, [r.current.id for r in closing], now)
        for row in closing:
            if sold.get(row.current.id):
                row.error("active", MESSAGES["sold_trips"].format(count=sold[row.current.id]))

    def _read_row(self, row: Row, current: Route | None) -> None:
        origin = cell(row, "origin", cells.text, limit=80)
        destination = cell(row, "destination", cells.text, limit=80)
        row.label = f"{origin} to {destination}"
        if origin and destination and origin.casefold() == destination.casefold():
            row.error("destination", MESSAGES["same_city"])
        keep = (lambda name: (getattr(current, name),)) if current else (lambda name: ())
        distance = cell(row, "distance_km", cells.number, *keep("distance_km"))
        duration = cell(row, "duration_minutes", cells.integer, *keep("estimated_duration_minutes"))
        active = cell(row, "active", cells.boolean, current.is_active if current else True)
        if row.errors:
            return
        row.values.update(
            distance_km=distance, estimated_duration_minutes=duration, is_active=active
        )
        if current is None:
            row.values.update(id=uuid.uuid4(), origin_city=origin, destination_city=destination)
            row.action = CREATE
            return
        diff(
            row,
            {
                "distance_km": (show_number(current.distance_km), show_number(distance)),
                "duration_minutes": (str(current.estimated_duration_minutes), str(duration)),
                "active": (cells.show_bool(current.is_active), cells.show_bool(active)),
            },
        )
        if row.changes:
            row.action = UPDATE

    def write(self, rows: list[Row], now: datetime, admin_id: uuid.UUID | None) -> None:
        """Insert new routes and update changed ones, each in one statement."""
        insert_and_update(Route, rows, now)
