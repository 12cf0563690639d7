"""Tickets: issuing and reissuing them with a signed QR code, verifying and checking in a scanned
code, and the printable PDF.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from io import BytesIO
from typing import Any

import qrcode
from flask import current_app
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace
from itsdangerous import BadData, URLSafeSerializer
from qrcode.image.pil import PilImage
from sqlalchemy import inspect, select, update

from booking.database import unit_of_work
from booking.extensions import db
from booking.formatting import duration, local_time, money
from booking.models import Booking, BookingSeat, Payment, PromoCode, Ticket
from booking.models.booking import REFERENCE_ALPHABET
from booking.models.enums import (
    BookingSeatStatus,
    BookingStatus,
    PaymentMethod,
    PaymentStatus,
    TicketValidity,
)
from booking.services import audit
from booking.services.errors import DomainError

QR_SALT = "ticket-qr"
# A genuine token is about 100 characters; anything far longer is not worth decoding.
MAX_TOKEN_LENGTH = 512
TIME_FORMAT = "%a %d %b %Y, %H:%M %Z"
METHOD_LABELS = {
    PaymentMethod.CREDIT_CARD: "Credit card",
    PaymentMethod.DEBIT_CARD: "Debit card",
    PaymentMethod.UPI: "UPI",
    PaymentMethod.NET_BANKING: "Net banking",
    PaymentMethod.WALLET: "Wallet",
    PaymentMethod.CASH: "Cash",
}


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


def qr_png(token: str) -> bytes:
    """A PNG image of the QR code of ``token``."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=4)
    code.add_data(token)
    code.make(fit=True)
    out = BytesIO()
    code.make_image(image_factory=PilImage).save(out)
    return out.getvalue()


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


# Core PDF fonts are latin-1 only; these have a readable latin-1 stand-in.
_STAND_INS = {
    "\u20b9": "Rs",
    "\u2192": "->",
    "\u2013": "-",
    "\u2014": "-",
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    # Letters that Unicode does not decompose into a base letter and an accent.
    "\u0141": "L",
    "\u0142": "l",
    "\u0110": "D",
    "\u0111": "d",
    "\u0131": "i",
    "\u0152": "OE",
    "\u0153": "oe",
}


def _pdf_text(text: Any) -> str:
    """Text the core PDF fonts can draw: accents kept where latin-1 has them, else stripped."""
    out = []
    for char in str(text):
        if ord(char) < 256:
            out.append(char)
        elif char in _STAND_INS:
            out.append(_STAND_INS[char])
        else:
            plain = "".join(
                c
                for c in unicodedata.normalize("NFKD", char)
                if ord(c) < 256 and not unicodedata.combining(c)
            )
            out.append(plain or "?")
    return "".join(out)


# Colours of the printed ticket (RGB).
INK = (33, 37, 41)
MUTED = (108, 117, 125)
BRAND = (24, 62, 110)
PANEL = (241, 244, 249)
RULE = (206, 212, 218)
ALERT = (176, 42, 55)
SUCCESS = (25, 135, 84)


class _TicketPDF(FPDF):
    """An A4 page with the operator's footer on it."""

    def __init__(self, footer_text: str):
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.footer_text = footer_text

    def footer(self) -> None:
        """The small print at the bottom of every page."""
        self.set_y(-14)
        self.set_draw_color(*RULE)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.set_font("Helvetica", "", 7.5)
        self.set_text_color(*MUTED)
        self.cell(0, 6, self.footer_text, align="C")


