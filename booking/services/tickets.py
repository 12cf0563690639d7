"""Tickets: issuing and reissuing them with a signed QR token, and verifying and checking in a
scanned code. The printable PDF is drawn in booking.documents.ticket_pdf."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from flask import current_app
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import inspect, select, update

from booking.database import unit_of_work
from booking.extensions import db
from booking.formatting import local_time
from booking.models import ActivityLog, Booking, BookingSeat, Schedule, Ticket, User
from booking.models.booking import REFERENCE_ALPHABET
from booking.models.enums import BookingSeatStatus, BookingStatus, TicketValidity
from booking.services import audit
from booking.services.errors import DomainError, NotFound

QR_SALT = "ticket-qr"
# A genuine token is about 100 characters; anything far longer is not worth decoding.
MAX_TOKEN_LENGTH = 512
CHECKED_IN = "ticket.checked_in"
# What our tokens look like: base64url payload (a leading dot when compressed), a dot and the
# base64url HMAC-SHA256 signature (32 bytes: 43 characters).
TOKEN_SHAPE = re.compile(r"\.?[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
SIGNATURE_LENGTH = 43

MESSAGES = {
    "has_ticket": "Booking {reference} already has a ticket.",
    "cancelled_no_ticket": "Booking {reference} is cancelled; it gets no ticket.",
    "no_trip": "We could not find that trip.",
    "not_a_ticket": "This is not a ticket's QR code. Scan the QR code printed on the ticket.",
    "forged": "This QR code is not a genuine ticket: its signature does not match.",
    "unknown": "This QR code names no ticket of ours.",
    "cancelled": "Booking {reference} was cancelled.",
    "cancelled_old": "Booking {reference} was cancelled (and this QR code is an older copy).",
    "replaced": (
        "This QR code was replaced when the booking changed; ask for the current ticket. "
        "Booking {reference} now has {passengers}."
    ),
    "not_this_trip": "This ticket is for another trip: {trip}.",
    "opens": ("Too early: check-in for {trip} opens at {opens} ({hours} h before departure)."),
    "arrived": "This trip arrived at {arrived}; its tickets no longer board: {trip}.",
    "used": "Already checked in at {at} ({minutes} min ago) by {by}: booking {reference}.",
    "used_by_nobody": "Already checked in at {at} ({minutes} min ago): booking {reference}.",
    "valid": "Valid: {summary}",
    "checked_in": "Checked in: {summary}",
}


class TicketError(DomainError):
    """A ticket cannot be issued or printed."""


class ScanStatus(StrEnum):
    """What a scanned QR code turned out to be."""

    VALID = "valid"
    USED = "used"
    CANCELLED = "cancelled"
    REPLACED = "replaced"
    NOT_THIS_TRIP = "not_this_trip"
    NOT_TODAY = "not_today"
    FORGED = "forged"
    NOT_A_TICKET = "not_a_ticket"

    @property
    def label(self) -> str:
        """The big words the door shows: 'VALID', 'ALREADY USED', 'NOT THIS TRIP'."""
        return "ALREADY USED" if self is ScanStatus.USED else self.value.replace("_", " ").upper()

    @property
    def tone(self) -> str:
        """ok (board), warn (look again) or bad (do not board): the colour of the answer."""
        if self is ScanStatus.VALID:
            return "ok"
        if self in (ScanStatus.CANCELLED, ScanStatus.FORGED, ScanStatus.NOT_A_TICKET):
            return "bad"
        return "warn"


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of checking a QR code, with a message for the person at the bus door.

    ``seats`` are the (seat number, passenger name) pairs of the ticket's booked seats (of the
    current ticket, for a replaced code); ``trip`` is the trip the scan was done for, if any.
    """

    status: ScanStatus
    ticket: Ticket | None
    message: str
    seats: tuple[tuple[str, str], ...] = ()
    trip: Schedule | None = None

    @property
    def reference(self) -> str | None:
        """The booking reference of the ticket, when the code named one of ours."""
        return self.ticket.booking.reference if self.ticket is not None else None


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
        raise TicketError(MESSAGES["has_ticket"].format(reference=booking.reference))
    if booking.status == BookingStatus.CANCELLED:
        raise TicketError(MESSAGES["cancelled_no_ticket"].format(reference=booking.reference))
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


