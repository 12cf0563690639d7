"""What an admin figure is asked for: a period of whole local days (today, the last 7 or 30
days, or custom dates) and optional filters (route, channel, trip), read from plain strings with
a message for anything that cannot be read. The dashboard, the reports and the lists share it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select

from booking.extensions import db
from booking.models import Route, Schedule
from booking.models.enums import Channel
from booking.services.catalog import local_day_bounds, local_today
from booking.services.errors import DomainError

# The longest custom period: a year and a day, so "last year" fits and a typo of 2062 does not.
MAX_PERIOD_DAYS = 366
PERIODS = {"today": "Today", "7d": "Last 7 days", "30d": "Last 30 days", "custom": "Custom"}

MESSAGES = {
    "period": "Choose a period: today, the last 7 days, the last 30 days or custom dates.",
    "date": "Give dates as YYYY-MM-DD (for example 2026-12-01).",
    "custom_needs_dates": "A custom period needs both a first and a last day.",
    "order": "The first day must not be after the last day.",
    "too_long": f"A period is at most {MAX_PERIOD_DAYS} days; choose a shorter one.",
    "channel": "Choose a channel: online, desk or API.",
    "route": "That route is not known; choose one from the list.",
    "trip": "That trip is not known.",
}


class InsightError(DomainError):
    """A period or filter that cannot be read; nothing is counted."""


@dataclass(frozen=True)
class Period:
    """Whole local days from ``first`` to ``last`` (inclusive), as UTC bounds [start, end)."""

    key: str
    first: date
    last: date
    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        """'Last 7 days (25 Nov to 01 Dec 2026)'."""
        span = (
            self.first.strftime("%d %b %Y")
            if self.first == self.last
            else f"{self.first:%d %b} to {self.last:%d %b %Y}"
        )
        return f"{PERIODS[self.key]} ({span})"

    @property
    def days(self) -> list[date]:
        """Every day of the period, in order."""
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    def args(self) -> dict[str, str]:
        """The query arguments that name this period again (for links and exports)."""
        if self.key == "custom":
            return {"period": "custom", "from": self.first.isoformat(), "to": self.last.isoformat()}
        return {"period": self.key}


def resolve_period(key: str | None, first: str | None, last: str | None, now: datetime) -> Period:
    """The period asked for: ``today``, ``7d``, ``30d`` (ending today) or ``custom`` dates.

    Given dates without a key mean custom; nothing at all means the last 7 days.

    :raise InsightError: for an unknown key, a malformed date, a reversed or too long period.
    """
    key = (key or "").strip() or ("custom" if (first or last) else "7d")
    if key not in PERIODS:
        raise InsightError(MESSAGES["period"])
    today = local_today(now)
    if key == "custom":
        if not (first and last):
            raise InsightError(MESSAGES["custom_needs_dates"])
        start_day, end_day = _parse_day(first), _parse_day(last)
    else:
        start_day, end_day = today - timedelta(days={"today": 0, "7d": 6, "30d": 29}[key]), today
    if start_day > end_day:
        raise InsightError(MESSAGES["order"])
    if (end_day - start_day).days + 1 > MAX_PERIOD_DAYS:
        raise InsightError(MESSAGES["too_long"])
    start, _ = local_day_bounds(start_day)
    _, end = local_day_bounds(end_day)
    return Period(key, start_day, end_day, start, end)


def _parse_day(raw: str) -> date:
    """A YYYY-MM-DD date.

    :raise InsightError: when it is not one.
    """
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise InsightError(MESSAGES["date"]) from None


@dataclass(frozen=True)
class Filters:
    """Optional narrowing of every figure: one route, one channel, one trip."""

    route_id: uuid.UUID | None = None
    channel: Channel | None = None
    trip_id: uuid.UUID | None = None

    def args(self) -> dict[str, str]:
        """The query arguments that name these filters again."""
        out = {}
        if self.route_id:
            out["route"] = str(self.route_id)
        if self.channel:
            out["channel"] = self.channel.value
        if self.trip_id:
            out["trip"] = str(self.trip_id)
        return out


def resolve_filters(
    route: str | None = None, channel: str | None = None, trip: str | None = None
) -> Filters:
    """Filters from plain strings (empty means all).

    :raise InsightError: for an unknown channel, route or trip.
    """
    found_channel = None
    if channel:
        try:
            found_channel = Channel(channel.strip().lower())
        except ValueError:
            raise InsightError(MESSAGES["channel"]) from None
    route_id = _known_id(route, Route, "route")
    trip_id = _known_id(trip, Schedule, "trip")
    return Filters(route_id, found_channel, trip_id)


def _known_id(raw: str | None, model, what: str) -> uuid.UUID | None:
    """The id of an existing row of ``model``, or None when none was asked for.

    :raise InsightError: when the id is malformed or names nothing.
    """
    if not raw:
        return None
    try:
        wanted = uuid.UUID(raw.strip())
    except ValueError:
        raise InsightError(MESSAGES[what]) from None
    if db.session.get(model, wanted) is None:
        raise InsightError(MESSAGES[what])
    return wanted


def route_choices() -> list[tuple[str, str]]:
    """Every route as (id, 'Origin to Destination'), for the filter lists."""
    rows = db.session.execute(
        select(Route.id, Route.origin_city, Route.destination_city).order_by(
            Route.origin_city, Route.destination_city
        )
    )
    return [(str(rid), f"{origin} to {destination}") for rid, origin, destination in rows]
