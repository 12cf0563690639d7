"""Promo codes in bulk: one row per code (upper-case letters and digits).

Editable: every field but the count of uses; ``active`` takes a code out of use. An empty cell
of an optional field (``max_discount``, ``usage_limit``, ``per_customer_limit``) means none.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from sqlalchemy import func, or_, select

from booking.extensions import db
from booking.models import PromoCode
from booking.models.enums import PromoKind
from booking.services.bulk import cells
from booking.services.bulk.engine import CREATE, UPDATE, Kind, Row, cell, diff, insert_and_update

MESSAGES = {
    "code": "A code is 3-20 letters and digits.",
    "kind": "The kind is percent or flat.",
    "percent": "A percent code needs percent_off from 1 to 100 and no amount_off.",
    "flat": "A flat code needs amount_off and no percent_off.",
    "window": "valid_until must be after valid_from.",
    "used": "This code has been used {used} time(s): the limit cannot be lower.",
}
CODE = re.compile(r"^[A-Z0-9]{3,20}$")


def read_code(raw: str) -> str:
    code = raw.upper()
    if not CODE.match(code):
        raise cells.CellError(MESSAGES["code"])
    return code


def read_kind(raw: str) -> PromoKind:
    try:
        return PromoKind(raw.lower())
    except ValueError as error:
        raise cells.CellError(MESSAGES["kind"]) from error


def optional(parse):
    """A parser that reads an empty cell as None."""

    def read(raw: str, **options):
        return None if raw == "" else parse(raw, **options)

    return read


def _show(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return cells.show_time(value)
    if hasattr(value, "quantize"):
        return cells.show_money(value)
    if isinstance(value, bool):
        return cells.show_bool(value)
    return str(getattr(value, "value", value))


FIELDS = (  # column, attribute, parser, options
    ("description", "description", cells.text, {"limit": 200, "required": False}),
    ("kind", "kind", read_kind, {}),
    ("percent_off", "percent_off", optional(cells.integer), {}),
    ("amount_off", "amount_off", optional(cells.money), {}),
    ("min_amount", "min_amount", cells.money, {"allow_zero": True}),
    ("max_discount", "max_discount", optional(cells.money), {}),
    ("valid_from", "valid_from", cells.local_time, {}),
    ("valid_until", "valid_until", cells.local_time, {}),
    ("usage_limit", "usage_limit", optional(cells.integer), {}),
    ("per_customer_limit", "per_customer_limit", optional(cells.integer), {}),
    ("active", "is_active", cells.boolean, {}),
)
DEFAULTS = {
    "description": "",
    "min_amount": None,
    "percent_off": None,
    "amount_off": None,
    "max_discount": None,
    "usage_limit": None,
    "per_customer_limit": None,
    "is_active": True,
}


class PromoCodes(Kind):
    """promo codes"""

    name = "promo_codes"
    label = "Promo codes"
    entity = "promo_code"
    columns = ("code", *(column for column, *_ in FIELDS))
    required = ("code",)
    key_columns = ("code",)

    def export_rows(self, q: str | None) -> list[dict[str, str]]:
        """Every code (code or description matching ``q``), by code."""
        query = select(PromoCode).order_by(PromoCode.code)
        if q:
            like = f"%{q.strip()}%"
            query = query.where(or_(PromoCode.code.ilike(like), PromoCode.description.ilike(like)))
        return [
            {"code": p.code, **{column: _show(getattr(p, attr)) for column, attr, *_ in FIELDS}}
            for p in db.session.scalars(query)
        ]

    def check(self, rows: list[Row], now: datetime, lock: bool) -> None:
        """Read every code the file names in one query, then check each row."""
        codes = {r.cells["code"].upper() for r in rows}
        query = select(PromoCode).where(func.upper(PromoCode.code).in_(codes))
        if lock:
            query = query.with_for_update()
        found = {p.code: p for p in db.session.scalars(query)}
        for row in rows:
            if not row.errors:
                row.current = found.get(row.cells["code"].upper())
                self._read_row(row, row.current)

    def _read_row(self, row: Row, current: PromoCode | None) -> None:
        code = cell(row, "code", read_code)
        row.label = code or row.cells["code"]
        values = {}
        for column, attr, parse, options in FIELDS:
            if current is not None:
                keep = (getattr(current, attr),)
            elif attr in DEFAULTS and DEFAULTS[attr] is not None:
                keep = (DEFAULTS[attr],)
            elif attr in DEFAULTS:
                keep = (None,)
            else:
                keep = ()
            values[attr] = cell(row, column, parse, *keep, **options)
        if row.errors:
            return
        if values["min_amount"] is None:
            values["min_amount"] = cells.money("0", allow_zero=True)
        if values["kind"] == PromoKind.PERCENT:
            if values["percent_off"] is None or values["percent_off"] > 100 or values["amount_off"]:
                row.error("percent_off", MESSAGES["percent"])
        elif values["amount_off"] is None or values["percent_off"] is not None:
            row.error("amount_off", MESSAGES["flat"])
        if values["valid_until"] <= values["valid_from"]:
            row.error("valid_until", MESSAGES["window"])
        used = current.used_count if current else 0
        if values["usage_limit"] is not None and values["usage_limit"] < used:
            row.error("usage_limit", MESSAGES["used"].format(used=used))
        if row.errors:
            return
        row.values.update(values)
        if current is None:
            row.values.update(id=uuid.uuid4(), code=code)
            row.action = CREATE
            return
        diff(
            row,
            {
                column: (_show(getattr(current, attr)), _show(values[attr]))
                for column, attr, *_ in FIELDS
            },
        )
        if row.changes:
            row.action = UPDATE

    def write(self, rows: list[Row], now: datetime, admin_id: uuid.UUID | None) -> None:
        """Insert new codes and update changed ones, each in one statement."""
        insert_and_update(PromoCode, rows, now)
