"""The counter's shift forms: open with a float, close with the cash counted."""

from flask_wtf import FlaskForm
from wtforms import DecimalField, HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from booking.web.forms import amount, strip


class OpenShiftForm(FlaskForm):
    """The cash put in the drawer to start the shift, and (optional) the counter's city."""

    opening_float = DecimalField(
        "Opening float (₹)",
        places=2,
        validators=[
            InputRequired("Enter the cash in the drawer, 0 or more."),
            amount(),
            NumberRange(min=0, message="The float cannot be negative."),
        ],
        render_kw={"inputmode": "decimal", "autofocus": True},
    )
    station = StringField(
        "Station",
        validators=[Optional(), Length(max=80)],
        filters=[strip],
        description="Leave empty for your home station.",
    )


class CloseShiftForm(FlaskForm):
    """The cash counted in the drawer at the end, and a note for the admin."""

    shift_id = HiddenField(validators=[DataRequired("Reload the page and try again.")])
    counted_cash = DecimalField(
        "Cash counted (₹)",
        places=2,
        validators=[
            InputRequired("Enter the cash you counted in the drawer."),
            amount(),
            NumberRange(min=0, message="The count cannot be negative."),
        ],
        render_kw={"inputmode": "decimal"},
    )
    note = TextAreaField("Note (optional)", validators=[Optional(), Length(max=500)])
