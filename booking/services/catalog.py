"""Reading the timetable: cities and the trips that run on a day."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select

from booking.extensions import db
from booking.models import Route, Schedule
from booking.models.enums import ScheduleStatus


def cities() -> list[str]:
    """Every city some active route starts or ends in, sorted."""
    origins = select(Route.origin_city).where(Route.is_active)
    destinations = select(Route.destination_city).where(Route.is_active)
    return sorted(set(db.session.scalars(origins.union(destinations))))


def local_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC instants at which a day in the operator's time zone starts and ends."""
    zone = ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])
    start = datetime.combine(day, time.min, tzinfo=zone)
    return start, start + timedelta(days=1)


def local_today(now: datetime) -> date:
    """Today's date in the operator's time zone."""
    return now.astimezone(ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])).date()


def trips_on(
    day: date, now: datetime, origin: str | None = None, destination: str | None = None
) -> list[Schedule]:
    """Scheduled trips departing on ``day`` (operator's time), still to depart, by departure."""
    start, end = local_day_bounds(day)
    query = (
        select(Schedule)
        .join(Schedule.route)
        .where(
            Schedule.status == ScheduleStatus.SCHEDULED,
            Schedule.departure_at >= max(start, now),
            Schedule.departure_at < end,
        )
        .order_by(Schedule.departure_at)
    )
    if origin:
        query = query.where(Route.origin_city == origin)
    if destination:
        query = query.where(Route.destination_city == destination)
    return list(db.session.scalars(query))
