"""The checkout form: one passenger per seat, contact details, promo code, wallet, method."""

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TelField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from booking.formatting import METHOD_LABELS
from booking.models.enums import GATEWAY_METHODS
from booking.services.details import CheckoutDetails, Passenger


def details_of(form) -> CheckoutDetails:
    """A checkout or desk form's passengers, contact and promo code, as the payment service
    takes them (a missing age is -1, which the service's checks refuse with a message)."""
    return CheckoutDetails(
        passengers=tuple(
            Passenger(
                seat_number=entry.form.seat_number.data or "",
                name=entry.form.name.data or "",
                age=entry.form.age.data if entry.form.age.data is not None else -1,
                gender=entry.form.gender.data or "",
            )
            for entry in form.passengers
        ),
        contact_name=form.contact_name.data or "",
        contact_phone=form.contact_phone.data or "",
        contact_email=(form.contact_email.data or "").strip() or None,
        promo_code=(form.promo_code.data or "").strip() or None,
    )


class PassengerForm(Form):
    """The traveller in one seat."""

    seat_number = HiddenField()
    name = StringField("Full name", [DataRequired("Enter the passenger's name."), Length(max=120)])
    age = IntegerField(
        "Age",
        [InputRequired("Enter an age."), NumberRange(0, 120, "Enter an age from 0 to 120.")],
    )
    gender = SelectField(
        "Gender",
        choices={"": "Choose…", "female": "Female", "male": "Male", "other": "Other"},
        validators=[DataRequired("Choose a gender.")],
    )


class CheckoutForm(FlaskForm):
    """Everything the customer fills in before paying."""

    passengers = FieldList(FormField(PassengerForm))
    contact_name = StringField(
        "Contact name", [DataRequired("Enter a contact name."), Length(max=160)]
    )
    contact_phone = TelField(
        "Mobile phone", [DataRequired("Enter a phone number."), Length(max=20)]
    )
    contact_email = EmailField("Email for the ticket", [Optional(), Length(max=254)])
    promo_code = StringField("Promo code", [Optional(), Length(max=20)])
    use_wallet = BooleanField("Use my wallet")
    method = RadioField(
        "Pay the rest with",
        choices={m.value: METHOD_LABELS[m.value] for m in GATEWAY_METHODS},
        validators=[Optional()],
        validate_choice=False,
    )
    idempotency_key = HiddenField(validators=[Optional(), Length(max=64)])
    action = StringField()  # the button pressed: "pay", or "apply" for the promo code

    @property
    def paying(self) -> bool:
        """True when the customer pressed Pay (not Apply, nor a wallet toggle)."""
        return self.action.data == "pay"

    def details(self) -> CheckoutDetails:
        """The form's data as the payment service takes it."""
        return details_of(self)


class HoldActionForm(FlaskForm):
    """Giving the seats back, or taking a lapsed hold back: a button and its CSRF token."""
