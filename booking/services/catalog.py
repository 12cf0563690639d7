"""Reading the timetable: cities and the trips that run on a day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
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


# ---- search -------------------------------------------------------------------------------------

SORTS = {"departure": "Departure", "price": "Price", "duration": "Duration"}
WINDOWS = {  # departure windows in the operator's time zone: label, first hour, last hour + 1
    "morning": ("Morning (5-12)", 5, 12),
    "afternoon": ("Afternoon (12-17)", 12, 17),
    "evening": ("Evening (17-21)", 17, 21),
    "night": ("Night (21-5)", 21, 29),
}


@dataclass(frozen=True)
class TripRow:
    """One search result: the trip, seats free right now and the lowest fare on it."""

    schedule: Schedule
    seats_left: int
    fare_from: Decimal

    @property
    def amenities(self) -> list[str]:
        """The bus's amenities."""
        return list(self.schedule.bus.amenities or [])


@dataclass(frozen=True)
class SearchResult:
    """Trips matching a search, and (when there are none) the next days that have some."""

    trips: list[TripRow]
    next_days: list[tuple[date, int]]


def search(
    *,
    day: date,
    now: datetime,
    origin: str | None = None,
    destination: str | None = None,
    sort: str = "departure",
    bus_types: list[str] | None = None,
    window: str | None = None,
) -> SearchResult:
    """Trips on ``day`` still on sale, filtered and sorted; suggestions when none match."""
    from booking.services.inventory import seats_left

    cutoff = timedelta(minutes=current_app.config["SALES_CUTOFF_MINUTES"])
    schedules = trips_on(day, now + cutoff, origin=origin, destination=destination)
    if bus_types:
        schedules = [s for s in schedules if s.bus.bus_type.value in bus_types]
    if window in WINDOWS:
        schedules = [s for s in schedules if _in_window(s.departure_at, window)]
    left = seats_left(schedules, now)
    rows = [TripRow(s, left[s.id], s.base_price + _cheapest_extra(s)) for s in schedules]
    key = {
        "price": lambda r: (r.fare_from, r.schedule.departure_at),
        "duration": lambda r: (r.schedule.duration_minutes, r.schedule.departure_at),
    }.get(sort, lambda r: r.schedule.departure_at)
    rows.sort(key=key)
    next_days = (
        [] if rows or not (origin and destination) else _next_days(origin, destination, day, now)
    )
    return SearchResult(rows, next_days)


def _in_window(departure: datetime, window: str) -> bool:
    """Whether a departure falls in a named window of the operator's day ('night' wraps)."""
    _label, first, last = WINDOWS[window]
    hour = departure.astimezone(ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])).hour
    if last > 24 and hour < first:
        hour += 24  # 02:00 belongs to the night that began at 21:00
    return first <= hour < last


def _cheapest_extra(schedule: Schedule) -> Decimal:
    """The smallest seat price modifier in the bus layout (no query: the layout is loaded)."""
    extras = [
        Decimal(str(cell.get("price_modifier", "0")))
        for deck in schedule.bus.seat_layout_config.get("decks", [])
        for row in deck.get("rows", [])
        for cell in row
        if isinstance(cell, dict)
    ]
    return min(extras, default=Decimal("0.00")).quantize(Decimal("0.01"))


def _next_days(origin: str, destination: str, day: date, now: datetime) -> list[tuple[date, int]]:
    """Up to three of the next 14 days that have trips on the route, with how many."""
    start, _ = local_day_bounds(day + timedelta(days=1))
    _, end = local_day_bounds(day + timedelta(days=14))
    zone = ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])
    departures = db.session.scalars(
        select(Schedule.departure_at)
        .join(Schedule.route)
        .where(
            Route.origin_city == origin,
            Route.destination_city == destination,
            Schedule.status == ScheduleStatus.SCHEDULED,
            Schedule.departure_at >= max(start, now),
            Schedule.departure_at < end,
        )
        .order_by(Schedule.departure_at)
    )
    counts: dict[date, int] = {}
    for departure in departures:
        local_day = departure.astimezone(zone).date()
        counts[local_day] = counts.get(local_day, 0) + 1
    return list(counts.items())[:3]
