"""The boarding manifest of a trip as a printable A4 PDF (fpdf2): the trip, then one table per
group (boarding point or deck) of seat, passenger, age, gender, phone, booking, channel and
check-in state, and the totals."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from booking.documents.pdf_fonts import FAMILY
from booking.documents.ticket_pdf import (
    BRAND,
    INK,
    MUTED,
    PANEL,
    RULE,
    SUCCESS,
    FooterPDF,
)
from booking.documents.wording import checkin_state, no_shows_text
from booking.formatting import local_time

if TYPE_CHECKING:
    from booking.services.manifests import Manifest

TIME_FORMAT = "%a %d %b %Y, %H:%M %Z"
# A reference in a fixed-width face: the widest (10 x W) fits its column on one line.
REFERENCE = FontFace(family="Courier", emphasis="B", size_pt=8.5)
COLUMNS = (  # title, width in mm (the 186 mm between the margins), alignment
    ("Seat", 11, "LEFT"),
    ("Passenger", 44, "LEFT"),
    ("Age", 9, "CENTER"),
    ("Gender", 16, "LEFT"),
    ("Phone", 27, "LEFT"),
    ("Booking", 26, "LEFT"),
    ("Channel", 17, "LEFT"),
    ("Check-in", 36, "LEFT"),
)


def render_pdf(manifest: Manifest) -> bytes:
    """The manifest as A4 pages."""
    operator = current_app.config["OPERATOR_NAME"]
    departs = local_time(manifest.departure_at, TIME_FORMAT)
    pdf = FooterPDF(
        f"{operator} - manifest, {manifest.route_name}, {departs}, {manifest.bus_number}",
        page_numbers=True,
    )
    pdf.set_title(f"Manifest {manifest.route_name} {departs}")
    pdf.set_author(operator)
    pdf.set_creation_date(manifest.generated_at)
    pdf.set_margins(12, 12, 12)
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()
    _draw_header(pdf, manifest, operator)
    _draw_totals(pdf, manifest)
    if not manifest.groups:
        pdf.set_font(FAMILY, "", 11)
        pdf.set_text_color(*INK)
        pdf.cell(0, 8, "No seats are booked on this trip.", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for group in manifest.groups:
        _draw_group(pdf, manifest, group)
    return bytes(pdf.output())


def _draw_header(pdf: FPDF, manifest: Manifest, operator: str) -> None:
    """The band with the operator and the trip."""
    pdf.set_fill_color(*BRAND)
    pdf.rect(0, 0, pdf.w, 30, style="F")
    pdf.set_xy(pdf.l_margin, 5)
    pdf.set_text_color(255, 255, 255)
    pdf.set_font(FAMILY, "B", 16)
    pdf.cell(120, 8, operator)
    pdf.set_font(FAMILY, "B", 11)
    pdf.cell(0, 8, "BOARDING MANIFEST", align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FAMILY, "B", 12)
    pdf.cell(
        0,
        7,
        f"{manifest.origin}  →  {manifest.destination}",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.set_font(FAMILY, "", 9)
    pdf.cell(
        0,
        5,
        (
            f"Departs {local_time(manifest.departure_at, TIME_FORMAT)} - arrives "
            f"{local_time(manifest.arrival_at, TIME_FORMAT)} - bus {manifest.bus_number} - "
            f"printed {local_time(manifest.generated_at, '%d %b, %H:%M')}"
        ),
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.set_y(36)


def _draw_totals(pdf: FPDF, manifest: Manifest) -> None:
    """Booked, checked in, no-shows in a panel."""
    totals = manifest.totals
    width = pdf.w - pdf.l_margin - pdf.r_margin
    top = pdf.get_y()
    pdf.set_fill_color(*PANEL)
    pdf.rect(pdf.l_margin, top, width, 16, style="F")
    facts = [
        ("BOOKED", str(totals.booked)),
        ("CHECKED IN", str(totals.checked_in)),
        ("NO-SHOWS", no_shows_text(totals)),
    ]
    column = width / 3
    for i, (label, value) in enumerate(facts):
        x = pdf.l_margin + 4 + i * column
        pdf.set_xy(x, top + 2)
        pdf.set_font(FAMILY, "B", 7)
        pdf.set_text_color(*MUTED)
        pdf.cell(column, 4, label)
        pdf.set_xy(x, top + 7)
        pdf.set_font(FAMILY, "B", 12 if len(value) < 12 else 9)
        pdf.set_text_color(*INK)
        pdf.cell(column - 6, 7, str(value))
    pdf.set_y(top + 16 + 6)


def _draw_group(pdf: FPDF, manifest: Manifest, group) -> None:
    """One group's heading and table."""
    pdf.set_font(FAMILY, "B", 12)
    pdf.set_text_color(*BRAND)
    pdf.cell(
        0,
        7,
        f"{group.label} ({group.checked_in} of {len(group.rows)} checked in)",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.set_font(FAMILY, "", 9)
    pdf.set_text_color(*INK)
    pdf.set_draw_color(*RULE)
    boarded = FontFace(emphasis="B", color=SUCCESS)
    with pdf.table(
        col_widths=tuple(width for _, width, _ in COLUMNS),
        text_align=tuple(align for _, _, align in COLUMNS),
        headings_style=FontFace(emphasis="B", color=INK, fill_color=PANEL),
        borders_layout="HORIZONTAL_LINES",
        line_height=5,
        padding=(1.2, 1.5),
        repeat_headings=1,
    ) as table:
        heading = table.row()
        for title, _, _ in COLUMNS:
            heading.cell(title)
        for row in group.rows:
            line = table.row()
            line.cell(row.seat_number)
            line.cell(str(row.passenger_name))
            line.cell(str(row.age))
            line.cell(row.gender.value.capitalize())
            line.cell(str(row.contact_phone))
            line.cell(row.reference, style=REFERENCE)
            line.cell(row.channel.value)
            line.cell(
                checkin_state(row, manifest.departed),
                style=boarded if row.checked_in else None,
            )
    pdf.ln(5)
