"""Forms of the timetable pages: recurring trips, a trip's operations, bulk actions."""

from __future__ import annotations

import re
import uuid
from datetime import time

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from booking.web.forms import amount, on_the_calendar, strip

WEEKDAYS = {0: "Mon", 1: "Tue", 2: "Wed", 3: "Thu", 4: "Fri", 5: "Sat", 6: "Sun"}
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class CheckboxesField(SelectMultipleField):
    """A set of checkboxes (a multiple select rendered as a list of ticks)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def parse_times(text: str | None) -> list[time]:
    """'06:00, 22:30' -> the times. :raise ValueError: naming a value that is not HH:MM."""
    times = []
    for part in re.split(r"[\s,;]+", text or ""):
        if not part:
            continue
        match = _TIME.match(part)
        if match is None:
            raise ValueError(f"'{part}' is not a time; write times as HH:MM, e.g. 06:00, 22:30.")
        times.append(time(int(match.group(1)), int(match.group(2))))
    return times


def _uuid(value):
    """A choice value as a UUID (an unparseable one stays as it is and fails validation)."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return value


class RecurringForm(FlaskForm):
    """A recurring timetable: route, bus, days, times and price."""

    route_id = SelectField("Route", validators=[DataRequired("Choose a route.")])
    bus_id = SelectField("Bus", validators=[DataRequired("Choose a bus.")])
    first_day = DateField(
        "First day", validators=[InputRequired("Give the first day."), on_the_calendar]
    )
    last_day = DateField(
        "Last day", validators=[InputRequired("Give the last day."), on_the_calendar]
    )
    weekdays = CheckboxesField(
        "Days of the week",
        choices=WEEKDAYS,
        coerce=int,
        validators=[DataRequired("Choose at least one day of the week.")],
    )
    departure_times = StringField(
        "Departure times",
        validators=[DataRequired("Give at least one departure time.")],
        filters=[strip],
        description="Local time, HH:MM, separated by commas: 06:00, 22:30",
    )
    base_price = DecimalField(
        "Base price (₹)",
        places=2,
        validators=[
            InputRequired("Give the base price."),
            amount(),
            NumberRange(min=0.01, message="The base price must be more than zero."),
        ],
        render_kw={"inputmode": "decimal"},
    )
    on_conflict = RadioField(
        "When a trip clashes or is too late",
        choices={"skip": "Skip it, create the others", "refuse": "Create nothing"},
        default="skip",
    )
    action = HiddenField(default="preview")

    def validate_departure_times(self, field) -> None:
        try:
            self.times = parse_times(field.data)
        except ValueError as error:
            raise ValidationError(str(error)) from None


class CancelTripForm(FlaskForm):
    """Cancel the whole trip: a reason passengers read, and a tick to confirm."""

    reason = StringField(
        "Reason (passengers read it)",
        validators=[DataRequired("Give a reason for cancelling the trip."), Length(max=500)],
        filters=[strip],
    )
    confirm = BooleanField(
        "Yes, cancel this trip and refund every booking in full",
        validators=[DataRequired("Tick the box to confirm cancelling the trip.")],
    )


class SwapBusForm(FlaskForm):
    """Run the trip with another bus."""

    bus_id = SelectField("New bus", validators=[DataRequired("Choose a bus.")])


class DepartedForm(FlaskForm):
    """The bus has left (a button; the token is the only field)."""


class BulkForm(FlaskForm):
    """An action over the trips chosen on a list: a base price change, or marking departed.

    ``step`` is 'preview' (show what would change) or 'apply' (do it, all or nothing)."""

    ids = SelectMultipleField("Trips", coerce=_uuid, validate_choice=False)
    action = SelectField(
        "Action",
        choices={"price": "Change base price", "departed": "Mark departed"},
        validators=[DataRequired("Choose an action.")],
    )
    change = SelectField(
        "Change by",
        choices={"percent": "percent (%)", "amount": "amount (₹)"},
        default="percent",
        validate_choice=False,  # anything but 'amount' is a percentage
    )
    value = DecimalField(
        "By",
        places=2,
        validators=[Optional(), amount()],
        description="Negative lowers the price: -10",
        render_kw={"inputmode": "decimal"},
    )
    step = HiddenField(default="preview")

    def validate_ids(self, field) -> None:
        if not field.data:
            raise ValidationError("Choose at least one trip.")
        if any(not isinstance(i, uuid.UUID) for i in field.data):
            raise ValidationError("Reload the list and choose the trips again.")

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if valid and self.action.data == "price" and self.value.data is None:
            self.value.errors = ["Give the percentage or amount to change the price by."]
            return False
        return valid