def render_pdf(booking: Booking) -> bytes:
    """The booking's printable A4 ticket.

    :raise TicketError: when the booking has no ticket yet.
    """
    ticket = booking.ticket
    if ticket is None:
        raise TicketError(f"Booking {booking.reference} has no ticket yet.")
    operator = current_app.config["OPERATOR_NAME"]
    pdf = _TicketPDF(
        _pdf_text(
            f"{operator} - ticket {ticket.ticket_number}. Only the latest copy of this ticket "
            "is valid: its QR code changes when the booking changes."
        )
    )
    pdf.set_title(_pdf_text(f"{operator} ticket {booking.reference}"))
    pdf.set_author(_pdf_text(operator))
    pdf.set_creator(_pdf_text(operator))
    # The issue time, not the wall clock, so the same ticket always renders the same file.
    pdf.set_creation_date(ticket.issued_at)
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()

    _draw_header(pdf, operator)
    _draw_reference(pdf, booking, ticket)
    _draw_journey(pdf, booking)
    _draw_passengers(pdf, booking)
    _draw_fare(pdf, booking)
    _draw_policy(pdf)
    return bytes(pdf.output())


def _draw_header(pdf: FPDF, operator: str) -> None:
    """The coloured band with the operator's name."""
    pdf.set_fill_color(*BRAND)
    pdf.rect(0, 0, pdf.w, 24, style="F")
    pdf.set_xy(pdf.l_margin, 6)
    pdf.set_text_color(255, 255, 255)
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(120, 8, _pdf_text(operator))
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 8, "E-TICKET", align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "", 9)
    pdf.cell(120, 5, "Bus ticket and boarding pass")
    pdf.cell(0, 5, "Show the QR code when you board", align="R")


