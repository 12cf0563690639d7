"""The counter receipt: an 80 mm wide PDF for a thermal printer (72 mm printable), with the
reference in large type, the trip, each seat with its passenger and fare, the total and how it
was paid, and the ticket's QR code."""

from __future__ import annotations

from io import BytesIO

from flask import current_app
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from booking.documents.pdf_fonts import FAMILY, use_unicode_fonts
from booking.documents.ticket_pdf import MissingTicket, fare_lines, qr_png, signed_money
from booking.documents.wording import paid_by_text
from booking.extensions import db
from booking.formatting import local_time, money
from booking.models import Booking, User

WIDTH = 80  # mm: the paper roll
MARGIN = 4  # mm each side: 72 mm printed, what 80 mm thermal printers print
QR_SIZE = 38


def render_pdf(booking: Booking) -> bytes:
    """The booking's receipt; its height grows with the seats.

    :raise MissingTicket: when the booking has no ticket yet.
    """
    ticket = booking.ticket
    if ticket is None:
        raise MissingTicket(f"Booking {booking.reference} has no ticket yet.")
    seats = booking.booked_seats
    height = 162 + 7 * len(seats)  # room for the breakdown's six lines
    pdf = FPDF(unit="mm", format=(WIDTH, height))
    use_unicode_fonts(pdf)
    operator = current_app.config["OPERATOR_NAME"]
    pdf.set_title(f"{operator} receipt {booking.reference}")
    pdf.set_creation_date(ticket.issued_at)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(False)
    pdf.add_page()
    width = WIDTH - 2 * MARGIN

    def line(text, size=9, style="", align="L", h=4.6) -> None:
        pdf.set_font(FAMILY, style, size)
        pdf.multi_cell(width, h, str(text), align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def rule() -> None:
        pdf.ln(1)
        pdf.set_draw_color(0, 0, 0)
        pdf.set_dash_pattern(dash=1, gap=1)
        pdf.line(MARGIN, pdf.get_y(), WIDTH - MARGIN, pdf.get_y())
        pdf.set_dash_pattern()
        pdf.ln(1.5)

    line(operator, 12, "B", "C", 6)
    line("Bus ticket receipt", 8, "", "C")
    rule()
    line("BOOKING", 8, "B", "C")
    pdf.set_font("Courier", "B", 22)
    pdf.cell(width, 10, booking.reference, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    line(f"Ticket {ticket.ticket_number}", 8, "", "C")
    rule()
    schedule = booking.schedule
    line(schedule.route.name, 10, "B")
    line(f"Departs {local_time(schedule.departure_at, '%a %d %b %Y %H:%M')}")
    line(f"Bus {schedule.bus.bus_number} ({schedule.bus.type_label})", 8)
    rule()
    for seat in seats:
        _seat_line(pdf, width, seat)
    rule()
    for label, amount, strong in fare_lines(booking, per_seat=False):
        _amount_line(pdf, width, label, signed_money(amount), bold=strong)
    line(f"Paid: {paid_by_text(booking.settled_payments) or 'complimentary'}", 8)
    line(f"Contact: {booking.contact_name}, {booking.contact_phone}", 8)
    clerk = db.session.get(User, booking.sold_by_id) if booking.sold_by_id else None
    sold = f"Sold {local_time(booking.confirmed_at, '%d %b %Y %H:%M')}"
    line(f"{sold} by {clerk.full_name}" if clerk else sold, 8)
    rule()
    x = (WIDTH - QR_SIZE) / 2
    pdf.image(BytesIO(qr_png(ticket.qr_payload)), x=x, y=pdf.get_y(), w=QR_SIZE, h=QR_SIZE)
    pdf.set_y(pdf.get_y() + QR_SIZE + 1)
    line("Show this code when you board.", 8, "", "C")
    line("Only the latest copy of a ticket is valid.", 7, "", "C")
    return bytes(pdf.output())


def _seat_line(pdf: FPDF, width: float, seat) -> None:
    """'3A  Asha Rao (34, F)        Rs 650.00'."""
    pdf.set_font(FAMILY, "B", 10)
    pdf.cell(11, 5, str(seat.seat_number))
    pdf.set_font(FAMILY, "", 9)
    who = f"{seat.passenger_name} ({seat.passenger_age}, {seat.passenger_gender[:1].upper()})"
    fare = money(seat.fare)
    fare_width = pdf.get_string_width(fare) + 2
    pdf.cell(width - 11 - fare_width, 5, _fit(pdf, who, width - 11 - fare_width))
    pdf.cell(fare_width, 5, fare, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _amount_line(pdf: FPDF, width: float, label: str, amount: str, bold: bool = False) -> None:
    pdf.set_font(FAMILY, "B" if bold else "", 11 if bold else 9)
    pdf.cell(width / 2, 6, label)
    pdf.cell(width / 2, 6, str(amount), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _fit(pdf: FPDF, text: str, room: float) -> str:
    """``text`` shortened with '...' to fit ``room`` mm in the current font."""
    text = str(text)
    while text and pdf.get_string_width(text) > room - 1:
        text = text[:-4] + "..." if len(text) > 4 else ""
    return text
