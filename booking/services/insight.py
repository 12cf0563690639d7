"""The numbers an operator runs the business on: the admin dashboard's figures for a period,
each an aggregate query (GROUP BY in the database, never rows summed in Python), shared by the
admin pages, the reports (``services/reports.py``) and the JSON API.

Bases, said once so every page agrees: a sale counts on the day its booking was confirmed
(gross is what the booking cost, GST included); a refund counts on the day it was granted (the
cancellation); occupancy counts the seats still booked on trips departing in the period against
the seats their buses offer; a hold counts on the day it was taken.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Select, and_, case, func, or_, select

from booking.extensions import db
from booking.models import (
    Booking,
    BookingSeat,
    Bus,
    Cancellation,
    Payment,
    Reservation,
    Route,
    Schedule,
)
from booking.models.enums import (
    BookingSeatStatus,
    Channel,
    HoldStatus,
    PaymentMethod,
    PaymentPurpose,
    PaymentStatus,
    ScheduleStatus,
)
from booking.services import shifts

# Re-exported: the pages, the reports and the API ask insight for the period and filters too.
from booking.services.periods import MESSAGES as MESSAGES
from booking.services.periods import PERIODS as PERIODS
from booking.services.periods import Filters as Filters
from booking.services.periods import InsightError as InsightError
from booking.services.periods import Period as Period
from booking.services.periods import resolve_filters as resolve_filters
from booking.services.periods import resolve_period as resolve_period
from booking.services.periods import route_choices as route_choices

ZERO = Decimal("0.00")
EVERYTHING = Filters()  # no filter: every route, channel and trip
# Up to this many trips are listed by counting each trip's seats on its own.
SHORT_LIST = 50

# ---- shared query pieces ------------------------------------------------------------------------


def sold_in(query: Select, period: Period, filters: Filters) -> Select:
    """Narrow a query over bookings to those confirmed in the period, matching the filters."""
    query = query.where(Booking.confirmed_at >= period.start, Booking.confirmed_at < period.end)
    return _booking_filters(query, filters)


def _booking_filters(query: Select, filters: Filters) -> Select:
    """Apply channel, trip and route to a query over bookings (route through the trip)."""
    if filters.channel:
        query = query.where(Booking.channel == filters.channel)
    if filters.trip_id:
        query = query.where(Booking.schedule_id == filters.trip_id)
    if filters.route_id:
        query = query.where(
            Booking.schedule_id.in_(
                select(Schedule.id).where(Schedule.route_id == filters.route_id)
            )
        )
    return query


def seats_per_booking(period: Period, filters: Filters):
    """A subquery (booking_id, seats): the seats each booking sold in the period was made with."""
    query = (
        select(BookingSeat.booking_id, func.count().label("seats"))
        .join(Booking, Booking.id == BookingSeat.booking_id)
        .group_by(BookingSeat.booking_id)
    )
    return sold_in(query, period, filters).subquery()


def sold_seats_per_trip(filters: Filters, trips):
    """A subquery (schedule_id, sold): seats still booked per trip of the ``trips`` subquery."""
    query = (
        select(Booking.schedule_id, func.count().label("sold"))
        .join(BookingSeat, BookingSeat.booking_id == Booking.id)
        .where(
            BookingSeat.status == BookingSeatStatus.BOOKED,
            Booking.schedule_id.in_(select(trips.c.id)),
        )
        .group_by(Booking.schedule_id)
    )
    if filters.channel:
        query = query.where(Booking.channel == filters.channel)
    return query.subquery()


def trips_departing(start: datetime, end: datetime, filters: Filters):
    """A subquery (id, route_id, departure_at, offered) of trips leaving in [start, end) that
    run (not cancelled), with the seats their bus offers."""
    query = (
        select(
            Schedule.id,
            Schedule.route_id,
            Schedule.departure_at,
            Bus.total_seats.label("offered"),
        )
        .join(Bus, Bus.id == Schedule.bus_id)
        .where(
            Schedule.departure_at >= start,
            Schedule.departure_at < end,
            Schedule.status != ScheduleStatus.CANCELLED,
        )
    )
    if filters.route_id:
        query = query.where(Schedule.route_id == filters.route_id)
    if filters.trip_id:
        query = query.where(Schedule.id == filters.trip_id)
    return query.subquery()


def local_day(column):
    """SQL for the operator's local calendar day of a UTC timestamp column (as 'YYYY-MM-DD')."""
    zone = current_app.config["DISPLAY_TIMEZONE"]
    if db.session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone(zone, column), "YYYY-MM-DD")
    # SQLite keeps naive UTC text; the zone's offset now is right for zones without summer time.
    offset = datetime.now(ZoneInfo(zone)).utcoffset() or timedelta()
    return func.date(column, f"{int(offset.total_seconds() // 60):+d} minutes")