def _draw_reference(pdf: FPDF, booking: Booking, ticket: Ticket) -> None:
    """The booking reference in large type, the ticket number and status, and the QR code."""
    qr_size = 46
    qr_x = pdf.w - pdf.r_margin - qr_size
    top = 32
    pdf.image(BytesIO(qr_png(ticket.qr_payload)), x=qr_x, y=top, w=qr_size, h=qr_size)
    pdf.set_xy(qr_x, top + qr_size)
    pdf.set_font("Helvetica", "", 7.5)
    pdf.set_text_color(*MUTED)
    pdf.cell(qr_size, 4, "Scan at boarding", align="C")

    left = pdf.l_margin
    pdf.set_xy(left, top)
    _label(pdf, "BOOKING REFERENCE")
    pdf.set_font("Courier", "B", 30)
    pdf.set_text_color(*INK)
    pdf.cell(110, 13, booking.reference, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)

    rows = [
        ("Ticket number", ticket.ticket_number),
        ("Issued", local_time(ticket.issued_at, TIME_FORMAT)),
        ("Booked by", booking.contact_name),
        ("Contact", _contact(booking)),
    ]
    for label, value in rows:
        pdf.set_font("Helvetica", "", 9)
        pdf.set_text_color(*MUTED)
        pdf.cell(28, 5.5, label)
        pdf.set_font("Helvetica", "", 10)
        pdf.set_text_color(*INK)
        pdf.cell(95, 5.5, _fit(pdf, value, 95), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    pdf.ln(2)
    status, colour = _status_line(booking, ticket)
    pdf.set_font("Helvetica", "B", 11)
    pdf.set_text_color(*colour)
    pdf.cell(110, 7, _pdf_text(status), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(max(pdf.get_y(), top + qr_size + 6))


def _fit(pdf: FPDF, text: Any, width: float) -> str:
    """``text`` for the PDF, shortened with '...' so it fits ``width`` in the current font."""
    text = _pdf_text(text)
    room = width - 2 * pdf.c_margin
    if pdf.get_string_width(text) <= room:
        return text
    while text and pdf.get_string_width(text + "...") > room:
        text = text[:-1]
    return text.rstrip() + "..."


def _status_line(booking: Booking, ticket: Ticket) -> tuple[str, tuple[int, int, int]]:
    """The ticket's state in words, and the colour to print it in."""
    if booking.status == BookingStatus.CANCELLED or ticket.validity == TicketValidity.CANCELLED:
        return "CANCELLED - this ticket is not valid for travel", ALERT
    if ticket.validity == TicketValidity.USED:
        return f"Checked in {local_time(ticket.used_at, TIME_FORMAT)}", MUTED
    cancelled = len(booking.seats) - len(_booked(booking))
    if cancelled:
        return f"CONFIRMED ({cancelled} of {len(booking.seats)} seats cancelled)", SUCCESS
    return "CONFIRMED", SUCCESS


def _contact(booking: Booking) -> str:
    """How to reach the person who booked: phone, and email when given."""
    parts = [booking.contact_phone]
    if booking.contact_email:
        parts.append(booking.contact_email)
    return ", ".join(parts)


def _label(pdf: FPDF, text: str) -> None:
    """A small grey caption on its own line."""
    pdf.set_font("Helvetica", "B", 7.5)
    pdf.set_text_color(*MUTED)
    pdf.cell(0, 4, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _draw_journey(pdf: FPDF, booking: Booking) -> None:
    """The trip: route, departure and arrival in the operator's time zone, and the bus."""
    schedule = booking.schedule
    top = pdf.get_y()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    pdf.set_fill_color(*PANEL)
    pdf.rect(pdf.l_margin, top, width, 38, style="F")

    pdf.set_xy(pdf.l_margin + 5, top + 4)
    pdf.set_text_color(*INK)
    route = _pdf_text(f"{schedule.route.origin_city}  ->  {schedule.route.destination_city}")
    # Long city names get a smaller type before they get cut short.
    for size in (16, 14, 12):
        pdf.set_font("Helvetica", "B", size)
        if pdf.get_string_width(route) <= width - 10 - 2 * pdf.c_margin:
            break
    pdf.cell(width - 10, 8, _fit(pdf, route, width - 10), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    column = (width - 10) / 3
    facts = [
        ("DEPARTS", local_time(schedule.departure_at, TIME_FORMAT)),
        ("ARRIVES", local_time(schedule.arrival_at, TIME_FORMAT)),
        ("JOURNEY TIME", duration(schedule.duration_minutes)),
        ("BUS", schedule.bus.bus_number),
        ("BUS TYPE", schedule.bus.type_label),
        ("SEATS", ", ".join(seat.seat_number for seat in _booked(booking)) or "All cancelled"),
    ]
    for row_start in (0, 3):
        y = pdf.get_y() + 2
        for i, (label, value) in enumerate(facts[row_start : row_start + 3]):
            x = pdf.l_margin + 5 + i * column
            pdf.set_xy(x, y)
            pdf.set_font("Helvetica", "B", 7)
            pdf.set_text_color(*MUTED)
            pdf.cell(column, 4, label)
            pdf.set_xy(x, y + 4)
            pdf.set_font("Helvetica", "B", 10.5)
            pdf.set_text_color(*INK)
            pdf.cell(column - 2, 6, _fit(pdf, value, column - 2))
        pdf.set_y(y + 10)
    pdf.set_y(top + 38 + 7)


def _draw_passengers(pdf: FPDF, booking: Booking) -> None:
    """The table of seats and passengers; cancelled seats are struck out."""
    _heading(pdf, "Passengers")
    struck = FontFace(emphasis="S", color=MUTED)
    cancelled_style = FontFace(emphasis="B", color=ALERT)
    pdf.set_font("Helvetica", "", 10)
    pdf.set_text_color(*INK)
    pdf.set_draw_color(*RULE)
    with pdf.table(
        col_widths=(14, 52, 10, 16, 22, 20),
        text_align=("LEFT", "LEFT", "CENTER", "LEFT", "RIGHT", "CENTER"),
        headings_style=FontFace(emphasis="B", color=INK, fill_color=PANEL),
        borders_layout="HORIZONTAL_LINES",
        line_height=5,
        padding=(1.5, 2),
    ) as table:
        heading = table.row()
        for title in ("Seat", "Passenger", "Age", "Gender", "Fare", "Status"):
            heading.cell(title)
        for seat in booking.seats:
            cancelled = seat.status == BookingSeatStatus.CANCELLED
            style = struck if cancelled else None
            row = table.row()
            row.cell(seat.seat_number, style=style)
            row.cell(_pdf_text(seat.passenger_name), style=style)
            row.cell(str(seat.passenger_age), style=style)
            row.cell(seat.passenger_gender.value.capitalize(), style=style)
            row.cell(_pdf_text(money(seat.fare)), style=style)
            row.cell(
                "Cancelled" if cancelled else "Booked",
                style=cancelled_style if cancelled else None,
            )
    pdf.ln(5)


def _heading(pdf: FPDF, text: str) -> None:
    """A section heading."""
    pdf.set_font("Helvetica", "B", 12)
    pdf.set_text_color(*BRAND)
    pdf.cell(0, 7, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)


def _draw_fare(pdf: FPDF, booking: Booking) -> None:
    """The fare breakdown, what was paid and how, and any refund."""
    _heading(pdf, "Fare")
    lines: list[tuple[str, Decimal, bool]] = [
        (f"Fare ({_seat_count(len(booking.seats))})", booking.base_amount, False)
    ]
    if booking.discount_amount:
        promo = db.session.get(PromoCode, booking.promo_code_id) if booking.promo_code_id else None
        label = f"Discount ({promo.code})" if promo else "Discount"
        lines.append((label, -booking.discount_amount, False))
    lines.append(("GST", booking.tax_amount, False))
    lines.append(("Total paid", booking.total_amount, True))
    if booking.refunded_amount:
        lines.append(("Refunded", -booking.refunded_amount, False))

    label_width, amount_width = 60, 35
    for label, amount, strong in lines:
        if strong:
            pdf.set_draw_color(*RULE)
            y = pdf.get_y()
            pdf.line(pdf.l_margin, y, pdf.l_margin + label_width + amount_width, y)
        pdf.set_font("Helvetica", "B" if strong else "", 11 if strong else 10)
        pdf.set_text_color(*INK)
        pdf.cell(label_width, 6.5, _pdf_text(label))
        pdf.cell(
            amount_width,
            6.5,
            _pdf_text(money(amount)),
            align="R",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
    paid_by = paid_by_text(booking)
    if paid_by:
        pdf.set_font("Helvetica", "", 9)
        pdf.set_text_color(*MUTED)
        pdf.cell(0, 6, _pdf_text(f"Paid by {paid_by}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(5)


def _seat_count(count: int) -> str:
    """'1 seat' or '3 seats'."""
    return f"{count} seat" if count == 1 else f"{count} seats"


def paid_by_text(booking: Booking) -> str:
    """How the booking was paid: 'Wallet Rs 500.00 and UPI Rs 444.99'."""
    payments = db.session.scalars(
        select(Payment)
        .where(
            Payment.booking_id == booking.id,
            Payment.status.in_([PaymentStatus.COMPLETED, PaymentStatus.REFUNDED]),
        )
        .order_by(Payment.created_at)
    ).all()
    return " and ".join(f"{METHOD_LABELS[p.method]} {money(p.amount)}" for p in payments)


def _draw_policy(pdf: FPDF) -> None:
    """The cancellation policy and the boarding notes."""
    _heading(pdf, "Cancellation policy")
    width = pdf.w - pdf.l_margin - pdf.r_margin
    pdf.set_font("Helvetica", "", 9.5)
    pdf.set_text_color(*INK)
    pdf.multi_cell(width, 5, _pdf_text(cancellation_policy()), align="L", new_x=XPos.LMARGIN)
    pdf.ln(2)
    pdf.set_text_color(*MUTED)
    pdf.multi_cell(
        width,
        5,
        "Carry a photo ID that matches a passenger's name on this ticket.",
        align="L",
        new_x=XPos.LMARGIN,
    )
