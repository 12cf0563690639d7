"""Template filters: money in the operator's currency, UTC times in the operator's time zone, and
the wording the pages share with the documents (how a booking was paid, the cancellation policy)."""

from __future__ import annotations

from enum import Enum

from flask import Flask

from booking.documents.wording import FILTERS, GLOBALS
from booking.formatting import money
from booking.models import enums
from booking.models.enums import SeatType
from booking.services.pricing import Breakdown, booking_breakdown
from booking.services.tickets import ScanStatus

# Every enum of booking.models.enums by its class name, so templates compare with members
# ({% if payment.status == PaymentStatus.PENDING %}) rather than with strings.
TEMPLATE_ENUMS = {
    name: value
    for name, value in vars(enums).items()
    if isinstance(value, type) and issubclass(value, Enum) and value.__module__ == enums.__name__
}

SEAT_STATES = {
    "available": "available",
    "held": "held by another customer",
    "booked": "booked",
    "yours": "held by you",
}


def seat_label(seat) -> str:
    """A seat's accessible name: 'Seat 3B, window, ladies only, available, Rs 650.00'."""
    kind = "Berth" if seat.seat_type == SeatType.SLEEPER else "Seat"
    parts = [f"{kind} {seat.number}"]
    if seat.is_window:
        parts.append("window")
    if seat.seat_type == SeatType.PREMIUM:
        parts.append("premium")
    if seat.ladies_only:
        parts.append("ladies only")
    parts.append(SEAT_STATES.get(seat.state, seat.state))
    parts.append(money(seat.fare))
    return ", ".join(parts)


def fare_breakdown(booking) -> Breakdown:
    """A booking's price breakdown as sold, for the shared price macro."""
    return booking_breakdown(booking)


def register(app: Flask) -> None:
    """Make the filters available to templates."""
    app.jinja_env.filters.update(FILTERS, seat_label=seat_label, fare_breakdown=fare_breakdown)
    app.jinja_env.globals.update(GLOBALS)

    @app.context_processor
    def _globals():
        return {
            "operator_name": app.config["OPERATOR_NAME"],
            "installed_endpoints": app.view_functions,
            **TEMPLATE_ENUMS,
            "ScanStatus": ScanStatus,
        }