def ratio(part: int | Decimal, whole: int | Decimal) -> Decimal | None:
    """part / whole as a percentage with one decimal, or None when there is no whole."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"))


def _money(value) -> Decimal:
    """A summed money value (None when nothing was summed) as Decimal with two places."""
    return Decimal(value or 0).quantize(ZERO)


# ---- the figures --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelSales:
    channel: Channel
    bookings: int
    seats: int
    gross: Decimal


@dataclass(frozen=True)
class Takings:
    """Money in the period: sales (GST included), refunds granted, and what was kept."""

    gross: Decimal
    gst: Decimal
    refunds: Decimal

    @property
    def net(self) -> Decimal:
        """Gross less refunds."""
        return self.gross - self.refunds


@dataclass(frozen=True)
class SalesCell:
    """Sales of one channel on one local day: the grid the sales figures are read from."""

    channel: Channel
    day: str
    bookings: int
    gross: Decimal
    gst: Decimal


def sales_grid(period: Period, filters: Filters = EVERYTHING) -> list[SalesCell]:
    """Bookings, gross and GST per channel and local day: one pass over the period's sales
    that the channel, day and takings figures all read (at most 3 x 366 rows)."""
    day = local_day(Booking.confirmed_at).label("day")
    query = select(
        Booking.channel,
        day,
        func.count(),
        func.sum(Booking.total_amount),
        func.sum(Booking.tax_amount),
    ).group_by(Booking.channel, day)
    return [
        SalesCell(channel, one_day, count, _money(gross), _money(gst))
        for channel, one_day, count, gross, gst in db.session.execute(
            sold_in(query, period, filters)
        )
    ]


def seats_by_channel(period: Period, filters: Filters = EVERYTHING) -> dict[Channel, int]:
    """Seats the period's bookings were sold with, per channel (cancelled ones included)."""
    query = (
        select(Booking.channel, func.count())
        .select_from(BookingSeat)
        .join(Booking, Booking.id == BookingSeat.booking_id)
        .group_by(Booking.channel)
    )
    return dict(db.session.execute(sold_in(query, period, filters)).all())


def sales_by_channel(
    period: Period,
    filters: Filters = EVERYTHING,
    grid: list[SalesCell] | None = None,
    seats: dict[Channel, int] | None = None,
) -> list[ChannelSales]:
    """Bookings, seats and gross sold per channel (every channel listed, zeros included)."""
    grid = sales_grid(period, filters) if grid is None else grid
    seats = seats_by_channel(period, filters) if seats is None else seats
    return [
        ChannelSales(
            channel,
            sum(cell.bookings for cell in grid if cell.channel == channel),
            seats.get(channel, 0),
            sum((cell.gross for cell in grid if cell.channel == channel), start=ZERO),
        )
        for channel in Channel
        if filters.channel in (None, channel)
    ]


def takings(
    period: Period, filters: Filters = EVERYTHING, grid: list[SalesCell] | None = None
) -> Takings:
    """Gross and GST of the sales in the period, and the refunds granted in it."""
    grid = sales_grid(period, filters) if grid is None else grid
    refunds = db.session.scalar(
        cancelled_in(select(func.sum(Cancellation.refund_amount)), period, filters)
    )
    return Takings(
        sum((cell.gross for cell in grid), start=ZERO),
        sum((cell.gst for cell in grid), start=ZERO),
        _money(refunds),
    )


