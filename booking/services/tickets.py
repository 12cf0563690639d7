"""Tickets: issuing and reissuing them with a signed QR token, and verifying and checking in a
scanned code. The printable PDF is drawn in booking.documents.ticket_pdf."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from flask import current_app
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import inspect, select, update

from booking.database import unit_of_work
from booking.extensions import db
from booking.formatting import local_time
from booking.models import Booking, BookingSeat, Ticket
from booking.models.booking import REFERENCE_ALPHABET
from booking.models.enums import BookingSeatStatus, BookingStatus, TicketValidity
from booking.services import audit
from booking.services.errors import DomainError

QR_SALT = "ticket-qr"
# A genuine token is about 100 characters; anything far longer is not worth decoding.
MAX_TOKEN_LENGTH = 512


class TicketError(DomainError):
    """A ticket cannot be issued or printed."""


class ScanStatus(StrEnum):
    """What a scanned QR code turned out to be."""

    VALID = "valid"
    USED = "used"
    CANCELLED = "cancelled"
    FORGED = "forged"


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of checking a QR code, with a message for the person at the bus door."""

    status: ScanStatus
    ticket: Ticket | None
    message: str


def _serializer() -> URLSafeSerializer:
    """The signer of QR tokens, keyed by SECRET_KEY."""
    return URLSafeSerializer(
        current_app.config["SECRET_KEY"],
        salt=QR_SALT,
        signer_kwargs={"digest_method": hashlib.sha256},
    )


def _sign(ticket: Ticket, reference: str) -> str:
    """The QR token of the ticket's current version."""
    return _serializer().dumps({"t": ticket.id.hex, "v": ticket.version, "r": reference})


def _ticket_number(reference: str) -> str:
    """'TK-<booking reference>-<4 random characters>'; unique because the reference is."""
    suffix = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(4))
    return f"TK-{reference}-{suffix}"


def issue_ticket(booking: Booking, now: datetime) -> Ticket:
    """Create the booking's ticket inside the caller's transaction (no commit).

    :raise TicketError: when the booking already has a ticket or is cancelled.
    """
    if booking.ticket is not None:
        raise TicketError(f"Booking {booking.reference} already has a ticket.")
    if booking.status == BookingStatus.CANCELLED:
        raise TicketError(f"Booking {booking.reference} is cancelled; it gets no ticket.")
    # The id is chosen here because the signed token has to name it before the row is flushed.
    ticket = Ticket(
        id=uuid.uuid4(),
        booking=booking,
        ticket_number=_ticket_number(booking.reference),
        version=1,
        validity=TicketValidity.VALID,
        issued_at=now,
        created_at=now,
        updated_at=now,
    )
    ticket.qr_payload = _sign(ticket, booking.reference)
    db.session.add(ticket)
    audit.record(
        "ticket",
        ticket.id,
        "ticket.issued",
        actor_id=None,
        at=now,
        booking_reference=booking.reference,
        ticket_number=ticket.ticket_number,
    )
    return ticket


def reissue_ticket(ticket: Ticket, now: datetime) -> Ticket:
    """Give the ticket a new version and QR code (older codes stop verifying); no commit.

    A cancelled booking's ticket becomes cancelled.
    """
    if inspect(ticket).persistent:
        # Lock and re-read, so two changes of one booking cannot both write the same version.
        db.session.refresh(ticket, with_for_update=True)
    booking = ticket.booking
    ticket.version += 1
    ticket.qr_payload = _sign(ticket, booking.reference)
    ticket.issued_at = now
    ticket.updated_at = now
    if booking.status == BookingStatus.CANCELLED:
        ticket.validity = TicketValidity.CANCELLED
    audit.record(
        "ticket",
        ticket.id,
        "ticket.reissued",
        actor_id=None,
        at=now,
        booking_reference=booking.reference,
        version=ticket.version,
        validity=ticket.validity,
    )
    return ticket


