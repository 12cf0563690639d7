"""The admin reports: revenue by day, route or trip; occupancy; GST by rate; cancellations and
refunds. Each is a table (columns, rows, totals) built from the aggregate queries of
``services/insight.py`` on the same bases, so a report and the dashboard never disagree; the
page, the printable page and the CSV export all draw the same table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from booking.extensions import db
from booking.models import Booking, Bus, Cancellation, Route, Schedule
from booking.models.enums import Channel
from booking.services import insight
from booking.services.insight import ZERO, Filters, Period, ratio, sold_in

MESSAGES = {"kind": "There is no such report."}

# kind: (title, what one row is)
KINDS = {
    "revenue-day": ("Revenue by day", "a local day of sales"),
    "revenue-route": ("Revenue by route", "a route"),
    "revenue-trip": ("Revenue by trip", "a trip"),
    "occupancy": ("Occupancy by trip", "a trip departing in the period"),
    "gst": ("GST collected by rate", "a GST rate"),
    "cancellations": ("Cancellations and refunds", "a cancelling act"),
}
CANCELLATION_ROWS_MAX = 5000


@dataclass(frozen=True)
class Column:
    """A column: its key in each row, its heading, and how its values read (``text``, ``int``,
    ``money``, ``percent`` or ``time``)."""

    key: str
    label: str
    kind: str = "text"


@dataclass(frozen=True)
class Report:
    kind: str
    title: str
    period: Period
    filters: Filters
    columns: list[Column]
    rows: list[dict[str, Any]]
    totals: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    truncated: bool = False


def build(kind: str, period: Period, filters: Filters) -> Report:
    """The report of ``kind`` for the period and filters.

    :raise insight.InsightError: for an unknown kind.
    """
    builders = {
        "revenue-day": lambda: _revenue(period, filters, "day"),
        "revenue-route": lambda: _revenue(period, filters, "route"),
        "revenue-trip": lambda: _revenue(period, filters, "trip"),
        "occupancy": lambda: _occupancy(period, filters),
        "gst": lambda: _gst(period, filters),
        "cancellations": lambda: _cancellations(period, filters),
    }
    if kind not in builders:
        raise insight.InsightError(MESSAGES["kind"])
    columns, rows, totals, notes, truncated = builders[kind]()
    return Report(kind, KINDS[kind][0], period, filters, columns, rows, totals, notes, truncated)


# ---- revenue ------------------------------------------------------------------------------------

REVENUE_COLUMNS = [
    Column("bookings", "Bookings", "int"),
    Column("seats", "Seats", "int"),
    Column("gross", "Gross (GST incl.)", "money"),
    Column("gst", "GST", "money"),
    Column("refunded", "Refunded", "money"),
    Column("net", "Net", "money"),
]


def _revenue(period: Period, filters: Filters, by: str):
    """Bookings sold in the period grouped by day, route or trip; refunded is what has been
    refunded of those same bookings so far, so each row's net is what they still bring."""
    seats = insight.seats_per_booking(period, filters)
    money = [
        func.count(),
        func.coalesce(func.sum(seats.c.seats), 0),
        func.sum(Booking.total_amount),
        func.sum(Booking.tax_amount),
        func.sum(Booking.refunded_amount),
    ]
    if by == "day":
        day = insight.local_day(Booking.confirmed_at).label("day")
        keys = [day]
        heads = [Column("day", "Day")]
    elif by == "route":
        keys = [Route.origin_city, Route.destination_city]
        heads = [Column("route", "Route")]
    else:
        keys = [Schedule.id, Route.origin_city, Route.destination_city, Schedule.departure_at]
        heads = [Column("departure", "Departure", "time"), Column("route", "Route")]
    query = (
        select(*keys, *money)
        .join(seats, seats.c.booking_id == Booking.id)
        .join(Schedule, Schedule.id == Booking.schedule_id)
        .join(Route, Route.id == Schedule.route_id)
        .group_by(*keys)
        .order_by(*keys)
    )
    rows = []
    for values in db.session.execute(sold_in(query, period, filters)):
        head, (count, seat_count, gross, gst, refunded) = values[: len(keys)], values[len(keys) :]
        row: dict[str, Any] = {}
        if by == "day":
            row["day"] = head[0]
        elif by == "route":
            row["route"] = f"{head[0]} to {head[1]}"
        else:
            row.update(trip_id=head[0], route=f"{head[1]} to {head[2]}", departure=head[3])
        row.update(_revenue_figures(count, seat_count, gross, gst, refunded))
        rows.append(row)
    totals = _sum(rows, ["bookings", "seats", "gross", "gst", "refunded", "net"])
    notes = [
        "Sales count on the day the booking was confirmed; refunded is what has been given "
        "back of those bookings so far."
    ]
    return heads + REVENUE_COLUMNS, rows, totals, notes, False


