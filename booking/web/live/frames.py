"""The frames pushed to open seat maps: changed seat cells and the seat-map version, rendered
from templates for htmx's out-of-band swap."""

from __future__ import annotations

import uuid

from flask import render_template
from markupsafe import Markup

from booking.services.inventory import SeatView


def seat_frame(seats: list[SeatView], version: int, cells: dict[tuple[uuid.UUID, str], str]) -> str:
    """One frame for ``seats`` as of ``version``. ``cells`` caches each seat's cell by state,
    so an update pushed to many sockets renders every cell once."""
    rendered = [_cell(seat, cells) for seat in seats]
    return render_template("live/_seat_frame.html", cells=rendered, version=version)


def _cell(seat: SeatView, cells: dict[tuple[uuid.UUID, str], str]) -> Markup:
    """A seat cell marked for an out-of-band swap, rendered once per seat and state."""
    key = (seat.id, seat.state)
    if key not in cells:
        cells[key] = render_template("schedules/_seat.html", seat=seat, oob=True)
    return Markup(cells[key])
