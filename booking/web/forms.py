"""What every blueprint's forms share: a filter for typed text, the bounds of a typed amount,
count or date, and a form's first error."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms.validators import StopValidation

from booking.formatting import EARLIEST_DAY, LATEST_DAY

# The widest amount any form takes: money columns are NUMERIC(12, 2). Past it Decimal's
# quantize overflows its context, and NaN or infinity break every comparison after them.
LARGEST_AMOUNT = Decimal("9999999999.99")
# The widest count (limits, minutes): PostgreSQL's INTEGER; SQLite and psycopg refuse more.
LARGEST_COUNT = 2_147_483_647


def strip(value):
    """Drop the spaces around typed text (None stays None)."""
    return value.strip() if isinstance(value, str) else value


def amount(places: int = 2):
    """A validator for a DecimalField: a finite number of at most ``places`` decimals and at
    most LARGEST_AMOUNT either way; put it before NumberRange.

    :raise StopValidation: otherwise (NumberRange would choke on NaN).
    """

    def check(_form, field) -> None:
        value = field.data
        if value is None:
            return
        # normalize(), not quantize(): quantizing 1E+100 overflows the context.
        if (
            not value.is_finite()
            or abs(value) > LARGEST_AMOUNT
            or value.normalize().as_tuple().exponent < -places
        ):
            raise StopValidation(
                f"Enter a number up to {LARGEST_AMOUNT:,.0f}, with at most {places} decimals."
            )

    return check


def count(_form, field) -> None:
    """A validator for an IntegerField: at most LARGEST_COUNT either way.

    :raise StopValidation: otherwise.
    """
    if field.data is not None and abs(field.data) > LARGEST_COUNT:
        raise StopValidation(f"Enter a number up to {LARGEST_COUNT:,}.")


def on_the_calendar(_form, field) -> None:
    """A validator for a DateField or DateTimeLocalField: a day from 2000 to 2999.

    :raise StopValidation: otherwise.
    """
    value = field.data
    if value is None:
        return
    day = value.date() if isinstance(value, datetime) else value
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise StopValidation(f"Enter a date from {EARLIEST_DAY:%d %b %Y} to {LATEST_DAY:%d %b %Y}.")


def day_on_the_calendar(text: str | None) -> date | None:
    """A YYYY-MM-DD query parameter as a date, or None when it is not one or is off the
    calendar (see on_the_calendar)."""
    try:
        day = datetime.strptime(text or "", "%Y-%m-%d").date()
    except ValueError:
        return None
    return day if EARLIEST_DAY <= day <= LATEST_DAY else None


def first_error(form: FlaskForm) -> str:
    """The first message of an invalid form, to show above it."""
    for messages in form.errors.values():
        if messages:
            return messages[0]
    return "Please check the form and try again."
