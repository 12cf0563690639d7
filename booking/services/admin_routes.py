"""The admin back office's routes.

One transaction per call, the acting admin and ``now`` passed in, an activity_logs row per
change in the same transaction, CatalogError / NotFound / Conflict with a message for people;
a refusal changes nothing. Lists are searched, filtered, sorted and paged in SQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select

from booking.database import unit_of_work
from booking.extensions import db
from booking.models import Route, RouteStop, Schedule, Seat
from booking.models.enums import ScheduleStatus, SeatStatus, StopKind
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
    "route_not_found": "We could not find that route.",
    "stop_name": "Give each stop a name of up to 80 characters.",
    "stop_kind": "A stop is a boarding or a dropping point.",
    "stop_minutes": (
        "{name}: the time from departure is a whole number of minutes from 0 to the journey "
        "time ({duration})."
    ),
    "stop_twice": "{name} is listed twice as a {kind} point.",
    "city": "Give both the origin and the destination city.",
    "same_city": "The origin and the destination must be different cities.",
    "distance": "The distance must be more than 0 km.",
    "duration": "The journey time must be more than 0 minutes.",
    "route_taken": "A route from {origin} to {destination} already exists.",
    "route_sold": (
        "{route} has {count} upcoming trip(s) with seats sold; cancel or move them before "
        "deactivating the route."
    ),
}


@dataclass(frozen=True)
class StopData:
    """A boarding or dropping point as typed: its name and minutes after departure."""

    kind: StopKind | str
    name: str
    minutes_from_departure: int | str


@dataclass(frozen=True)
class RouteData:
    """What the route form gives. ``stops`` None leaves a route's stops as they are."""

    origin_city: str
    destination_city: str
    distance_km: float | Decimal | str
    estimated_duration_minutes: int | str
    is_active: bool = True
    stops: list[StopData] | None = None


ROUTE_SORTS = {
    "origin": Route.origin_city,
    "destination": Route.destination_city,
    "distance": Route.distance_km,
    "duration": Route.estimated_duration_minutes,
    "active": Route.is_active,
    "created": Route.created_at,
}


def list_routes(
    filters: Mapping[str, Any] | None = None,
    sort: str | None = None,
    page: int | None = 1,
    per_page: int | None = 25,
) -> Page[Route]:
    """Routes matching ``filters`` (q: a city; active: yes/no), sorted, one page."""
    filters = filters or {}
    query = select(Route)
    if q := (filters.get("q") or "").strip():
        pattern = like(q)
        query = query.where(
            or_(
                func.lower(Route.origin_city).like(pattern, escape="\\"),
                func.lower(Route.destination_city).like(pattern, escape="\\"),
            )
        )
    if (active := flag(filters.get("active"))) is not None:
        query = query.where(Route.is_active.is_(active))
    query = ordered(query, sort, ROUTE_SORTS, "origin").order_by(Route.destination_city, Route.id)
    return paginate(query, page, per_page)


def get_route(route_id: uuid.UUID) -> Route:
    """One route. :raise NotFound: when it does not exist."""
    route = db.session.get(Route, route_id)
    if route is None:
        raise NotFound(MESSAGES["route_not_found"])
    return route


def _route_values(data: RouteData) -> dict[str, Any]:
    """Checked route values. :raise CatalogError: naming the field."""
    origin = " ".join((data.origin_city or "").split())
    destination = " ".join((data.destination_city or "").split())
    if not origin or not destination:
        raise CatalogError(MESSAGES["city"], field="origin_city" if not origin else "destination")
    if origin.lower() == destination.lower():
        raise CatalogError(MESSAGES["same_city"], field="destination_city")
    try:
        distance = float(data.distance_km)
    except (TypeError, ValueError):
        distance = 0
    if not distance > 0:
        raise CatalogError(MESSAGES["distance"], field="distance_km")
    try:
        duration = int(data.estimated_duration_minutes)
    except (TypeError, ValueError):
        duration = 0
    if duration <= 0:
        raise CatalogError(MESSAGES["duration"], field="estimated_duration_minutes")
    return {
        "origin_city": origin,
        "destination_city": destination,
        "distance_km": distance,
        "estimated_duration_minutes": duration,
    }


def _stop_values(stops: list[StopData], duration: int) -> list[dict[str, Any]]:
    """Checked stops, each kind in time order and numbered from 0."""
    rows: list[dict[str, Any]] = []
    seen: set[tuple[StopKind, str]] = set()
    for stop in stops:
        name = " ".join((stop.name or "").split())
        if not name or len(name) > 80:
            raise CatalogError(MESSAGES["stop_name"], field="stops")
        try:
            kind = StopKind(stop.kind)
        except ValueError:
            raise CatalogError(MESSAGES["stop_kind"], field="stops") from None
        try:
            minutes = int(stop.minutes_from_departure)
        except (TypeError, ValueError):
            minutes = -1
        if not 0 <= minutes <= duration:
            raise CatalogError(
                MESSAGES["stop_minutes"].format(name=name, duration=duration), field="stops"
            )
        if (kind, name.lower()) in seen:
            raise CatalogError(
                MESSAGES["stop_twice"].format(name=name, kind=kind.value), field="stops"
            )
        seen.add((kind, name.lower()))
        rows.append({"kind": kind, "name": name, "minutes_from_departure": minutes})
    ordered_rows = sorted(rows, key=lambda r: (r["kind"].value, r["minutes_from_departure"]))
    for kind in StopKind:
        for position, row in enumerate(r for r in ordered_rows if r["kind"] == kind):
            row["position"] = position
    return ordered_rows


