"""Reading and writing the cells of a bulk file: yes/no, numbers, money and local times."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from flask import current_app

from booking.db_types import CENT

MESSAGES = {
    "bool": "Write yes or no.",
    "int": "Write a whole number.",
    "positive": "Must be more than 0.",
    "not_negative": "Must be 0 or more.",
    "money": "Write an amount like 450 or 450.50 (at most two decimal places).",
    "number": "Write a number like 350 or 350.5.",
    "datetime": "Write a local date and time as YYYY-MM-DD HH:MM, e.g. 2026-12-24 21:30.",
    "empty": "Must not be empty.",
    "too_long": "At most {limit} characters.",
}
TRUE = {"yes", "y", "true", "1"}
FALSE = {"no", "n", "false", "0"}


class CellError(ValueError):
    """A cell that cannot be read; the message is for the person who wrote it."""


def zone() -> ZoneInfo:
    """The operator's time zone (times in files are local)."""
    return ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])


def show_time(value: datetime) -> str:
    """A UTC instant as the local 'YYYY-MM-DD HH:MM' a file uses."""
    return value.astimezone(zone()).strftime("%Y-%m-%d %H:%M")


def show_bool(value: bool) -> str:
    """yes or no."""
    return "yes" if value else "no"


def show_money(value: Decimal | None) -> str:
    """An amount with two places, no grouping, no sign ('' for none)."""
    return "" if value is None else f"{abs(value):.2f}"


def text(raw: str, limit: int, required: bool = True) -> str:
    """Plain text, kept as written (never evaluated)."""
    if required and not raw:
        raise CellError(MESSAGES["empty"])
    if len(raw) > limit:
        raise CellError(MESSAGES["too_long"].format(limit=limit))
    return raw


def boolean(raw: str) -> bool:
    """yes / no (also y, n, true, false, 1, 0)."""
    value = raw.casefold()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise CellError(MESSAGES["bool"])


def integer(raw: str, minimum: int = 1) -> int:
    """A whole number at least ``minimum``."""
    try:
        value = int(raw)
    except ValueError as error:
        raise CellError(MESSAGES["int"]) from error
    if value < minimum:
        raise CellError(MESSAGES["positive" if minimum > 0 else "not_negative"])
    return value


def number(raw: str) -> float:
    """A positive number."""
    try:
        value = float(Decimal(raw))
    except (InvalidOperation, ValueError) as error:
        raise CellError(MESSAGES["number"]) from error
    if not value > 0:
        raise CellError(MESSAGES["positive"])
    return value


def money(raw: str, allow_zero: bool = False) -> Decimal:
    """An amount with at most two decimal places, more than 0 (or 0 with ``allow_zero``)."""
    try:
        value = Decimal(raw.replace(",", ""))
    except InvalidOperation as error:
        raise CellError(MESSAGES["money"]) from error
    if not value.is_finite() or value != value.quantize(CENT):
        raise CellError(MESSAGES["money"])
    if value < 0 or (value == 0 and not allow_zero):
        raise CellError(MESSAGES["not_negative" if allow_zero else "positive"])
    return value.quantize(CENT)


def local_time(raw: str) -> datetime:
    """A local 'YYYY-MM-DD HH:MM' as an aware UTC instant."""
    try:
        naive = datetime.strptime(raw, "%Y-%m-%d %H:%M")
    except ValueError as error:
        raise CellError(MESSAGES["datetime"]) from error
    from datetime import UTC

    return naive.replace(tzinfo=zone()).astimezone(UTC)
