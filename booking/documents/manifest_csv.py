"""The boarding manifest as CSV (the csv module), safe to open in a spreadsheet: a cell that
starts like a formula (= + - @, tab or carriage return) is prefixed with a quote."""

from __future__ import annotations

import csv
from io import StringIO
from typing import TYPE_CHECKING, Any

from booking.documents.wording import checkin_state

if TYPE_CHECKING:
    from booking.services.manifests import Manifest

HEADER = (
    "group",
    "seat",
    "passenger",
    "age",
    "gender",
    "contact_phone",
    "booking_reference",
    "channel",
    "check_in",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """The cell's text, with a leading apostrophe when a spreadsheet would run it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def render_csv(manifest: Manifest) -> str:
    """Every booked seat, one row each, after a header (the trip is in the file name)."""
    out = StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for group in manifest.groups:
        for row in group.rows:
            writer.writerow(
                [
                    safe_cell(cell)
                    for cell in (
                        group.label,
                        row.seat_number,
                        row.passenger_name,
                        row.age,
                        row.gender.value,
                        row.contact_phone,
                        row.reference,
                        row.channel.value,
                        checkin_state(row, manifest.departed),
                    )
                ]
            )
    return out.getvalue()
