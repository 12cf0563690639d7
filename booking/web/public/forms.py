"""The trip search form (GET, so no CSRF token)."""

from flask_wtf import FlaskForm
from wtforms import DateField, RadioField, SelectField, SelectMultipleField, StringField
from wtforms.validators import Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from booking.models.enums import BusType
from booking.services.catalog import SORTS, WINDOWS


class SearchForm(FlaskForm):
    """Origin, destination, date; sort order and filters."""

    class Meta:
        csrf = False

    origin = StringField("From", validators=[Optional(), Length(max=80)])
    destination = StringField("To", validators=[Optional(), Length(max=80)])
    date = DateField("Date", validators=[Optional()])
    sort = SelectField("Sort by", choices=dict(SORTS), default="departure")
    bus_type = SelectMultipleField(
        "Bus type",
        choices={t.value: t.value.replace("_", " ").capitalize() for t in BusType},
        option_widget=CheckboxInput(),
        widget=ListWidget(prefix_label=False),
        validators=[Optional()],
    )
    window = RadioField(
        "Departure",
        choices={"": "Any time"} | {k: v[0] for k, v in WINDOWS.items()},
        default="",
        validators=[Optional()],
    )
