"""The desk's forms: a scan at the bus door."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired

from booking.web.forms import strip


class CheckInForm(FlaskForm):
    """What the QR scanner typed (a keyboard wedge: the token, then Enter), and whether only to
    look at the ticket without admitting anyone.

    Any text is accepted: the ticket service says NOT A TICKET or FORGED for what is not a
    genuine code.
    """

    token = StringField(
        "Scan a ticket",
        validators=[DataRequired("Scan or paste the QR code text of a ticket.")],
        filters=[strip],
    )
    verify_only = BooleanField("Verify only (look without checking in)")