def _revenue_figures(count, seat_count, gross, gst, refunded) -> dict[str, Any]:
    """One revenue row's numbers."""
    gross, gst, refunded = (Decimal(v or 0).quantize(ZERO) for v in (gross, gst, refunded))
    return {
        "bookings": count,
        "seats": int(seat_count),
        "gross": gross,
        "gst": gst,
        "refunded": refunded,
        "net": gross - refunded,
    }


def _sum(rows: list[dict[str, Any]], keys: list[str]) -> dict[str, Any]:
    """Column totals of ``keys`` over the rows."""
    return (
        {key: sum((row[key] for row in rows), start=type(rows[0][key])(0)) for key in keys}
        if rows
        else {}
    )


# ---- occupancy ----------------------------------------------------------------------------------


def _occupancy(period: Period, filters: Filters):
    """Every trip departing in the period: seats offered, sold (still booked) and the load."""
    loads = insight.occupancy_by_trip(period.start, period.end, filters, limit=5000)
    columns = [
        Column("departure", "Departure", "time"),
        Column("route", "Route"),
        Column("offered", "Seats offered", "int"),
        Column("sold", "Seats sold", "int"),
        Column("load", "Load", "percent"),
    ]
    rows = [
        {
            "trip_id": load.id,
            "departure": load.departure_at,
            "route": load.name,
            "offered": load.offered,
            "sold": load.sold,
            "load": load.rate,
        }
        for load in loads
    ]
    totals = _sum(rows, ["offered", "sold"])
    if totals:
        totals["load"] = ratio(totals["sold"], totals["offered"])
    notes = ["Seats sold are those still booked (cancelled seats are offered again)."]
    if filters.channel:
        notes.append(f"Only seats sold through the {filters.channel.value} channel count.")
    return columns, rows, totals, notes, len(rows) >= 5000


# ---- GST ----------------------------------------------------------------------------------------


def _gst(period: Period, filters: Filters):
    """GST on the sales in the period, per rate (a rate belongs to bus types, GST_RATES)."""
    query = (
        select(
            Bus.bus_type,
            func.count(),
            func.sum(Booking.base_amount - Booking.discount_amount),
            func.sum(Booking.tax_amount),
            func.sum(Booking.total_amount),
        )
        .join(Schedule, Schedule.id == Booking.schedule_id)
        .join(Bus, Bus.id == Schedule.bus_id)
        .group_by(Bus.bus_type)
    )
    rates = current_app.config["GST_RATES"]
    by_rate: dict[Decimal, dict[str, Any]] = {}
    for bus_type, count, taxable, gst, total in db.session.execute(sold_in(query, period, filters)):
        rate = Decimal(rates.get(bus_type.value, 0))
        row = by_rate.setdefault(
            rate,
            {
                "rate": rate,
                "bus_types": [],
                "bookings": 0,
                "taxable": ZERO,
                "gst": ZERO,
                "total": ZERO,
            },
        )
        row["bus_types"].append(bus_type.value.replace("_", " "))
        row["bookings"] += count
        for key, value in (("taxable", taxable), ("gst", gst), ("total", total)):
            row[key] += Decimal(value or 0).quantize(ZERO)
    rows = [
        {**row, "bus_types": ", ".join(sorted(row["bus_types"]))}
        for _, row in sorted(by_rate.items())
    ]
    columns = [
        Column("rate", "GST rate", "percent"),
        Column("bus_types", "Bus types"),
        Column("bookings", "Bookings", "int"),
        Column("taxable", "Taxable value", "money"),
        Column("gst", "GST collected", "money"),
        Column("total", "Total charged", "money"),
    ]
    totals = _sum(rows, ["bookings", "taxable", "gst", "total"])
    notes = [
        "GST as charged on the sales of the period; the rate is today's GST_RATES for the bus type."
    ]
    return columns, rows, totals, notes, False


# ---- cancellations and refunds ------------------------------------------------------------------


