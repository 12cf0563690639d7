"""What a customer (or a clerk) fills in to pay for a hold: a passenger per seat, a contact and
a promo code; and the checks every way of paying runs on them."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from booking.models import Seat
from booking.models.enums import Gender
from booking.services.errors import DomainError

MESSAGES = {
    "correct": "Please correct the details below.",
    "name": "Enter the name of the passenger in seat {seat}.",
    "age": "Enter an age from 0 to 120 for seat {seat}.",
    "gender": "Choose the gender of the passenger in {seat}.",
    "ladies_only": "Seat {seat} is for women only; choose another seat or a female passenger.",
    "extra": "Seats {seats} are not part of this hold.",
    "contact_name": "Enter a contact name.",
    "contact_phone": "Enter a contact phone number of 10 to 15 digits.",
    "contact_email": "Enter a valid email address, or leave it empty.",
    "name_control": "The name of the passenger in seat {seat} has control characters; retype it.",
    "control": "This field has control characters; retype it.",
    "no_seat": "A passenger came without a seat. Reload the page and try again.",
}

# NUL and the other C0 control characters (and DEL): never part of a name, a phone or an email;
# PostgreSQL refuses a NUL outright, so one stored in reservations.checkout breaks every reader.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

_PHONE_NOISE = re.compile(r"[\s\-()+]")


class PaymentError(DomainError):
    """A payment was refused; nothing was charged. ``details['errors']`` maps fields to messages."""


@dataclass(frozen=True)
class Passenger:
    """The traveller in one seat."""

    seat_number: str
    name: str
    age: int
    gender: str


@dataclass(frozen=True)
class CheckoutDetails:
    """Passengers, contact and promo code, kept on the hold until the booking is made."""

    passengers: tuple[Passenger, ...]
    contact_name: str
    contact_phone: str
    contact_email: str | None = None
    promo_code: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The form kept in reservations.checkout."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CheckoutDetails:
        """Read it back from reservations.checkout."""
        return cls(
            passengers=tuple(Passenger(**p) for p in data["passengers"]),
            contact_name=data["contact_name"],
            contact_phone=data["contact_phone"],
            contact_email=data.get("contact_email"),
            promo_code=data.get("promo_code"),
        )

    @property
    def clean_phone(self) -> str:
        """The contact phone as digits only."""
        return _PHONE_NOISE.sub("", self.contact_phone or "")


def check_details(seats: list[Seat], details: CheckoutDetails) -> dict[str, str]:
    """Problems with the checkout details, keyed by seat number or field (empty when fine)."""
    errors: dict[str, str] = {}
    if any(not isinstance(p.seat_number, str) or not p.seat_number for p in details.passengers):
        errors["passengers"] = MESSAGES["no_seat"]
    given = {p.seat_number: p for p in details.passengers if isinstance(p.seat_number, str)}
    given.pop("", None)
    for seat in seats:
        problem = _passenger_problem(seat, given.get(seat.seat_number))
        if problem:
            errors[seat.seat_number] = MESSAGES[problem].format(seat=seat.seat_number)
    extra = set(given) - {seat.seat_number for seat in seats}
    if extra:
        errors["passengers"] = MESSAGES["extra"].format(seats=", ".join(sorted(extra)))
    if not details.contact_name.strip():
        errors["contact_name"] = MESSAGES["contact_name"]
    for field in ("contact_name", "contact_phone", "contact_email", "promo_code"):
        if _CONTROL.search(getattr(details, field) or "") and field not in errors:
            errors[field] = MESSAGES["control"]
    if not re.fullmatch(r"\d{10,15}", details.clean_phone):
        errors["contact_phone"] = MESSAGES["contact_phone"]
    if details.contact_email and not re.fullmatch(
        r"[^@\s]+@[^@\s]+\.[^@\s]+", details.contact_email
    ):
        errors["contact_email"] = MESSAGES["contact_email"]
    return errors


def _passenger_problem(seat: Seat, passenger: Passenger | None) -> str | None:
    """The message key of what is wrong with the passenger in ``seat``, or None."""
    if passenger is None or not passenger.name.strip():
        return "name"
    if _CONTROL.search(passenger.name):
        return "name_control"
    if not 0 <= passenger.age <= 120:
        return "age"
    if passenger.gender not in {g.value for g in Gender}:
        return "gender"
    if seat.ladies_only and passenger.gender != Gender.FEMALE:
        return "ladies_only"
    return None


def require_details(seats: list[Seat], details: CheckoutDetails) -> None:
    """:raise PaymentError: listing every problem with the details."""
    errors = check_details(seats, details)
    if errors:
        raise PaymentError(MESSAGES["correct"], errors=errors)
