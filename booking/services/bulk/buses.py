"""Buses in bulk: one row per bus, keyed by bus number.

Editable: type, seat layout (``layout``: a built-in layout's name or the layout's JSON; ``seats``
must match it when given), amenities (separated by ``;``) and ``active``. A new layout is used
for trips created afterwards; trips already scheduled keep their seats (move a trip to another
bus on the schedules sheet). Taking a bus out of service is refused while trips it runs that
have sold seats are still to depart.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime

from sqlalchemy import func, select

from booking.extensions import db
from booking.layouts import BUILTIN_LAYOUTS, LayoutError, load_builtin, parse_layout
from booking.models import Bus, Schedule
from booking.models.enums import BusType
from booking.services.bulk import cells
from booking.services.bulk.engine import CREATE, UPDATE, Kind, Row, cell, diff, insert_and_update
from booking.services.bulk.routes import upcoming_sold_trips

MESSAGES = {
    "number": "A bus number is 1-20 letters, digits, spaces or dashes.",
    "type": "The bus type is one of {types}.",
    "layout": "The layout is not valid: {detail}",
    "layout_text": "Give a built-in layout ({names}) or the layout as JSON.",
    "seats": "The layout has {count} seats, not {given}.",
    "sold_trips": "This bus cannot be taken out of service: it runs {count} trip(s) with sold "
    "seats still to depart.",
}
NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 -]{0,19}$")


def layout_text(layout: dict) -> str:
    """A layout as one line of JSON."""
    return json.dumps(layout, separators=(",", ":"), ensure_ascii=False)


def read_layout(raw: str) -> dict:
    """A built-in layout's name, or layout JSON, as a checked layout.

    :raise CellError: for anything else, or a layout that breaks the rules.
    """
    if raw in BUILTIN_LAYOUTS:
        return load_builtin(raw)
    try:
        layout = json.loads(raw)
    except ValueError as error:
        raise cells.CellError(
            MESSAGES["layout_text"].format(names=", ".join(BUILTIN_LAYOUTS))
        ) from error
    try:
        parse_layout(layout)
    except LayoutError as error:
        raise cells.CellError(MESSAGES["layout"].format(detail=error)) from error
    return layout


def read_type(raw: str) -> BusType:
    """A bus type (``semi sleeper`` is read as ``semi_sleeper``)."""
    try:
        return BusType(raw.strip().lower().replace(" ", "_"))
    except ValueError as error:
        types = ", ".join(t.value for t in BusType)
        raise cells.CellError(MESSAGES["type"].format(types=types)) from error


def read_amenities(raw: str) -> list[str]:
    """'AC; WiFi' as ['AC', 'WiFi']."""
    return [item.strip() for item in raw.split(";") if item.strip()]


def read_number(raw: str) -> str:
    if not NUMBER.match(raw):
        raise cells.CellError(MESSAGES["number"])
    return raw


class Buses(Kind):
    """buses"""

    name = "buses"
    label = "Buses"
    entity = "bus"
    columns = ("bus_number", "bus_type", "seats", "layout", "amenities", "active")
    required = ("bus_number",)
    key_columns = ("bus_number",)

    def export_rows(self, q: str | None) -> list[dict[str, str]]:
        """Every bus (number matching ``q``), by number."""
        query = select(Bus).order_by(Bus.bus_number)
        if q:
            query = query.where(Bus.bus_number.ilike(f"%{q.strip()}%"))
        return [
            {
                "bus_number": b.bus_number,
                "bus_type": b.bus_type.value,
                "seats": str(b.total_seats),
                "layout": layout_text(b.seat_layout_config),
                "amenities": "; ".join(b.amenities or []),
                "active": cells.show_bool(b.is_active),
            }
            for b in db.session.scalars(query)
        ]

    def check(self, rows: list[Row], now: datetime, lock: bool) -> None:
        """Read every bus the file names in one query, then check each row."""
        numbers = {r.cells["bus_number"].casefold() for r in rows}
        query = select(Bus).where(func.lower(Bus.bus_number).in_(numbers))
        if lock:
            query = query.with_for_update()
        found = {b.bus_number.casefold(): b for b in db.session.scalars(query)}
        for row in rows:
            if not row.errors:
                row.current = found.get(self.key(row.cells)[0])
                self._read_row(row, row.current)
        closing = [
            r
            for r in rows
            if r.action == UPDATE and r.current.is_active and not r.values["is_active"]
        ]
        sold = upcoming_sold_trips(Schedule.bus_id, [r.current.id for r in closing], now)
        for row in closing:
            if sold.get(row.current.id):
                row.error("active", MESSAGES["sold_trips"].format(count=sold[row.current.id]))

    def _read_row(self, row: Row, current: Bus | None) -> None:
        number = cell(row, "bus_number", read_number)
        row.label = number or row.cells["bus_number"]
        keep = (lambda name: (getattr(current, name),)) if current else (lambda name: ())
        bus_type = cell(row, "bus_type", read_type, *keep("bus_type"))
        layout = cell(row, "layout", read_layout, *keep("seat_layout_config"))
        amenities = cell(row, "amenities", read_amenities, current.amenities if current else [])
        active = cell(row, "active", cells.boolean, current.is_active if current else True)
        if row.errors:
            return
        count = len(parse_layout(layout))
        if not 1 <= count <= 100:
            row.error("layout", MESSAGES["layout"].format(detail="a bus has 1 to 100 seats."))
        if row.cells.get("seats"):
            given = cell(row, "seats", cells.integer)
            if given is not None and given != count:
                row.error("seats", MESSAGES["seats"].format(count=count, given=given))
        if row.errors:
            return
        row.values.update(
            bus_type=bus_type,
            seat_layout_config=layout,
            total_seats=count,
            amenities=amenities,
            is_active=active,
        )
        if current is None:
            row.values.update(id=uuid.uuid4(), bus_number=number)
            row.action = CREATE
            return
        diff(
            row,
            {
                "bus_type": (current.bus_type.value, bus_type.value),
                "seats": (str(current.total_seats), str(count)),
                "layout": (
                    _layout_summary(current.seat_layout_config),
                    _layout_summary(layout),
                ),
                "amenities": ("; ".join(current.amenities or []), "; ".join(amenities)),
                "active": (cells.show_bool(current.is_active), cells.show_bool(active)),
            },
        )
        if row.changes:
            row.action = UPDATE

    def write(self, rows: list[Row], now: datetime, admin_id: uuid.UUID | None) -> None:
        """Insert new buses and update changed ones, each in one statement."""
        insert_and_update(Bus, rows, now)


def _layout_summary(layout: dict) -> str:
    """A layout in a few words for the preview (its name and a short hash of its JSON)."""
    import hashlib

    digest = hashlib.sha256(json.dumps(layout, sort_keys=True).encode()).hexdigest()[:8]
    return f"{layout.get('name') or 'layout'} #{digest}"
