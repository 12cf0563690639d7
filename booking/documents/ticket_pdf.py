"""The printable ticket: one A4 page drawn with fpdf2, with the QR code of the ticket's current
token, the journey, the passengers, the fare and the cancellation policy."""

from __future__ import annotations

from decimal import Decimal
from io import BytesIO
from typing import Any

import qrcode
from flask import current_app
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace
from qrcode.image.pil import PilImage

from booking.documents.pdf_fonts import FAMILY, use_unicode_fonts
from booking.documents.wording import (
    cancellation_policy,
    paid_by_text,
    seat_count,
    seat_kind_text,
)
from booking.formatting import duration, local_time, money, percent
from booking.models import Booking, Ticket
from booking.models.enums import BookingSeatStatus, BookingStatus, TicketValidity
from booking.services.pricing import booking_breakdown

TIME_FORMAT = "%a %d %b %Y, %H:%M %Z"


class MissingTicket(ValueError):
    """A document that needs the ticket was asked for a booking without one."""


def qr_png(token: str) -> bytes:
    """A PNG image of the QR code of ``token``."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=4)
    code.add_data(token)
    code.make(fit=True)
    out = BytesIO()
    code.make_image(image_factory=PilImage).save(out)
    return out.getvalue()


# Colours of the printed ticket (RGB).
INK = (33, 37, 41)
MUTED = (108, 117, 125)
BRAND = (24, 62, 110)
PANEL = (241, 244, 249)
RULE = (206, 212, 218)
ALERT = (176, 42, 55)
SUCCESS = (25, 135, 84)


class FooterPDF(FPDF):
    """A4 pages with a rule and a line of small print at the foot of each; ``page_numbers``
    adds 'Page n of m' on the right (the small print then sits on the left)."""

    def __init__(self, footer_text: str, page_numbers: bool = False):
        super().__init__(orientation="portrait", unit="mm", format="A4")
        use_unicode_fonts(self)
        self.footer_text = footer_text
        self.page_numbers = page_numbers

    def footer(self) -> None:
        """The small print at the bottom of every page."""
        self.set_y(-14)
        self.set_draw_color(*RULE)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.set_font(FAMILY, "", 7.5)
        self.set_text_color(*MUTED)
        self.cell(0, 6, self.footer_text, align="L" if self.page_numbers else "C")
        if self.page_numbers:
            self.cell(0, 6, f"Page {self.page_no()} of {{nb}}", align="R")


def render_pdf(booking: Booking) -> bytes:
    """The booking's printable A4 ticket.

    :raise MissingTicket: when the booking has no ticket yet.
    """
    ticket = booking.ticket
    if ticket is None:
        raise MissingTicket(f"Booking {booking.reference} has no ticket yet.")
    operator = current_app.config["OPERATOR_NAME"]
    pdf = FooterPDF(
        f"{operator} - ticket {ticket.ticket_number}. Only the latest copy of this ticket "
        "is valid: its QR code changes when the booking changes."
    )
    pdf.set_title(f"{operator} ticket {booking.reference}")
    pdf.set_author(operator)
    pdf.set_creator(operator)
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
    pdf.set_font(FAMILY, "B", 18)
    pdf.cell(120, 8, operator)
    pdf.set_font(FAMILY, "B", 11)
    pdf.cell(0, 8, "E-TICKET", align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FAMILY, "", 9)
    pdf.cell(120, 5, "Bus ticket and boarding pass")
    pdf.cell(0, 5, "Show the QR code when you board", align="R")


def _draw_reference(pdf: FPDF, booking: Booking, ticket: Ticket) -> None:
    """The booking reference in large type, the ticket number and status, and the QR code."""
    qr_size = 46
    qr_x = pdf.w - pdf.r_margin - qr_size
    top = 32
    pdf.image(BytesIO(qr_png(ticket.qr_payload)), x=qr_x, y=top, w=qr_size, h=qr_size)
    pdf.set_xy(qr_x, top + qr_size)
    pdf.set_font(FAMILY, "", 7.5)
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
        pdf.set_font(FAMILY, "", 9)
        pdf.set_text_color(*MUTED)
        pdf.cell(28, 5.5, label)
        pdf.set_font(FAMILY, "", 10)
        pdf.set_text_color(*INK)
        pdf.cell(95, 5.5, _fit(pdf, value, 95), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    pdf.ln(2)
    status, colour = _status_line(booking, ticket)
    pdf.set_font(FAMILY, "B", 11)
    pdf.set_text_color(*colour)
    pdf.cell(110, 7, status, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(max(pdf.get_y(), top + qr_size + 6))


def _fit(pdf: FPDF, text: Any, width: float) -> str:
    """``text`` for the PDF, shortened with '...' so it fits ``width`` in the current font."""
    text = str(text)
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
    cancelled = len(booking.seats) - len(booking.booked_numbers)
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
    pdf.set_font(FAMILY, "B", 7.5)
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
    route = f"{schedule.route.origin_city}  →  {schedule.route.destination_city}"
    # Long city names get a smaller type before they get cut short.
    for size in (16, 14, 12):
        pdf.set_font(FAMILY, "B", size)
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
        ("SEATS", ", ".join(booking.booked_numbers) or "All cancelled"),
    ]
    for row_start in (0, 3):
        y = pdf.get_y() + 2
        for i, (label, value) in enumerate(facts[row_start : row_start + 3]):
            x = pdf.l_margin + 5 + i * column
            pdf.set_xy(x, y)
            pdf.set_font(FAMILY, "B", 7)
            pdf.set_text_color(*MUTED)
            pdf.cell(column, 4, label)
            pdf.set_xy(x, y + 4)
            pdf.set_font(FAMILY, "B", 10.5)
            pdf.set_text_color(*INK)
            pdf.cell(column - 2, 6, _fit(pdf, value, column - 2))
        pdf.set_y(y + 10)
    pdf.set_y(top + 38 + 7)


def _draw_passengers(pdf: FPDF, booking: Booking) -> None:
    """The table of seats and passengers; cancelled seats are struck out."""
    _heading(pdf, "Passengers")
    struck = FontFace(emphasis="S", color=MUTED)
    cancelled_style = FontFace(emphasis="B", color=ALERT)
    pdf.set_font(FAMILY, "", 10)
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
            row.cell(str(seat.passenger_name), style=style)
            row.cell(str(seat.passenger_age), style=style)
            row.cell(seat.passenger_gender.value.capitalize(), style=style)
            row.cell(money(seat.fare), style=style)
            row.cell(
                "Cancelled" if cancelled else "Booked",
                style=cancelled_style if cancelled else None,
            )
    pdf.ln(5)


def _heading(pdf: FPDF, text: str) -> None:
    """A section heading."""
    pdf.set_font(FAMILY, "B", 12)
    pdf.set_text_color(*BRAND)
    pdf.cell(0, 7, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)


def fare_lines(booking: Booking, per_seat: bool = True) -> list[tuple[str, Decimal, bool]]:
    """The price breakdown as the pages show it (templates/_price_macros.html), from the one
    pricing breakdown: each seat's fare (unless not ``per_seat``), base fares, seat extras,
    discount, GST, total and any refund: (label, amount, strong) rows."""
    shown = booking_breakdown(booking)
    lines: list[tuple[str, Decimal, bool]] = []
    for line in shown.lines if per_seat else ():
        label = f"{'Berth' if 'berth' in line.kind else 'Seat'} {line.seat_number}"
        if line.extra:
            label += (
                f" ({money(line.base_price)} + {money(line.extra)} {seat_kind_text(line.kind)})"
            )
        if line.cancelled:
            label += " cancelled"
        lines.append((label, line.fare, False))
    each = shown.same_base_price
    count = ""
    if each is not None:
        count = f" ({seat_count(len(shown.lines))} \N{MULTIPLICATION SIGN} {money(each)})"
    lines.append((f"Base fares{count}", shown.base_total, False))
    if shown.extras_total:
        lines.append(("Seat extras", shown.extras_total, False))
    if shown.discount:
        code = f" {shown.promo_code}" if shown.promo_code else ""
        lines.append((f"Discount{code}", -shown.discount, False))
    lines.append((f"GST {percent(shown.tax_rate)}", shown.tax, False))
    lines.append(("Total paid", shown.total, True))
    if booking.refunded_amount:
        lines.append(("Refunded", -booking.refunded_amount, False))
    return lines


def signed_money(amount: Decimal) -> str:
    """'Rs 50.00', or for a deduction the same after a minus sign (as the pages print it)."""
    return money(amount) if amount >= 0 else f"\N{MINUS SIGN}{money(-amount)}"


def _draw_fare(pdf: FPDF, booking: Booking) -> None:
    """The fare breakdown, what was paid and how, and any refund."""
    _heading(pdf, "Fare")
    lines = fare_lines(booking)
    label_width, amount_width = 110, 35
    for label, amount, strong in lines:
        if strong:
            pdf.set_draw_color(*RULE)
            y = pdf.get_y()
            pdf.line(pdf.l_margin, y, pdf.l_margin + label_width + amount_width, y)
        pdf.set_font(FAMILY, "B" if strong else "", 11 if strong else 10)
        pdf.set_text_color(*INK)
        pdf.cell(label_width, 6.5, label)
        pdf.cell(
            amount_width,
            6.5,
            signed_money(amount),
            align="R",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
    paid_by = paid_by_text(booking.settled_payments)
    if paid_by:
        pdf.set_font(FAMILY, "", 9)
        pdf.set_text_color(*MUTED)
        pdf.cell(0, 6, f"Paid by {paid_by}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(5)


def _draw_policy(pdf: FPDF) -> None:
    """The cancellation policy and the boarding notes."""
    _heading(pdf, "Cancellation policy")
    width = pdf.w - pdf.l_margin - pdf.r_margin
    pdf.set_font(FAMILY, "", 9.5)
    pdf.set_text_color(*INK)
    pdf.multi_cell(width, 5, cancellation_policy(), align="L", new_x=XPos.LMARGIN)
    pdf.ln(2)
    pdf.set_text_color(*MUTED)
    pdf.multi_cell(
        width,
        5,
        "Carry a photo ID that matches a passenger's name on this ticket.",
        align="L",
        new_x=XPos.LMARGIN,
    )