def cancelled_in(query: Select, period: Period, filters: Filters) -> Select:
    """Narrow a query over cancellations to those made in the period, matching the filters."""
    query = query.join(Booking, Booking.id == Cancellation.booking_id).where(
        Cancellation.created_at >= period.start, Cancellation.created_at < period.end
    )
    return _booking_filters(query, filters)


@dataclass(frozen=True)
class DayPoint:
    day: date
    bookings: int
    gross: Decimal


def sales_by_day(
    period: Period, filters: Filters = EVERYTHING, grid: list[SalesCell] | None = None
) -> list[DayPoint]:
    """Bookings and gross per local day of the period (days without sales as zeros)."""
    grid = sales_grid(period, filters) if grid is None else grid
    points = []
    for one in period.days:
        cells = [cell for cell in grid if cell.day == one.isoformat()]
        points.append(
            DayPoint(
                one,
                sum(cell.bookings for cell in cells),
                sum((cell.gross for cell in cells), start=ZERO),
            )
        )
    return points


@dataclass(frozen=True)
class Load:
    """Seats sold of seats offered, for a route or a trip."""

    id: uuid.UUID
    name: str
    offered: int
    sold: int
    departure_at: datetime | None = None
    trips: int = 1

    @property
    def rate(self) -> Decimal | None:
        """Percent of the seats offered that are sold."""
        return ratio(self.sold, self.offered)


def occupancy_by_route(period: Period, filters: Filters = EVERYTHING) -> list[Load]:
    """Per route with trips departing in the period: trips, seats offered and sold."""
    trips = trips_departing(period.start, period.end, filters)
    sold = sold_seats_per_trip(filters, trips)
    query = (
        select(
            Route.id,
            Route.origin_city,
            Route.destination_city,
            func.count(),
            func.sum(trips.c.offered),
            func.coalesce(func.sum(sold.c.sold), 0),
        )
        .select_from(trips)
        .join(Route, Route.id == trips.c.route_id)
        .outerjoin(sold, sold.c.schedule_id == trips.c.id)
        .group_by(Route.id, Route.origin_city, Route.destination_city)
        .order_by(Route.origin_city, Route.destination_city)
    )
    return [
        Load(rid, f"{origin} to {destination}", int(offered), int(seats), trips=count)
        for rid, origin, destination, count, offered, seats in db.session.execute(query)
    ]


def occupancy_by_trip(
    start: datetime, end: datetime, filters: Filters = EVERYTHING, limit: int = 500
) -> list[Load]:
    """Per trip departing in [start, end): seats offered and sold, by departure (the first
    ``limit``)."""
    trips = trips_departing(start, end, filters)
    if limit <= SHORT_LIST:
        # A few trips: count each one's seats by its own index lookup, whatever the period.
        sold = (
            select(func.count())
            .select_from(BookingSeat)
            .join(Booking, Booking.id == BookingSeat.booking_id)
            .where(
                Booking.schedule_id == trips.c.id,
                BookingSeat.status == BookingSeatStatus.BOOKED,
            )
        )
        if filters.channel:
            sold = sold.where(Booking.channel == filters.channel)
        seats, query = sold.scalar_subquery(), select().select_from(trips)
    else:
        # Many trips: one grouped count of the period's seats, joined.
        grouped = sold_seats_per_trip(filters, trips)
        seats = func.coalesce(grouped.c.sold, 0)
        query = select().select_from(trips).outerjoin(grouped, grouped.c.schedule_id == trips.c.id)
    query = (
        query.add_columns(
            trips.c.id,
            Route.origin_city,
            Route.destination_city,
            trips.c.departure_at,
            trips.c.offered,
            seats,
        )
        .join(Route, Route.id == trips.c.route_id)
        .order_by(trips.c.departure_at, trips.c.id)
        .limit(limit)
    )
    return [
        Load(tid, f"{origin} to {destination}", offered, int(sold_seats), departure_at=departure)
        for tid, origin, destination, departure, offered, sold_seats in db.session.execute(query)
    ]