def _read_token(token: str) -> dict[str, Any] | None:
    """The claims of a well-signed token, or None when it is forged or malformed."""
    if not isinstance(token, str) or not token.strip() or len(token) > MAX_TOKEN_LENGTH:
        return None
    token = token.strip()
    serializer = _serializer()
    try:
        claims = serializer.loads(token)
    except BadData:
        return None
    # base64 ignores the spare bits of a last character, so a few altered codes still decode to
    # the same signature; only the exact code we issued counts.
    if serializer.dumps(claims) != token:
        return None
    if (
        not isinstance(claims, dict)
        or not isinstance(claims.get("t"), str)
        or type(claims.get("v")) is not int
        or not isinstance(claims.get("r"), str)
    ):
        return None
    try:
        claims["t"] = uuid.UUID(hex=claims["t"])
    except ValueError:
        return None
    return claims


def verify(token: str, now: datetime) -> VerifyResult:
    """Say whether a scanned QR code is a valid, used, cancelled or forged ticket (read-only)."""
    claims = _read_token(token)
    if claims is None:
        return VerifyResult(ScanStatus.FORGED, None, "This QR code is not a genuine ticket.")
    # populate_existing: a re-check after a lost race must see the row as now committed.
    ticket = db.session.scalar(
        select(Ticket).where(Ticket.id == claims["t"]).execution_options(populate_existing=True)
    )
    if ticket is None or ticket.booking.reference != claims["r"]:
        return VerifyResult(ScanStatus.FORGED, None, "This QR code names no ticket of ours.")
    booking = ticket.booking
    if claims["v"] != ticket.version:
        return VerifyResult(
            ScanStatus.FORGED,
            ticket,
            "This QR code was replaced when the booking changed; ask for the current ticket.",
        )
    if ticket.validity == TicketValidity.CANCELLED or booking.status == BookingStatus.CANCELLED:
        return VerifyResult(
            ScanStatus.CANCELLED, ticket, f"Booking {booking.reference} was cancelled."
        )
    if ticket.validity == TicketValidity.USED:
        minutes = int((now - ticket.used_at).total_seconds() // 60) if ticket.used_at else 0
        return VerifyResult(
            ScanStatus.USED,
            ticket,
            f"Already checked in at {local_time(ticket.used_at, '%H:%M')} "
            f"({minutes} min ago): booking {booking.reference}.",
        )
    return VerifyResult(ScanStatus.VALID, ticket, f"Valid: {_boarding_summary(booking)}")


def _boarding_summary(booking: Booking) -> str:
    """Who boards on this booking and when: what the conductor checks against the ID."""
    passengers = ", ".join(f"{seat.seat_number} {seat.passenger_name}" for seat in _booked(booking))
    schedule = booking.schedule
    return (
        f"booking {booking.reference}, {passengers}. {schedule.route.name}, "
        f"departs {local_time(schedule.departure_at)}."
    )


def _booked(booking: Booking) -> list[BookingSeat]:
    """The seats of a booking that are still booked."""
    return [seat for seat in booking.seats if seat.status == BookingSeatStatus.BOOKED]


def check_in(token: str, *, staff_id: uuid.UUID, now: datetime) -> VerifyResult:
    """Admit the ticket of a scanned QR code once: valid becomes used, in its own transaction.

    Returns status valid when this scan admitted the passengers, otherwise what verify found
    (used, with when, for a second scan).
    """
    with unit_of_work():
        result = verify(token, now)
        if result.status != ScanStatus.VALID:
            audit.log_event("ticket.check_in_refused", status=result.status, staff_id=staff_id)
            return result
        ticket = result.ticket
        # Conditional, so of two scanners at once only one admits; the other sees "used".
        admitted = db.session.execute(
            update(Ticket)
            .where(
                Ticket.id == ticket.id,
                Ticket.version == ticket.version,
                Ticket.validity == TicketValidity.VALID,
            )
            .values(validity=TicketValidity.USED, used_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if admitted != 1:
            return verify(token, now)
        db.session.expire(ticket, ["validity", "used_at", "updated_at"])
        booking = ticket.booking
        audit.record(
            "ticket",
            ticket.id,
            "ticket.checked_in",
            actor_id=staff_id,
            at=now,
            booking_reference=booking.reference,
            version=ticket.version,
            seats=[seat.seat_number for seat in _booked(booking)],
        )
        message = f"Checked in: {_boarding_summary(booking)}"
    return VerifyResult(ScanStatus.VALID, ticket, message)
