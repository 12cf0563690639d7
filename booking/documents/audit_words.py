"""The audit log in words: an activity row's details as a person reads them ("Seats L3, L4",
"Refund Rs 930.00", "Late no", "Role from customer to staff"), for the log page and its CSV."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from booking.formatting import local_time, method_label, money

MONEY_KEYS = {
    "amount",
    "total",
    "refund",
    "fare",
    "tax",
    "discount",
    "subtotal",
    "variance",
    "wallet_part",
    "wallet_applied",
    "tendered",
    "change",
    "max_discount",
    "amount_off",
    "min_amount",
}
MONEY_SUFFIXES = ("_amount", "_price", "_cash", "_float", "_total", "_fare", "_modifier")
PERCENT_KEYS = {"percent", "refund_percent", "percent_off", "tax_rate"}
METHOD_KEYS = {"method", "methods"}
# Labels that say more than the key spelled out.
LABELS = {
    "hold_id": "Hold",
    "payment_id": "Payment",
    "booking_id": "Booking",
    "schedule_id": "Trip",
    "route_id": "Route",
    "bus_id": "Bus",
    "batch": "Batch",
    "reference": "Booking",
    "booking": "Booking",
    "booking_reference": "Booking",
    "percent": "Refund",
    "expires_at": "Expiry",
    "to": "Sent to",
}
# A detail left out when another says the same for people (seat ids beside the seat numbers).
SAID_BY = {"seat_ids": "seats"}
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
ISO_TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d")


def short_id(value: str) -> str:
    """The first block of a UUID ('3f2a9c1e'), enough to tell rows apart on a page."""
    return value[:8]


def label(key: str) -> str:
    """'previous_expires_at' -> 'Previous expires at'; some keys have a better name."""
    if key in LABELS:
        return LABELS[key]
    words = key.removesuffix("_id").replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def value_text(key: str, value: Any) -> str:
    """One detail's value in words."""
    if value is None or value == "":
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return "; ".join(f"{label(k)} {value_text(k, v)}" for k, v in value.items()) or "none"
    if isinstance(value, list | tuple):
        if not value:
            return "none"
        return ", ".join(value_text(key, item) for item in value)
    if key in METHOD_KEYS:
        return method_label(value)
    if _is_money(key) and (number := _number(value)) is not None:
        return money(number)
    if key in PERCENT_KEYS and (number := _number(value)) is not None:
        return f"{number.normalize():f}%"
    if key == "minutes" and isinstance(value, int):
        return f"{value} minute{'s' if value != 1 else ''}"
    text = str(value)
    if UUID_RE.match(text):
        return short_id(text)
    if ISO_TIME_RE.match(text):
        try:
            return local_time(datetime.fromisoformat(text), "%d %b %Y %H:%M:%S")
        except ValueError:
            return text
    return text.replace("_", " ") if re.fullmatch(r"[a-z]+(_[a-z]+)+", text) else text


def describe(action_type: str, details: dict[str, Any] | None) -> list[tuple[str, str]]:
    """Every detail as (label, words). A change (an ``*.updated`` row's [old, new] pairs, or a
    ``previous_x`` beside its ``x``) reads "from old to new"."""
    details = dict(details or {})
    for hidden, shown in SAID_BY.items():
        if shown in details:
            details.pop(hidden, None)
    out: list[tuple[str, str]] = []
    for key in list(details):
        if key.startswith("previous_") and key.removeprefix("previous_") in details:
            new_key = key.removeprefix("previous_")
            old, new = details.pop(key), details.pop(new_key)
            out.append((label(new_key), _change(new_key, old, new)))
    changing = action_type.endswith((".updated", "_changed", ".bus_swapped"))
    for key, value in details.items():
        if changing and isinstance(value, list) and len(value) == 2 and not _is_seats(key):
            out.append((label(key), _change(key, value[0], value[1])))
        else:
            out.append((label(key), value_text(key, value)))
    return out


def sentence(action_type: str, details: dict[str, Any] | None) -> str:
    """The details on one line (the CSV's details cell): 'Seats L3, L4; Total Rs 930.00'."""
    return "; ".join(f"{name} {words}" for name, words in describe(action_type, details))


def _change(key: str, old: Any, new: Any) -> str:
    """'from X to Y'."""
    return f"from {value_text(key, old)} to {value_text(key, new)}"


def _is_money(key: str) -> bool:
    """Whether a key names an amount of money."""
    return key in MONEY_KEYS or key.endswith(MONEY_SUFFIXES)


def _is_seats(key: str) -> bool:
    """Whether a key names a list of seats (never read as a from/to pair)."""
    return "seat" in key


def _number(value: Any) -> Decimal | None:
    """A number given as a number or a numeric string, else None."""
    if isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def is_uuid(value: str) -> bool:
    """Whether the text is a UUID."""
    try:
        uuid.UUID(value)
    except (ValueError, TypeError):
        return False
    return True