@dataclass(frozen=True)
class HoldFunnel:
    """Holds taken in the period and how they ended (a lapsed one counts as expired even before
    the sweep marked it)."""

    created: int
    confirmed: int
    expired: int
    released: int
    dropped: int
    live: int

    @property
    def ended(self) -> int:
        """Holds that reached an end."""
        return self.confirmed + self.expired + self.released + self.dropped

    @property
    def expiry_rate(self) -> Decimal | None:
        """Percent of the ended holds that lapsed unpaid."""
        return ratio(self.expired, self.ended)

    @property
    def conversion_rate(self) -> Decimal | None:
        """Percent of the ended holds that were paid."""
        return ratio(self.confirmed, self.ended)


def hold_funnel(period: Period, now: datetime, filters: Filters = EVERYTHING) -> HoldFunnel:
    """How the holds taken in the period ended."""
    active = Reservation.status == HoldStatus.ACTIVE
    lapsed = or_(
        Reservation.status == HoldStatus.EXPIRED, and_(active, Reservation.expires_at <= now)
    )

    def count_where(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    query = select(
        func.count(),
        count_where(Reservation.status == HoldStatus.CONFIRMED),
        count_where(lapsed),
        count_where(Reservation.status == HoldStatus.RELEASED),
        count_where(Reservation.status == HoldStatus.CANCELLED),
        count_where(and_(active, Reservation.expires_at > now)),
    ).where(Reservation.reserved_at >= period.start, Reservation.reserved_at < period.end)
    if filters.channel:
        query = query.where(Reservation.channel == filters.channel)
    if filters.trip_id:
        query = query.where(Reservation.schedule_id == filters.trip_id)
    if filters.route_id:
        query = query.where(
            Reservation.schedule_id.in_(
                select(Schedule.id).where(Schedule.route_id == filters.route_id)
            )
        )
    return HoldFunnel(*(int(value) for value in db.session.execute(query).one()))


@dataclass(frozen=True)
class MethodAttempts:
    """Payment attempts for bookings by one method; pending ones are still undecided."""

    method: PaymentMethod
    attempts: int
    succeeded: int
    failed: int

    @property
    def pending(self) -> int:
        """Attempts neither succeeded nor failed yet."""
        return self.attempts - self.succeeded - self.failed

    @property
    def success_rate(self) -> Decimal | None:
        """Percent of the decided attempts that succeeded."""
        return ratio(self.succeeded, self.succeeded + self.failed)


def payment_attempts(period: Period, filters: Filters = EVERYTHING) -> list[MethodAttempts]:
    """Booking payment attempts started in the period, per method, with their outcome."""
    succeeded = Payment.status.in_((PaymentStatus.COMPLETED, PaymentStatus.REFUNDED))
    query = (
        select(
            Payment.method,
            func.count(),
            func.coalesce(func.sum(case((succeeded, 1), else_=0)), 0),
            func.coalesce(func.sum(case((Payment.status == PaymentStatus.FAILED, 1), else_=0)), 0),
        )
        .where(
            Payment.purpose == PaymentPurpose.BOOKING,
            Payment.created_at >= period.start,
            Payment.created_at < period.end,
        )
        .group_by(Payment.method)
        .order_by(Payment.method)
    )
    if filters != Filters():  # the hold says the channel and the trip
        query = query.join(Reservation, Reservation.id == Payment.reservation_id)
    if filters.channel:
        query = query.where(Reservation.channel == filters.channel)
    if filters.trip_id:
        query = query.where(Reservation.schedule_id == filters.trip_id)
    if filters.route_id:
        query = query.where(
            Reservation.schedule_id.in_(
                select(Schedule.id).where(Schedule.route_id == filters.route_id)
            )
        )
    return [
        MethodAttempts(method, count, int(ok), int(bad))
        for method, count, ok, bad in db.session.execute(query)
    ]


@dataclass(frozen=True)
class CancellationGroup:
    """Cancelling acts sharing a reason or a refund band, and what they refunded."""

    label: str
    count: int
    refunded: Decimal
    key: str | int | None = None


NO_REASON = "No reason given"


def band_label(percent: int) -> str:
    """The policy band a refund percent stands for."""
    if percent >= 100:
        return "Full refund (100%)"
    if percent <= 0:
        return "No refund (0%)"
    return f"Partial refund ({percent}%)"


def cancellations_by_reason(
    period: Period, filters: Filters = EVERYTHING
) -> list[CancellationGroup]:
    """Cancelling acts in the period per reason, most frequent first."""
    reason = func.coalesce(Cancellation.reason, "")
    query = (
        select(reason, func.count(), func.sum(Cancellation.refund_amount))
        .group_by(reason)
        .order_by(func.count().desc(), reason)
    )
    return [
        CancellationGroup(text or NO_REASON, count, _money(refunded), key=text)
        for text, count, refunded in db.session.execute(cancelled_in(query, period, filters))
    ]


def cancellations_by_band(period: Period, filters: Filters = EVERYTHING) -> list[CancellationGroup]:
    """Cancelling acts in the period per refund percent (the policy band), highest first."""
    query = (
        select(Cancellation.refund_percent, func.count(), func.sum(Cancellation.refund_amount))
        .group_by(Cancellation.refund_percent)
        .order_by(Cancellation.refund_percent.desc())
    )
    return [
        CancellationGroup(band_label(percent), count, _money(refunded), key=percent)
        for percent, count, refunded in db.session.execute(cancelled_in(query, period, filters))
    ]


def live_holds(now: datetime, filters: Filters = EVERYTHING) -> int:
    """Holds holding seats right now."""
    query = (
        select(func.count())
        .select_from(Reservation)
        .where(Reservation.status == HoldStatus.ACTIVE, Reservation.expires_at > now)
    )
    if filters.trip_id:
        query = query.where(Reservation.schedule_id == filters.trip_id)
    return db.session.scalar(query)


# ---- the dashboard ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dashboard:
    period: Period
    filters: Filters
    sales: list[ChannelSales]
    takings: Takings
    series: list[DayPoint]
    routes: list[Load]
    trips: list[Load]
    funnel: HoldFunnel
    payments: list[MethodAttempts]
    by_reason: list[CancellationGroup]
    by_band: list[CancellationGroup]
    live_holds: int
    departing: list[Load]
    departing_hours: int
    open_shifts: list = field(default_factory=list)

    @property
    def bookings(self) -> int:
        """Bookings sold in the period, every channel."""
        return sum(row.bookings for row in self.sales)

    @property
    def seats(self) -> int:
        """Seats sold in the period, every channel."""
        return sum(row.seats for row in self.sales)

    @property
    def cancellations(self) -> int:
        """Cancelling acts in the period."""
        return sum(row.count for row in self.by_band)


def dashboard(period: Period, now: datetime, filters: Filters = EVERYTHING) -> Dashboard:
    """Every figure of the admin dashboard for the period (live ones as of ``now``)."""
    hours = current_app.config["DASHBOARD_DEPARTING_HOURS"]
    grid = sales_grid(period, filters)
    return Dashboard(
        period=period,
        filters=filters,
        sales=sales_by_channel(period, filters, grid, seats_by_channel(period, filters)),
        takings=takings(period, filters, grid),
        series=sales_by_day(period, filters, grid),
        routes=occupancy_by_route(period, filters),
        trips=occupancy_by_trip(period.start, period.end, filters, limit=20),
        funnel=hold_funnel(period, now, filters),
        payments=payment_attempts(period, filters),
        by_reason=cancellations_by_reason(period, filters),
        by_band=cancellations_by_band(period, filters),
        live_holds=live_holds(now, filters),
        departing=occupancy_by_trip(now, now + timedelta(hours=hours), filters, limit=20),
        departing_hours=hours,
        open_shifts=shifts.shifts_for_admin(now, open_only=True),
    )