def door_trip(schedule_id: uuid.UUID) -> Schedule:
    """The trip a desk scans tickets for.

    :raise NotFound: for an unknown trip.
    """
    schedule = db.session.get(Schedule, schedule_id)
    if schedule is None:
        raise NotFound(MESSAGES["no_trip"])
    return schedule


def _read_token(token: str) -> tuple[ScanStatus | None, dict[str, Any] | None]:
    """(None, claims) for a well-signed token; (NOT_A_TICKET, None) for text that is not a token
    at all (random text, a URL, too long); (FORGED, None) for a token whose signature fails."""
    if not isinstance(token, str):
        return ScanStatus.NOT_A_TICKET, None
    token = token.strip()
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return ScanStatus.NOT_A_TICKET, None
    serializer = _serializer()
    try:
        claims = serializer.loads(token)
    except BadData:
        return (
            ScanStatus.FORGED if _token_shaped(serializer, token) else ScanStatus.NOT_A_TICKET
        ), None
    # base64 ignores the spare bits of a last character, so a few altered codes still decode to
    # the same signature; only the exact code we issued counts.
    if serializer.dumps(claims) != token:
        return ScanStatus.FORGED, None
    if (
        not isinstance(claims, dict)
        or not isinstance(claims.get("t"), str)
        or type(claims.get("v")) is not int
        or not isinstance(claims.get("r"), str)
    ):
        return ScanStatus.FORGED, None
    try:
        claims["t"] = uuid.UUID(hex=claims["t"])
    except ValueError:
        return ScanStatus.FORGED, None
    return None, claims


def _token_shaped(serializer: URLSafeSerializer, token: str) -> bool:
    """True when the text is built like one of our tokens, whatever its signature: base64 text,
    a dot and base64 text, where the first part decodes to a JSON object or the second is as
    long as our signatures. What fails then is the signature, so it is forged."""
    if not TOKEN_SHAPE.fullmatch(token):
        return False
    if len(token.rsplit(".", 1)[1]) == SIGNATURE_LENGTH:
        return True
    try:
        _signed, payload = serializer.loads_unsafe(token)
    except (BadData, ValueError):  # whatever a scanner typed: then it is simply not a token
        return False
    return isinstance(payload, dict)


