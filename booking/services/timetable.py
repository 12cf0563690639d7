"""The timetable in bulk: recurring trips planned and created at once, trips completed after
arrival, and base prices changed over many upcoming trips.

Audit: a recurring create writes one ``timetable.created`` row for the batch (entity
``timetable_batch``, its id, the request and the ids of every trip made) plus one
``schedule.created`` row per trip naming the batch, so each trip's history starts with it.
A price change writes one ``schedule.price_changed`` row per trip (old and new price).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import insert, select, update

from booking.database import unit_of_work
from booking.extensions import db
from booking.models import ActivityLog, Booking, Bus, Route, Schedule
from booking.models.enums import BookingStatus, ScheduleStatus
from booking.services import audit, inventory
from booking.services.errors import Conflict, DomainError, NotFound

MAX_TRIPS = 400
CENT = Decimal("0.01")

MESSAGES = {
    "route_not_found": "We could not find that route.",
    "bus_not_found": "We could not find that bus.",
    "route_inactive": "The route {route} is not active; activate it before adding trips.",
    "bus_inactive": "Bus {bus} is not active; activate it before adding trips.",
    "days_order": "The last day must be on or after the first day.",
    "no_weekdays": "Choose at least one day of the week.",
    "no_times": "Give at least one departure time.",
    "price": "The base price must be more than zero.",
    "too_many": "That makes {count} trips; at most {limit} can be planned at once. "
    "Choose fewer days or times.",
    "nothing_matches": "No day between {first} and {last} falls on the chosen weekdays.",
    "refused": "{count} of the trips cannot be created ({what}); nothing was created. "
    "Choose Skip to create the others.",
    "on_conflict": "Choose whether to skip or refuse conflicting trips.",
    "no_trips": "Choose at least one trip.",
    "unknown_trips": "{count} of the chosen trips no longer exist.",
    "not_upcoming": "Only upcoming scheduled trips can be repriced; {count} of the chosen "
    "are not ({examples}). Nothing was changed.",
    "one_change": "Give either a percentage or an amount, not both.",
    "no_change": "Give a percentage or an amount to change the price by.",
    "non_positive": "The new price of {count} trip(s) would not be above zero "
    "({examples}). Nothing was changed.",
}

# What a planned trip is: created by `create`, or why not.
NEW, EXISTS, CONFLICT, PAST, CUTOFF = "new", "exists", "conflict", "past", "cutoff"
NOTES = {
    NEW: "Will be created",
    EXISTS: "Already exists (nothing new)",
    CONFLICT: "Bus busy",
    PAST: "In the past",
    CUTOFF: "Within the sales cutoff",
}


class TimetableError(DomainError):
    """A timetable request was refused; nothing was changed."""


class TimetableConflict(Conflict):
    """The request lost to the current timetable; nothing was changed."""


# ---- recurring trips -----------------------------------------------------------------------


@dataclass(frozen=True)
class PlanRequest:
    """What the admin asked for. Times are local to DISPLAY_TIMEZONE; weekdays 0 = Monday."""

    route_id: uuid.UUID
    bus_id: uuid.UUID
    first_day: date
    last_day: date
    weekdays: tuple[int, ...]
    departure_times: tuple[time, ...]
    base_price: Decimal


@dataclass(frozen=True)
class PlannedTrip:
    """One trip the request would make, and whether it will be created."""

    departure_at: datetime
    arrival_at: datetime
    state: str
    clash_id: uuid.UUID | None = None  # the existing trip it clashes with (or is)
    clash: str = ""  # that trip, for people

    @property
    def creatable(self) -> bool:
        """Whether `create` makes this trip."""
        return self.state == NEW

    @property
    def note(self) -> str:
        """The state for people."""
        return NOTES[self.state] + (f": {self.clash}" if self.clash else "")


@dataclass(frozen=True)
class Plan:
    """The trips a request would create, in departure order."""

    request: PlanRequest
    route: Route
    bus: Bus
    trips: list[PlannedTrip]

    def count(self, state: str) -> int:
        """How many planned trips are in ``state``."""
        return sum(1 for t in self.trips if t.state == state)

    @property
    def creatable(self) -> list[PlannedTrip]:
        """The trips `create` makes."""
        return [t for t in self.trips if t.creatable]

    @property
    def refused(self) -> list[PlannedTrip]:
        """Trips that clash or are too late: skipped, or the reason a refusing create fails."""
        return [t for t in self.trips if t.state in (CONFLICT, PAST, CUTOFF)]


@dataclass(frozen=True)
class Created:
    """What a create did."""

    batch_id: uuid.UUID | None
    schedule_ids: list[uuid.UUID]
    skipped: int
    existing: int
    seats: int = 0


def plan(
    route_id: uuid.UUID,
    bus_id: uuid.UUID,
    first_day: date,
    last_day: date,
    weekdays: Iterable[int],
    departure_times: Iterable[time],
    base_price: Decimal,
    now: datetime,
) -> Plan:
    """The trips a recurring request would create, each flagged: new, already there, clashing
    with another trip of the bus, in the past, or inside the sales cutoff. Changes nothing.

    :raise NotFound: unknown route or bus; TimetableError for a request that cannot be planned.
    """
    request = PlanRequest(
        route_id=route_id,
        bus_id=bus_id,
        first_day=first_day,
        last_day=last_day,
        weekdays=tuple(sorted(set(weekdays))),
        departure_times=tuple(sorted(set(departure_times))),
        base_price=Decimal(base_price),
    )
    return _plan(db.session, request, now, lock=False)


def create(
    plan_request: PlanRequest,
    now: datetime,
    admin_id: uuid.UUID | None,
    on_conflict: str = "skip",
) -> Created:
    """Create every new trip of a request at once, seats and all, in one transaction.

    Trips that already exist (this bus, this departure, this route) are left alone, so running
    the same request again creates nothing. Clashing, past and too-late trips are skipped
    (``on_conflict="skip"``) or refuse the whole request (``"refuse"``).

    :raise TimetableError: for a bad request or, when refusing, any trip that cannot be made.
    """
    if on_conflict not in ("skip", "refuse"):
        raise TimetableError(MESSAGES["on_conflict"])
    with unit_of_work() as session:
        planned = _plan(session, plan_request, now, lock=True)
        refused = planned.refused
        if refused and on_conflict == "refuse":
            what = ", ".join(
                f"{planned.count(s)} {NOTES[s].lower()}"
                for s in (CONFLICT, PAST, CUTOFF)
                if planned.count(s)
            )
            raise TimetableConflict(
                MESSAGES["refused"].format(count=len(refused), what=what),
                refused=len(refused),
            )
        trips = planned.creatable
        if not trips:
            return Created(None, [], skipped=len(refused), existing=planned.count(EXISTS))
        bus = planned.bus
        rows = [
            {
                "id": uuid.uuid4(),
                "bus_id": bus.id,
                "route_id": planned.route.id,
                "departure_at": t.departure_at,
                "arrival_at": t.arrival_at,
                "base_price": plan_request.base_price,
                "available_seats": 0,
                "seat_version": 0,
                "status": ScheduleStatus.SCHEDULED,
                "created_at": now,
                "updated_at": now,
            }
            for t in trips
        ]
        session.execute(insert(Schedule), rows)
        ids = [row["id"] for row in rows]
        seats = inventory.add_seats_for(bus, ids, now)
        batch_id = uuid.uuid4()
        audit.record(
            "timetable_batch",
            batch_id,
            "timetable.created",
            actor_id=admin_id,
            at=now,
            route_id=planned.route.id,
            bus_id=bus.id,
            first_day=plan_request.first_day,
            last_day=plan_request.last_day,
            weekdays=list(plan_request.weekdays),
            times=[t.strftime("%H:%M") for t in plan_request.departure_times],
            base_price=plan_request.base_price,
            created=ids,
            skipped=len(refused),
            existing=planned.count(EXISTS),
        )
        _audit_each(session, ids, "schedule.created", admin_id, now, batch_id=str(batch_id))
    return Created(batch_id, ids, skipped=len(refused), existing=planned.count(EXISTS), seats=seats)


def _plan(session, request: PlanRequest, now: datetime, lock: bool) -> Plan:
    """Plan a request against the timetable as it is (the bus locked when ``lock``)."""
    route, bus = _checked(session, request, lock)
    zone = ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])
    duration = timedelta(minutes=route.estimated_duration_minutes)
    departures = _departures(request, zone, now)
    existing = list(
        session.execute(
            select(
                Schedule.id,
                Schedule.route_id,
                Schedule.departure_at,
                Schedule.arrival_at,
                Schedule.status,
            ).where(
                Schedule.bus_id == bus.id,
                Schedule.departure_at < departures[-1] + duration,
                Schedule.arrival_at > departures[0],
            )
        )
    )
    cutoff = timedelta(minutes=current_app.config["SALES_CUTOFF_MINUTES"])
    trips: list[PlannedTrip] = []
    accepted: list[tuple[datetime, datetime]] = []
    for departure in departures:
        arrival = departure + duration
        state, clash = _state(departure, arrival, route, existing, accepted, now, cutoff)
        if state == NEW:
            accepted.append((departure, arrival))
        trips.append(
            PlannedTrip(
                departure,
                arrival,
                state,
                clash_id=clash.id if clash is not None else None,
                clash=_describe(clash, zone) if clash is not None else "",
            )
        )
    return Plan(request, route, bus, trips)


def _checked(session, request: PlanRequest, lock: bool):
    """The request's route and bus (the bus locked when ``lock``), once the request is sound.

    :raise NotFound: unknown route or bus; TimetableError: anything else wrong with it.
    """
    route = session.get(Route, request.route_id)
    if route is None:
        raise NotFound(MESSAGES["route_not_found"])
    bus = session.get(Bus, request.bus_id, with_for_update=lock or None)
    if bus is None:
        raise NotFound(MESSAGES["bus_not_found"])
    if not route.is_active:
        raise TimetableError(MESSAGES["route_inactive"].format(route=route.name))
    if not bus.is_active:
        raise TimetableError(MESSAGES["bus_inactive"].format(bus=bus.bus_number))
    if request.last_day < request.first_day:
        raise TimetableError(MESSAGES["days_order"])
    if not request.weekdays:
        raise TimetableError(MESSAGES["no_weekdays"])
    if not request.departure_times:
        raise TimetableError(MESSAGES["no_times"])
    if request.base_price <= 0:
        raise TimetableError(MESSAGES["price"])
    return route, bus


def _departures(request: PlanRequest, zone: ZoneInfo, now: datetime) -> list[datetime]:
    """Every departure the request asks for, in time order.

    :raise TimetableError: for none, or more than MAX_TRIPS.
    """
    days = (request.last_day - request.first_day).days + 1
    if days > MAX_TRIPS * 7:  # no need to walk years of days to say it is too many
        raise TimetableError(MESSAGES["too_many"].format(count="over 400", limit=MAX_TRIPS))
    departures = sorted(
        datetime.combine(day, at, tzinfo=zone).astimezone(now.tzinfo)
        for day in (request.first_day + timedelta(days=n) for n in range(days))
        if day.weekday() in request.weekdays
        for at in request.departure_times
    )
    if not departures:
        raise TimetableError(
            MESSAGES["nothing_matches"].format(first=request.first_day, last=request.last_day)
        )
    if len(departures) > MAX_TRIPS:
        raise TimetableError(MESSAGES["too_many"].format(count=len(departures), limit=MAX_TRIPS))
    return departures


def _state(departure, arrival, route, existing, accepted, now, cutoff):
    """(state, the existing trip it clashes with or None) of one planned departure."""
    same = next((e for e in existing if e.departure_at == departure), None)
    clash = next(
        (
            e
            for e in existing
            if e.status != ScheduleStatus.CANCELLED
            and e.departure_at < arrival
            and e.arrival_at > departure
        ),
        None,
    )
    if same is not None and same.route_id == route.id:
        return EXISTS, None
    if same is not None or clash is not None:
        return CONFLICT, same or clash
    if departure <= now:
        return PAST, clash
    if departure - cutoff <= now:
        return CUTOFF, clash
    if any(d < arrival and a > departure for d, a in accepted):
        return CONFLICT, clash  # overlaps an earlier trip of this same request
    return NEW, clash


def _describe(row, zone: ZoneInfo) -> str:
    """An existing trip for the preview: 'trip 12 Dec 06:00-12:00 (cancelled)'."""
    start = row.departure_at.astimezone(zone)
    end = row.arrival_at.astimezone(zone)
    status = "" if row.status == ScheduleStatus.SCHEDULED else f" ({row.status.value})"
    return f"trip {start:%d %b %H:%M}-{end:%H:%M}{status}"


def _audit_each(session, schedule_ids, action: str, actor_id, now: datetime, **details) -> None:
    """One activity row per trip, in one statement."""
    if not schedule_ids:
        return
    session.execute(
        insert(ActivityLog),
        [
            {
                "id": uuid.uuid4(),
                "entity_type": "schedule",
                "entity_id": str(schedule_id),
                "user_id": actor_id,
                "action_type": action,
                "details": audit._jsonable(details),
                "ip_address": audit.client_ip.get(),
                "timestamp": now,
            }
            for schedule_id in schedule_ids
        ],
    )


# ---- completing trips ------------------------------------------------------------------------


def complete_trips(now: datetime) -> int:
    """Trips past their arrival (scheduled or departed) become completed, and their confirmed
    bookings completed, in set-based statements with one audit row per trip. Running it again
    does nothing more. Returns the trips completed.
    """
    with unit_of_work() as session:
        ids = list(
            session.scalars(
                select(Schedule.id)
                .where(
                    Schedule.status.in_([ScheduleStatus.SCHEDULED, ScheduleStatus.DEPARTED]),
                    Schedule.arrival_at <= now,
                )
                .order_by(Schedule.id)
                .with_for_update()
            )
        )
        if not ids:
            return 0
        session.execute(
            update(Schedule)
            .where(Schedule.id.in_(ids))
            .values(status=ScheduleStatus.COMPLETED, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        bookings = session.execute(
            update(Booking)
            .where(Booking.schedule_id.in_(ids), Booking.status == BookingStatus.CONFIRMED)
            .values(status=BookingStatus.COMPLETED, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        _audit_each(session, ids, "schedule.completed", None, now)
        audit.log_event("trips.completed", trips=len(ids), bookings=bookings)
    return len(ids)


# ---- base prices over many trips ---------------------------------------------------------------


@dataclass(frozen=True)
class PriceChange:
    """One trip's base price before and after the change."""

    schedule_id: uuid.UUID
    route: str
    bus: str
    departure_at: datetime
    old: Decimal
    new: Decimal


