"""The sandbox gateway's decision and the ticket check at the bus door."""

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired

from booking.web.forms import strip

# The sandbox page's buttons, as the webhook event each one sends.
DECISIONS = {
    "pay": "payment.succeeded",
    "decline": "payment.failed",
    "abandon": "payment.abandoned",
}


class SandboxDecisionForm(FlaskForm):
    """Which button the customer pressed on the sandbox gateway's page."""

    decision = StringField(
        "Decision", validators=[AnyOf(list(DECISIONS), "Choose Pay, Decline or Abandon.")]
    )

    def event(self) -> str:
        """The webhook event the decision sends."""
        return DECISIONS[self.decision.data]


class TicketVerifyForm(FlaskForm):
    """The QR text a scanner typed (or staff pasted), and whether to check the passenger in.

    Any text is accepted: the ticket service says FORGED for what is not a genuine code.
    """

    token = TextAreaField(
        "QR code text",
        validators=[DataRequired("Scan or paste the QR code text of a ticket.")],
        filters=[strip],
    )
    action = SelectField(
        "Action", choices={"verify": "Check", "check_in": "Check in"}, default="verify"
    )

    @property
    def checking_in(self) -> bool:
        """True when staff pressed Check in."""
        return self.action.data == "check_in"
