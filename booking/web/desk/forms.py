"""The desk's forms: departures search, seat choice by typing, the walk-in's details and the
payment, look-up, cancellation, the scan at the bus door and the small action buttons."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    EmailField,
    FieldList,
    FormField,
    RadioField,
    SelectMultipleField,
    StringField,
    TelField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from booking.models.enums import PaymentMethod, RefundMode
from booking.services.details import CheckoutDetails
from booking.web.checkout.forms import PassengerForm, details_of
from booking.web.forms import amount, on_the_calendar, strip

DESK_METHODS = {
    PaymentMethod.CASH.value: "Cash",
    PaymentMethod.DEBIT_CARD.value: "Card at the terminal",
    PaymentMethod.UPI.value: "UPI at the terminal",
    "complimentary": "Complimentary (admins)",
}


class DeparturesForm(FlaskForm):
    """The departures board: a day and a type-ahead (a GET form: no CSRF)."""

    class Meta:
        csrf = False

    day = DateField("Day", [Optional(), on_the_calendar])
    q = StringField("Find a trip", [Optional(), Length(max=80)], filters=[strip])


class SeatPickForm(FlaskForm):
    """Seats typed ("L2 L3", "3A,3B") or ticked on the seat map."""

    typed = StringField("Seat numbers", [Optional(), Length(max=120)], filters=[strip])
    seats = SelectMultipleField("Seats", validate_choice=False)


class DeskSaleForm(FlaskForm):
    """The walk-in's details and the payment, in the order a clerk types them."""

    contact_name = StringField(
        "Contact name", [DataRequired("Enter a contact name."), Length(max=160)], filters=[strip]
    )
    contact_phone = TelField(
        "Phone", [DataRequired("Enter a phone number."), Length(max=20)], filters=[strip]
    )
    same_contact = BooleanField("Passenger 1 is the contact", default=True)
    passengers = FieldList(FormField(PassengerForm))
    contact_email = EmailField(
        "Email for the ticket (optional)", [Optional(), Length(max=254)], filters=[strip]
    )
    promo_code = StringField("Promo code", [Optional(), Length(max=20)], filters=[strip])
    method = RadioField("Payment", choices=DESK_METHODS, default=PaymentMethod.CASH.value)
    tendered = DecimalField(
        "Cash tendered",
        [Optional(), amount(), NumberRange(min=0, message="Enter the cash handed over.")],
        places=2,
    )
    terminal_reference = StringField(
        "Terminal reference", [Optional(), Length(max=60)], filters=[strip]
    )
    reason = StringField("Reason (complimentary)", [Optional(), Length(max=200)], filters=[strip])
    action = StringField()  # "sell", or "apply" for the promo code

    @property
    def selling(self) -> bool:
        """True when the clerk pressed Sell (not Apply)."""
        return self.action.data != "apply"

    def fill_passenger_one(self) -> None:
        """Passenger 1 is the contact unless the clerk said otherwise."""
        if self.same_contact.data and self.passengers.entries:
            first = self.passengers.entries[0].form
            if not (first.name.data or "").strip():
                first.name.data = self.contact_name.data

    def details(self) -> CheckoutDetails:
        """The form's data as the payment service takes it."""
        return details_of(self)


class LookupForm(FlaskForm):
    """One field: a reference, a phone number or a name (a GET form: no CSRF)."""

    class Meta:
        csrf = False

    q = StringField("Find a booking", [Optional(), Length(max=80)], filters=[strip])


class DeskCancelForm(FlaskForm):
    """Seats to cancel, why, and where the refund goes."""

    seats = SelectMultipleField("Seats to cancel", validate_choice=False)
    reason = TextAreaField("Reason", [Optional(), Length(max=500)], filters=[strip])
    refund_mode = RadioField(
        "Refund to",
        choices={
            RefundMode.ORIGINAL.value: "Original method (cash from the drawer for a cash sale)",
            RefundMode.WALLET.value: "The customer's wallet",
        },
        default=RefundMode.ORIGINAL.value,
    )


class ActionForm(FlaskForm):
    """A button and its CSRF token (resend the ticket, drop a desk hold)."""


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
