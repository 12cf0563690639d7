"""Cancelling seats and topping up the wallet."""

from flask_wtf import FlaskForm
from wtforms import DecimalField, RadioField, SelectMultipleField, TextAreaField
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    StopValidation,
)
from wtforms.widgets import CheckboxInput, ListWidget

from booking.formatting import METHOD_LABELS
from booking.models.enums import GATEWAY_METHODS


class CancelForm(FlaskForm):
    """Which seats to cancel, where the refund goes, and why."""

    seats = SelectMultipleField(
        "Seats to cancel",
        option_widget=CheckboxInput(),
        widget=ListWidget(prefix_label=False),
        validators=[DataRequired("Choose at least one seat to cancel.")],
        validate_choice=True,
    )
    refund_mode = RadioField(
        "Refund to",
        choices={"wallet": "My wallet (at once)", "original": "The original payment method"},
        default="wallet",
    )
    reason = TextAreaField("Reason (optional)", [Optional(), Length(max=500)])

    def validate_choice(self) -> bool:
        """Validate the choice for a refund preview (a GET): every field but the CSRF token,
        which only the confirming POST carries."""
        checked = [
            field.validate(self) for name, field in self._fields.items() if name != "csrf_token"
        ]
        return all(checked)


def rupees_and_paise(_form, field) -> None:
    """Accept only a finite amount in whole paise (so nothing is rounded behind the customer).

    :raise StopValidation: for NaN, infinity or fractions of a paisa; later checks would choke
        on NaN, so none of them runs.
    """
    value = field.data
    if value is None:
        return
    # normalize() rather than quantize(): quantizing 1E+100 to paise overflows the context.
    if not value.is_finite() or value.normalize().as_tuple().exponent < -2:
        raise StopValidation("Enter an amount in rupees and paise, like 250.50.")


class TopUpForm(FlaskForm):
    """How much to add to the wallet, and how to pay it."""

    amount = DecimalField(
        "Amount (Rs)",
        places=2,
        validators=[
            InputRequired("Enter an amount."),
            rupees_and_paise,
            NumberRange(100, 50000, "Top up between Rs 100 and Rs 50,000."),
        ],
    )
    method = RadioField(
        "Pay with",
        choices={m.value: METHOD_LABELS[m.value] for m in GATEWAY_METHODS},
        default="upi",
    )
