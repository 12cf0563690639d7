"""The seat form of the seat map."""

from flask_wtf import FlaskForm
from wtforms import SelectMultipleField
from wtforms.validators import DataRequired


class SeatChoiceForm(FlaskForm):
    """The ticked seat checkboxes (one ``seats`` value each).

    Only "none at all" is refused here. Which numbers exist, how many may be held and whether
    they are free is the hold service's to judge (it names the bad seats in its message), so the
    choices are not checked against the seat map: a stale page must get that message, not
    "Not a valid choice".
    """

    seats = SelectMultipleField(
        "Seats", validators=[DataRequired("Choose at least one seat.")], validate_choice=False
    )