def preview_price_change(
    schedule_ids: Iterable[uuid.UUID],
    percent: Decimal | None = None,
    amount: Decimal | None = None,
    *,
    now: datetime,
) -> list[PriceChange]:
    """Each chosen trip's base price now and after adding ``percent`` % or ``amount`` rupees
    (either may be negative). Changes nothing. Fares already sold keep their snapshot.

    :raise TimetableError: unless every trip is upcoming and scheduled and every new price > 0.
    """
    return _price_changes(db.session, list(schedule_ids), percent, amount, now, lock=False)


def apply_price_change(
    schedule_ids: Iterable[uuid.UUID],
    percent: Decimal | None = None,
    amount: Decimal | None = None,
    *,
    now: datetime,
    admin_id: uuid.UUID | None,
) -> list[PriceChange]:
    """Change the base price of every chosen trip, all or nothing, with one audit row per trip.

    :raise TimetableError: as ``preview_price_change`` (nothing is changed).
    """
    ids = list(schedule_ids)
    with unit_of_work() as session:
        changes = _price_changes(session, ids, percent, amount, now, lock=True)
        for change in changes:
            session.execute(
                update(Schedule)
                .where(Schedule.id == change.schedule_id)
                .values(base_price=change.new, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            audit.record(
                "schedule",
                change.schedule_id,
                "schedule.price_changed",
                actor_id=admin_id,
                at=now,
                old=change.old,
                new=change.new,
                percent=percent,
                amount=amount,
            )
    db.session.expire_all()
    return changes


def new_price(old: Decimal, percent: Decimal | None, amount: Decimal | None) -> Decimal:
    """``old`` changed by a percentage or an amount, to the paisa (half up)."""
    if percent is not None:
        return (old * (Decimal(100) + Decimal(percent)) / Decimal(100)).quantize(
            CENT, rounding=ROUND_HALF_UP
        )
    return (old + Decimal(amount)).quantize(CENT, rounding=ROUND_HALF_UP)


def _price_changes(session, ids, percent, amount, now: datetime, lock: bool) -> list[PriceChange]:
    """The changes for these trips, refusing unless every one can change."""
    if (percent is None) == (amount is None):
        raise TimetableError(MESSAGES["one_change" if percent is not None else "no_change"])
    ids = sorted(set(ids))
    if not ids:
        raise TimetableError(MESSAGES["no_trips"])
    query = select(Schedule).where(Schedule.id.in_(ids)).order_by(Schedule.id)
    if lock:
        query = query.with_for_update(of=Schedule).execution_options(populate_existing=True)
    schedules = list(session.scalars(query).unique())
    if len(schedules) != len(ids):
        raise TimetableError(MESSAGES["unknown_trips"].format(count=len(ids) - len(schedules)))
    zone = ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])
    late = [s for s in schedules if s.status != ScheduleStatus.SCHEDULED or s.departure_at <= now]
    if late:
        raise TimetableError(
            MESSAGES["not_upcoming"].format(count=len(late), examples=_examples(late, zone))
        )
    changes = [
        PriceChange(
            s.id,
            s.route.name,
            s.bus.bus_number,
            s.departure_at,
            s.base_price,
            new_price(s.base_price, percent, amount),
        )
        for s in schedules
    ]
    bad = [c for c in changes if c.new <= 0]
    if bad:
        examples = ", ".join(
            f"{c.route} {c.departure_at.astimezone(zone):%d %b %H:%M}" for c in bad
        )
        raise TimetableError(MESSAGES["non_positive"].format(count=len(bad), examples=examples))
    return sorted(changes, key=lambda c: (c.departure_at, c.route))