def verify(token: str, now: datetime, schedule_id: uuid.UUID | None = None) -> VerifyResult:
    """What a scan of ``token`` at the bus door answers now (read-only).

    With ``schedule_id`` the scan is for that trip, and a ticket for another trip is
    NOT_THIS_TRIP. A ticket boards from CHECKIN_OPENS_HOURS before departure until arrival;
    outside that it is NOT_TODAY.

    :raise NotFound: for an unknown ``schedule_id``.
    """
    trip = door_trip(schedule_id) if schedule_id is not None else None
    problem, claims = _read_token(token)
    if problem is not None:
        return VerifyResult(problem, None, MESSAGES[problem.value], trip=trip)
    # populate_existing: a re-check after a lost race must see the row as now committed.
    ticket = db.session.scalar(
        select(Ticket).where(Ticket.id == claims["t"]).execution_options(populate_existing=True)
    )
    if ticket is None or ticket.booking.reference != claims["r"] or claims["v"] > ticket.version:
        return VerifyResult(ScanStatus.FORGED, None, MESSAGES["unknown"], trip=trip)
    booking = ticket.booking
    seats = tuple((seat.seat_number, seat.passenger_name) for seat in _booked(booking))

    def answer(status: ScanStatus, key: str, **fields: Any) -> VerifyResult:
        message = MESSAGES[key].format(reference=booking.reference, **fields)
        return VerifyResult(status, ticket, message, seats, trip)

    older = claims["v"] < ticket.version
    if ticket.validity == TicketValidity.CANCELLED or booking.status == BookingStatus.CANCELLED:
        return answer(ScanStatus.CANCELLED, "cancelled_old" if older else "cancelled")
    if older:
        return answer(ScanStatus.REPLACED, "replaced", passengers=_passengers(booking))
    schedule = booking.schedule
    if trip is not None and schedule.id != trip.id:
        return answer(ScanStatus.NOT_THIS_TRIP, "not_this_trip", trip=_trip_name(schedule))
    if ticket.validity == TicketValidity.USED:
        by = _checked_in_by(ticket)
        minutes = int((now - ticket.used_at).total_seconds() // 60) if ticket.used_at else 0
        return answer(
            ScanStatus.USED,
            "used" if by else "used_by_nobody",
            at=local_time(ticket.used_at, "%H:%M"),
            minutes=max(minutes, 0),
            by=by,
        )
    hours = current_app.config["CHECKIN_OPENS_HOURS"]
    opens = schedule.departure_at - timedelta(hours=hours)
    if now < opens:
        return answer(
            ScanStatus.NOT_TODAY,
            "opens",
            trip=_trip_name(schedule),
            opens=local_time(opens, "%a %d %b, %H:%M"),
            hours=hours,
        )
    if now >= schedule.arrival_at:
        return answer(
            ScanStatus.NOT_TODAY,
            "arrived",
            trip=_trip_name(schedule),
            arrived=local_time(schedule.arrival_at, "%a %d %b, %H:%M"),
        )
    return answer(ScanStatus.VALID, "valid", summary=_boarding_summary(booking))


def _trip_name(schedule: Schedule) -> str:
    """'Mysuru to Chennai, departs 03 Dec 2026, 11:30': which trip a ticket is for."""
    return f"{schedule.route.name}, departs {local_time(schedule.departure_at)}"


def _passengers(booking: Booking) -> str:
    """'2A Asha Rao, 2B Ravi Rao' (or 'no seats left')."""
    booked = _booked(booking)
    if not booked:
        return "no seats left"
    return "seats " + ", ".join(f"{seat.seat_number} {seat.passenger_name}" for seat in booked)


def _checked_in_by(ticket: Ticket) -> str | None:
    """The name of the staff member whose scan admitted the ticket (from its audit row)."""
    staff = db.session.scalar(
        select(User)
        .join(ActivityLog, ActivityLog.user_id == User.id)
        .where(
            ActivityLog.entity_type == "ticket",
            ActivityLog.entity_id == str(ticket.id),
            ActivityLog.action_type == CHECKED_IN,
        )
        .order_by(ActivityLog.timestamp.desc())
        .limit(1)
    )
    return staff.full_name if staff is not None else None


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


def check_in(
    token: str, *, staff_id: uuid.UUID, now: datetime, schedule_id: uuid.UUID | None = None
) -> VerifyResult:
    """Admit the ticket of a scanned QR code once: valid becomes used, in its own transaction.

    Returns status valid when this scan admitted the passengers, otherwise what verify found
    (used, with when and by whom, for a second scan).

    :raise NotFound: for an unknown ``schedule_id``.
    """
    with unit_of_work():
        result = verify(token, now, schedule_id)
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
            return verify(token, now, schedule_id)
        db.session.expire(ticket, ["validity", "used_at", "updated_at"])
        booking = ticket.booking
        audit.record(
            "ticket",
            ticket.id,
            CHECKED_IN,
            actor_id=staff_id,
            at=now,
            booking_reference=booking.reference,
            version=ticket.version,
            schedule_id=booking.schedule_id,
            seats=[seat.seat_number for seat in _booked(booking)],
        )
        message = MESSAGES["checked_in"].format(summary=_boarding_summary(booking))
    return VerifyResult(ScanStatus.VALID, ticket, message, result.seats, result.trip)
