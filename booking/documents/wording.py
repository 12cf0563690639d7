"""Sentences for the customer that the pages (as Jinja filters), the PDF and emails all say."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import current_app

from booking.formatting import amount, duration, local_time, method_label, money, percent
from booking.models import Payment


def cancellation_policy() -> str:
    """The cancellation rules from the settings, in words for the customer."""
    config = current_app.config
    full = config["CANCEL_FULL_REFUND_HOURS"]
    cutoff = config["CANCEL_CUSTOMER_CUTOFF_HOURS"]
    partial = config["CANCEL_PARTIAL_REFUND_PERCENT"]
    return (
        f"Cancel more than {full} hours before departure: 100% refund. "
        f"Between {cutoff} and {full} hours: {partial}%. "
        f"Within {cutoff} hours: no cancellation online. "
        "If the operator cancels the trip, every passenger is refunded in full."
    )


def paid_by_text(payments: Iterable[Payment]) -> str:
    """How a booking was paid: 'Wallet Rs 500.00 and UPI Rs 444.99' ('' when nothing was)."""
    return " and ".join(f"{method_label(p.method)} {money(p.amount)}" for p in payments)


def seat_count(count: int) -> str:
    """'1 seat' or '3 seats'."""
    return f"{count} seat" if count == 1 else f"{count} seats"


# What every template (pages, emails, documents) may use, registered once per environment.
def checkin_state(row: Any, departed: bool) -> str:
    """A manifest row's check-in state: 'checked in at 10:42', 'not yet', or 'no-show' once the
    bus has left without the passenger being scanned."""
    if row.checked_in_at is not None:
        return f"checked in at {local_time(row.checked_in_at, '%H:%M')}"
    return "no-show" if departed else "not yet"


def no_shows_text(totals: Any) -> str:
    """The no-show total: a number after departure; before it, nobody is a no-show yet."""
    if totals.no_shows is None:
        return f"not yet boarded ({totals.not_checked_in} to come)"
    return str(totals.no_shows)


SEAT_KINDS = {
    "seat": "seat",
    "premium": "premium seat",
    "berth": "berth",
    "lower_berth": "lower berth",
    "upper_berth": "upper berth",
}


def seat_kind_text(kind: str) -> str:
    """What a seat's extra is for, in words: 'lower berth', 'premium seat'."""
    return SEAT_KINDS.get(kind, kind)


FILTERS = {
    "money": money,
    "amount": amount,
    "percent": percent,
    "method_label": method_label,
    "local_time": local_time,
    "duration": duration,
    "paid_by": paid_by_text,
    "seat_count": seat_count,
    "checkin_state": checkin_state,
    "no_shows": no_shows_text,
    "seat_kind": seat_kind_text,
}
GLOBALS = {"cancellation_policy": cancellation_policy}