def _examples(schedules: list[Schedule], zone: ZoneInfo, limit: int = 3) -> str:
    """A few trips for a message: 'Pune to Goa 12 Dec 06:00 (departed), ...'."""
    shown = [
        f"{s.route.name} {s.departure_at.astimezone(zone):%d %b %H:%M} ({s.status.value})"
        for s in schedules[:limit]
    ]
    more = len(schedules) - limit
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def upcoming(now: datetime, page: int = 1, per_page: int = 50) -> tuple[list[Schedule], int]:
    """Scheduled trips still to depart, by departure, one page at a time; and how many pages."""
    from sqlalchemy import func

    where = (Schedule.status == ScheduleStatus.SCHEDULED, Schedule.departure_at > now)
    total = db.session.scalar(select(func.count()).select_from(Schedule).where(*where)) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = db.session.scalars(
        select(Schedule)
        .where(*where)
        .order_by(Schedule.departure_at, Schedule.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return list(rows), pages


def choices() -> tuple[list[Route], list[Bus]]:
    """The active routes and buses a recurring timetable can use, by name."""
    routes = db.session.scalars(
        select(Route).where(Route.is_active).order_by(Route.origin_city, Route.destination_city)
    )
    buses = db.session.scalars(select(Bus).where(Bus.is_active).order_by(Bus.bus_number))
    return list(routes), list(buses)