def _cancellations(period: Period, filters: Filters):
    """Every cancelling act in the period with its refund (newest first)."""
    from booking.models import BookingSeat

    seats = (
        select(func.count())
        .where(BookingSeat.cancellation_id == Cancellation.id)
        .correlate(Cancellation)
        .scalar_subquery()
    )
    query = (
        select(
            Cancellation.created_at,
            Booking.reference,
            Route.origin_city,
            Route.destination_city,
            Booking.channel,
            seats,
            Cancellation.reason,
            Cancellation.refund_percent,
            Cancellation.refund_amount,
            Cancellation.refund_mode,
            Cancellation.refund_status,
        )
        .select_from(Cancellation)
        .order_by(Cancellation.created_at.desc(), Cancellation.id)
        .limit(CANCELLATION_ROWS_MAX)
    )
    query = (
        insight.cancelled_in(query, period, filters)
        .join(Schedule, Schedule.id == Booking.schedule_id)
        .join(Route, Route.id == Schedule.route_id)
    )
    rows = [
        {
            "when": when,
            "reference": reference,
            "route": f"{origin} to {destination}",
            "channel": channel.value,
            "seats": seat_count,
            "reason": reason or insight.NO_REASON,
            "band": insight.band_label(percent),
            "refund": Decimal(refund).quantize(ZERO),
            "mode": "wallet" if mode.value == "wallet" else "original method",
            "status": status.value,
        }
        for (
            when,
            reference,
            origin,
            destination,
            channel,
            seat_count,
            reason,
            percent,
            refund,
            mode,
            status,
        ) in db.session.execute(query)
    ]
    columns = [
        Column("when", "When", "time"),
        Column("reference", "Booking"),
        Column("route", "Route"),
        Column("channel", "Channel"),
        Column("seats", "Seats", "int"),
        Column("reason", "Reason"),
        Column("band", "Policy band"),
        Column("refund", "Refund", "money"),
        Column("mode", "Refunded to"),
        Column("status", "Refund state"),
    ]
    totals = _sum(rows, ["seats", "refund"])
    notes = ["Refunds count on the day they were granted."]
    return columns, rows, totals, notes, len(rows) >= CANCELLATION_ROWS_MAX


def state_totals(period: Period, filters: Filters) -> list[tuple[str, int, Decimal]]:
    """Refunds granted in the period per state (pending, processed, failed): count and amount."""
    query = select(
        Cancellation.refund_status, func.count(), func.sum(Cancellation.refund_amount)
    ).group_by(Cancellation.refund_status)
    return [
        (status.value, count, Decimal(amount or 0).quantize(ZERO))
        for status, count, amount in db.session.execute(
            insight.cancelled_in(query, period, filters)
        )
    ]


# ---- the bookings behind a figure -----------------------------------------------------------


@dataclass(frozen=True)
class BookingLine:
    reference: str
    confirmed_at: datetime
    route: str
    departure_at: datetime
    channel: Channel
    seats: int
    total: Decimal
    refunded: Decimal
    status: str
    contact_name: str


@dataclass(frozen=True)
class BookingList:
    rows: list[BookingLine]
    page: int
    has_next: bool
    count: int
    gross: Decimal


def booking_list(
    period: Period,
    filters: Filters,
    *,
    refunded_only: bool = False,
    page: int = 1,
    per_page: int = 50,
) -> BookingList:
    """The bookings sold in the period matching the filters, newest first, one page of them,
    with how many there are and their gross (the dashboard's figure, to check it by)."""
    page = max(page, 1)
    seats = insight.seats_per_booking(period, filters)
    query = (
        select(
            Booking.reference,
            Booking.confirmed_at,
            Route.origin_city,
            Route.destination_city,
            Schedule.departure_at,
            Booking.channel,
            seats.c.seats,
            Booking.total_amount,
            Booking.refunded_amount,
            Booking.status,
            Booking.contact_name,
        )
        .join(seats, seats.c.booking_id == Booking.id)
        .join(Schedule, Schedule.id == Booking.schedule_id)
        .join(Route, Route.id == Schedule.route_id)
        .order_by(Booking.confirmed_at.desc(), Booking.id)
    )
    totals = select(func.count(), func.sum(Booking.total_amount))
    query, totals = sold_in(query, period, filters), sold_in(totals, period, filters)
    if refunded_only:
        query = query.where(Booking.refunded_amount > 0)
        totals = totals.where(Booking.refunded_amount > 0)
    found = db.session.execute(query.offset((page - 1) * per_page).limit(per_page + 1)).all()
    count, gross = db.session.execute(totals).one()
    rows = [
        BookingLine(
            ref,
            at,
            f"{origin} to {destination}",
            departure,
            channel,
            n,
            total,
            refunded,
            status.value,
            name,
        )
        for ref, at, origin, destination, departure, channel, n, total, refunded, status, name in (
            found[:per_page]
        )
    ]
    return BookingList(rows, page, len(found) > per_page, count, Decimal(gross or 0).quantize(ZERO))