def _replace_stops(route: Route, stops: list[dict[str, Any]], now: datetime) -> None:
    """Put ``stops`` in place of the route's stops."""
    route.stops.clear()
    db.session.flush()  # the old rows go before new ones take their positions
    for values in stops:
        route.stops.append(RouteStop(**values, created_at=now, updated_at=now))


def _require_unique_route(values: dict[str, Any], route_id: uuid.UUID | None) -> None:
    """Refuse a second route between the same two cities (case ignored)."""
    query = select(Route.id).where(
        func.lower(Route.origin_city) == values["origin_city"].lower(),
        func.lower(Route.destination_city) == values["destination_city"].lower(),
    )
    if route_id is not None:
        query = query.where(Route.id != route_id)
    if db.session.scalar(query.limit(1)) is not None:
        raise Conflict(
            MESSAGES["route_taken"].format(
                origin=values["origin_city"], destination=values["destination_city"]
            ),
            field="destination_city",
        )


def upcoming_sold_trips(route_id: uuid.UUID, now: datetime) -> int:
    """How many scheduled trips on the route are still to depart with a seat sold."""
    sold = (
        select(Seat.id)
        .where(Seat.schedule_id == Schedule.id, Seat.status == SeatStatus.BOOKED)
        .exists()
    )
    return db.session.scalar(
        select(func.count())
        .select_from(Schedule)
        .where(
            Schedule.route_id == route_id,
            Schedule.status == ScheduleStatus.SCHEDULED,
            Schedule.departure_at > now,
            sold,
        )
    )


def create_route(data: RouteData, *, actor_id: uuid.UUID | None, now: datetime) -> Route:
    """Add a route and its stops.

    :raise CatalogError: a bad value; Conflict: the two cities already have one.
    """
    values = _route_values(data)
    stops = _stop_values(data.stops or [], values["estimated_duration_minutes"])
    with unit_of_work() as session:
        _require_unique_route(values, None)
        route = Route(**values, is_active=bool(data.is_active), created_at=now, updated_at=now)
        session.add(route)
        session.flush()
        _replace_stops(route, stops, now)
        audit.record(
            "route",
            route.id,
            "route.created",
            actor_id=actor_id,
            at=now,
            stops=[f"{s['kind'].value} {s['name']} +{s['minutes_from_departure']}" for s in stops],
            **values,
        )
    return route


def update_route(
    route_id: uuid.UUID, data: RouteData, *, actor_id: uuid.UUID | None, now: datetime
) -> Route:
    """Change a route's cities, distance, time, stops (unless ``data.stops`` is None) and active
    flag (with set_route_active's rule)."""
    values = _route_values(data)
    stops = None
    if data.stops is not None:
        stops = _stop_values(data.stops, values["estimated_duration_minutes"])
    with unit_of_work() as session:
        route = session.get(Route, route_id, with_for_update=True)
        if route is None:
            raise NotFound(MESSAGES["route_not_found"])
        _require_unique_route(values, route.id)
        if route.is_active and not data.is_active:
            _require_no_sold_trips(route, now)
        changes = apply_changes(route, {**values, "is_active": bool(data.is_active)})
        if stops is not None:
            old = [(s.kind, s.name, s.minutes_from_departure) for s in route.stops]
            new = [(s["kind"], s["name"], s["minutes_from_departure"]) for s in stops]
            if sorted(old) != sorted(new):
                _replace_stops(route, stops, now)
                changes["stops"] = [len(old), len(new)]
        route.updated_at = now
        audit.record("route", route.id, "route.updated", actor_id=actor_id, at=now, **changes)
    return route


def _require_no_sold_trips(route: Route, now: datetime) -> None:
    """Refuse to take a route out of service while sold trips on it are still to run."""
    count = upcoming_sold_trips(route.id, now)
    if count:
        raise Conflict(MESSAGES["route_sold"].format(route=route.name, count=count))


def _set_route_active(
    route_id: uuid.UUID, active: bool, *, actor_id: uuid.UUID | None, now: datetime, **details
) -> Route:
    """set_route_active's work inside the caller's transaction: lock, check, switch, audit."""
    route = db.session.get(Route, route_id, with_for_update=True)
    if route is None:
        raise NotFound(MESSAGES["route_not_found"])
    _check_route_switch(route, active, now)
    route.is_active = active
    route.updated_at = now
    action = "route.activated" if active else "route.deactivated"
    audit.record("route", route.id, action, actor_id=actor_id, at=now, **details)
    return route


def _check_route_switch(route: Route, active: bool, now: datetime) -> None:
    """The rule a switch must pass: going out of service needs no sold trips still to run."""
    if not active:
        _require_no_sold_trips(route, now)


def set_route_active(
    route_id: uuid.UUID, active: bool, *, actor_id: uuid.UUID | None, now: datetime
) -> Route:
    """Put a route in or out of service. :raise Conflict: sold trips on it are still to run."""
    with unit_of_work():
        route = _set_route_active(route_id, active, actor_id=actor_id, now=now)
    return route


ACTIVE = ActiveKind(Route, "route", lambda r: r.name, _check_route_switch, _set_route_active)
