"""Request tests of checkout: passengers, promo codes, wallet and gateway payment through the
sandbox, the page that waits for the gateway, and lapsed, revived and dropped holds."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import select, update

from booking.database import unit_of_work
from booking.extensions import db
from booking.formatting import local_time
from booking.models import Booking, Payment, PromoCode, Reservation
from booking.models.enums import HoldStatus, PaymentStatus, PromoKind, Role
from booking.orm import utcnow
from booking.services import holds, wallet
from tests.support import PASSWORD, csrf_token, make_user, text


def checkout_form(
    seats: list[str],
    *,
    action: str = "pay",
    gender: str = "female",
    name: str = "Priya Raman",
    age: str = "30",
    use_wallet: bool = True,
    method: str | None = None,
    promo: str = "",
    key: str | None = None,
    **fields: str,
) -> dict[str, str]:
    """The checkout form as a browser posts it, one passenger per seat."""
    data = {
        "contact_name": "Priya Raman",
        "contact_phone": "+91 98765 43210",
        "contact_email": "priya@example.com",
        "promo_code": promo,
        "action": action,
        "idempotency_key": key or uuid.uuid4().hex,
    }
    for index, seat in enumerate(seats):
        data[f"passengers-{index}-seat_number"] = seat
        data[f"passengers-{index}-name"] = name
        data[f"passengers-{index}-age"] = age
        data[f"passengers-{index}-gender"] = gender
    if use_wallet:
        data["use_wallet"] = "y"
    if method:
        data["method"] = method
    data.update(fields)
    return data


def passenger_block(page: str, seat: str) -> str:
    """The fieldset of one seat's passenger on the checkout page."""
    start = page.index(f"Seat {seat}")
    return page[start : page.index("</fieldset>", start)]


@pytest.fixture
def shopper(app, auth):
    """Make a customer with ``wallet`` rupees and sign them in; returns their id."""

    def sign_in(wallet: str = "0") -> uuid.UUID:
        with app.app_context():
            user = make_user(wallet=wallet)
            user_id, email = user.id, user.email
        assert auth.login(email, PASSWORD).status_code == 302
        return user_id

    return sign_in


def hold_through_the_seat_map(client, trip_id: uuid.UUID, seats: list[str]) -> uuid.UUID:
    """Hold seats by posting the seat form; returns the hold id from the redirect."""
    response = client.post(f"/schedules/{trip_id}/holds", data={"seats": seats})
    assert response.status_code == 302, response.text
    match = re.fullmatch(r"/holds/([0-9a-f-]{36})", response.headers["Location"])
    assert match, response.headers["Location"]
    return uuid.UUID(match.group(1))


def lapse(app: Flask, hold_id: uuid.UUID) -> None:
    """Move a hold's expiry into the past (the sweep has not run)."""
    with app.app_context():
        db.session.execute(
            update(Reservation)
            .where(Reservation.id == hold_id)
            .values(
                reserved_at=utcnow() - timedelta(minutes=20),
                expires_at=utcnow() - timedelta(minutes=5),
            )
        )
        db.session.commit()


def add_promo(app: Flask, code: str = "SAVE10", percent: int = 10) -> None:
    """An active percent-off promo code valid around now."""
    with app.app_context(), unit_of_work() as session:
        now = utcnow()
        session.add(
            PromoCode(
                code=code,
                description="test",
                kind=PromoKind.PERCENT,
                percent_off=percent,
                valid_from=now - timedelta(days=1),
                valid_until=now + timedelta(days=30),
                created_at=now,
                updated_at=now,
            )
        )


def booking_of(app: Flask, hold_id: uuid.UUID) -> Booking | None:
    """The booking a hold became, if any."""
    with app.app_context():
        booking = db.session.scalar(select(Booking).where(Booking.reservation_id == hold_id))
        if booking is not None:
            db.session.expunge(booking)
        return booking


def hold_status(app: Flask, hold_id: uuid.UUID) -> tuple[HoldStatus, bool]:
    """A hold's status and whether it is live now."""
    with app.app_context():
        hold = db.session.get(Reservation, hold_id)
        return hold.status, hold.is_live_at(utcnow())


def balance(app: Flask, user_id: uuid.UUID) -> Decimal:
    """A customer's wallet balance."""
    with app.app_context():
        return wallet.balance(user_id)


def gateway_payment_id(location: str) -> uuid.UUID:
    """The payment id of a /gateway/sandbox/<id> redirect."""
    match = re.fullmatch(r"/gateway/sandbox/([0-9a-f-]{36})", location)
    assert match, location
    return uuid.UUID(match.group(1))


# ---- the checkout page ---------------------------------------------------------------------------


def test_checkout_page_and_its_htmx_fragment(client, shopper, trip_id):
    """The page has a passenger per seat, the price and the countdown; htmx gets the price."""
    shopper()
    hold_id = hold_through_the_seat_map(client, trip_id, ["1A", "3A"])
    page = client.get(f"/holds/{hold_id}")
    fragment = client.get(f"/holds/{hold_id}", headers={"HX-Request": "true"})
    assert page.status_code == fragment.status_code == 200
    body = text(page)
    assert "<html" in body and 'id="hold-countdown"' in body
    assert 'name="passengers-0-name"' in body and 'name="passengers-1-name"' in body
    assert "Ladies only: a female passenger" in passenger_block(body, "3A")
    assert "Ladies only" not in passenger_block(body, "1A")
    assert "Rs 1,102.50" in body  # 550 + 500, plus 5% GST
    assert "<html" not in fragment.text and 'id="price"' in fragment.text
    assert "HX-Request" in page.headers["Vary"] and "HX-Request" in fragment.headers["Vary"]


def test_checkout_needs_a_signed_in_customer(client, app, trip_id):
    """Anonymous visitors are sent to sign in, coming back to the checkout afterwards."""
    with app.app_context():
        owner = make_user()
        hold_id = holds.hold_seats(
            customer_id=owner.id, schedule_id=trip_id, seat_numbers=["1A"], now=utcnow()
        ).id
    response = client.get(f"/holds/{hold_id}")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next=%2Fholds%2F{hold_id}"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/holds/{id}"),
        ("post", "/holds/{id}"),
        ("post", "/holds/{id}/price"),
        ("post", "/holds/{id}/drop"),
        ("post", "/holds/{id}/revive"),
        ("get", "/holds/{id}/paying"),
    ],
)
def test_another_customers_hold_is_not_found(client, app, shopper, trip_id, method, path):
    """Someone else's hold is a 404 (not 403), and it is left as it was."""
    with app.app_context():
        owner = make_user()
        hold_id = holds.hold_seats(
            customer_id=owner.id, schedule_id=trip_id, seat_numbers=["1A"], now=utcnow()
        ).id
    shopper(wallet="5000")
    response = getattr(client, method)(path.format(id=hold_id), data=checkout_form(["1A"]))
    assert response.status_code == 404
    assert "We could not find that hold." in response.text and "Traceback" not in response.text
    assert hold_status(app, hold_id) == (HoldStatus.ACTIVE, True)


def test_an_unknown_hold_is_not_found(client, shopper):
    """A hold id that does not exist: 404."""
    shopper()
    assert client.get(f"/holds/{uuid.uuid4()}").status_code == 404


def test_missing_passenger_details_are_shown_by_the_seat_and_typed_values_kept(
    client, app, shopper, trip_id
):
    """400: each message sits in its seat's fieldset; what was typed comes back; nothing paid."""
    customer = shopper(wallet="5000")
    hold_id = hold_through_the_seat_map(client, trip_id, ["1A", "1B"])
    data = checkout_form(["1A", "1B"], contact_name="Meera Iyer")
    data["passengers-0-name"] = ""
    data["passengers-1-name"] = "Ravi Kumar"
    data["passengers-1-age"] = ""
    data["passengers-1-gender"] = ""
    response = client.post(f"/holds/{hold_id}", data=data)
    assert response.status_code == 400
    body = text(response)
    assert "Please correct the details below." in body
    assert "Enter the passenger's name." in passenger_block(body, "1A")
    second = passenger_block(body, "1B")
    assert "Enter an age." in second and "Choose a gender." in second
    assert 'value="Ravi Kumar"' in second and 'value="Meera Iyer"' in body
    assert booking_of(app, hold_id) is None and balance(app, customer) == Decimal("5000.00")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("passengers-0-age", "abc", "Not a valid integer value."),
        ("passengers-0-age", "130", "Enter an age from 0 to 120."),
        ("passengers-0-gender", "robot", "Not a valid choice."),
        ("contact_name", "", "Enter a contact name."),
        ("contact_phone", "", "Enter a phone number."),
        ("contact_phone", "12345", "Enter a contact phone number of 10 to 15 digits."),
        ("contact_email", "not-an-email", "Enter a valid email address, or leave it empty."),
    ],
)
def test_each_bad_checkout_field_gets_its_message(
    client, app, shopper, trip_id, field, value, message
):
    """A bad value is refused with a message next to it (400); the hold stays unpaid."""
    shopper(wallet="5000")
    hold_id = hold_through_the_seat_map(client, trip_id, ["1A"])
    response = client.post(f"/holds/{hold_id}", data=checkout_form(["1A"], **{field: value}))
    assert response.status_code == 400
    assert message in text(response)
    assert booking_of(app, hold_id) is None


def test_a_ladies_only_seat_with_a_male_passenger_is_refused_by_that_seat(
    client, app, shopper, trip_id
):
    """The message sits by seat 3A only; nothing is paid."""
    customer = shopper(wallet="5000")
    hold_id = hold_through_the_seat_map(client, trip_id, ["3A", "3C"])
    response = client.post(f"/holds/{hold_id}", data=checkout_form(["3A", "3C"], gender="male"))
    assert response.status_code == 400
    body = text(response)
    assert "Seat 3A is for women only" in passenger_block(body, "3A")
    assert "women only" not in passenger_block(body, "3C")
    assert booking_of(app, hold_id) is None and balance(app, customer) == Decimal("5000.00")


def test_tampered_passenger_seats_are_reported_not_lost(client, app, shopper, trip_id):
    """Passengers for seats not in the hold, and a held seat left out, are both explained."""
    shopper(wallet="5000")
    hold_id = hold_through_the_seat_map(client, trip_id, ["1A", "1B"])
    response = client.post(f"/holds/{hold_id}", data=checkout_form(["1A", "9D"]))
    assert response.status_code == 400
    body = text(response)
    assert "Seats 9D are not part of this hold." in body
    assert "Enter the name of the passenger in seat 1B." in body
    assert booking_of(app, hold_id) is None


# ---- promo codes ---------------------------------------------------------------------------------


def test_a_promo_code_is_applied_in_place_by_the_price_fragment(client, app, shopper, trip_id):
    """POST /holds/<id>/price answers the price fragment with the discount."""
    add_promo(app)
    shopper()
    hold_id = hold_through_the_seat_map(client, trip_id, ["2A", "2B"])
    response = client.post(
        f"/holds/{hold_id}/price",
        data=checkout_form(["2A", "2B"], action="apply", promo=" save10 "),
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    body = text(response)
    assert "<html" not in body and body.lstrip().startswith('<div id="price">')
    assert "Discount SAVE10" in body and "\N{MINUS SIGN}Rs 100.00" in body
    assert "Rs 945.00" in body  # (1000 - 100) + 5% GST


def test_an_invalid_promo_code_shows_its_reason_in_the_fragment(client, app, shopper, trip_id):
    """An unknown code: the reason in place and the price without a discount."""
    shopper()
    hold_id = hold_through_the_seat_map(client, trip_id, ["2A"])
    response = client.post(
        f"/holds/{hold_id}/price",
        data=checkout_form(["2A"], action="apply", promo="NOPE"),
        headers={"HX-Request": "true"},
    )
    body = text(response)
    assert "We don't know the code 'NOPE'." in body and 'id="promo-error"' in body
    assert "Discount" not in body and "Rs 525.00" in body


def test_a_promo_code_is_applied_without_javascript(client, app, shopper, trip_id):
    """action=apply re-renders the whole checkout with the discount and the form kept."""
    add_promo(app)
    shopper()
    hold_id = hold_through_the_seat_map(client, trip_id, ["2A"])
    response = client.post(
        f"/holds/{hold_id}",
        data=checkout_form(["2A"], action="apply", promo="SAVE10", name="Asha Rao"),
    )
    assert response.status_code == 200
    body = text(response)
    assert "<html" in body and "Discount SAVE10" in body and "Rs 472.50" in body
    assert 'value="Asha Rao"' in body and 'value="SAVE10"' in body
    assert booking_of(app, hold_id) is None


def test_an_invalid_promo_code_without_javascript_shows_its_reason(client, shopper, trip_id):
    """action=apply with an unknown code: 400 and the reason by the field."""
    shopper()
    hold_id = hold_through_the_seat_map(client, trip_id, ["2A"])
    response = client.post(
        f"/holds/{hold_id}", data=checkout_form(["2A"], action="apply", promo="NOPE")
    )
    assert response.status_code == 400
    assert "We don't know the code 'NOPE'." in text(response)


def test_paying_with_an_invalid_promo_code_is_refused(client, app, shopper, trip_id):
    """Pay with a code that does not apply: 400, the reason shown, nothing charged."""
    customer = shopper(wallet="5000")
    hold_id = hold_through_the_seat_map(client, trip_id, ["2A"])
    response = client.post(f"/holds/{hold_id}", data=checkout_form(["2A"], promo="NOPE"))
    assert response.status_code == 400
    assert "We don't know the code 'NOPE'." in text(response)
    assert booking_of(app, hold_id) is None and balance(app, customer) == Decimal("5000.00")


def test_a_promo_code_is_charged_when_paying(client, app, shopper, trip_id):
    """The discount shown is the discount paid."""
    add_promo(app)
    customer = shopper(wallet="5000")
    hold_id = hold_through_the_seat_map(client, trip_id, ["2A"])
    response = client.post(f"/holds/{hold_id}", data=checkout_form(["2A"], promo="SAVE10"))
    assert response.status_code == 302
    assert booking_of(app, hold_id).total_amount == Decimal("472.50")
    assert balance(app, customer) == Decimal("4527.50")


# ---- paying from the wallet ----------------------------------------------------------------------


def test_a_wallet_that_covers_everything_offers_no_gateway_and_pays_at_once(
    client, app, shopper, trip_id
):
    """No method choice on the page; Pay confirms at once and lands on the booking."""
    customer = shopper(wallet="5000")
    hold_id = hold_through_the_seat_map(client, trip_id, ["2A", "2B"])
    page = text(client.get(f"/holds/{hold_id}"))
    assert 'name="method"' not in page and "Pay Rs 1,050.00 from wallet" in page
    response = client.post(f"/holds/{hold_id}", data=checkout_form(["2A", "2B"]))
    booking = booking_of(app, hold_id)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/bookings/{booking.reference}"
    assert balance(app, customer) == Decimal("3950.00")
    shown = text(client.get(response.headers["Location"]))
    assert "Booking confirmed. Have a good trip!" in shown and booking.reference in shown


def test_pressing_pay_twice_books_once(client, app, shopper, trip_id):
    """The same form sent again leads to the same booking, debited once."""
    customer = shopper(wallet="5000")
    hold_id = hold_through_the_seat_map(client, trip_id, ["2A"])
    data = checkout_form(["2A"], key="same-key-twice")
    first = client.post(f"/holds/{hold_id}", data=data)
    second = client.post(f"/holds/{hold_id}", data=data)
    assert first.headers["Location"] == second.headers["Location"]
    assert balance(app, customer) == Decimal("4475.00")
    again = client.get(f"/holds/{hold_id}")
    assert again.status_code == 302 and again.headers["Location"] == first.headers["Location"]


# ---- paying through the gateway ------------------------------------------------------------------


def test_a_short_wallet_offers_gateway_methods(client, shopper, trip_id):
    """Rs 100 in the wallet: it is applied and the rest needs a method."""
    shopper(wallet="100")
    hold_id = hold_through_the_seat_map(client, trip_id, ["2A"])
    page = text(client.get(f"/holds/{hold_id}"))
    assert 'name="method"' in page and 'value="upi"' in page
    assert "From your wallet" in page and "Pay Rs 425.00 + Rs 100.00 wallet" in page


def test_paying_the_rest_without_choosing_a_method_is_refused(client, app, shopper, trip_id):
    """No method: 400 with the message by the choices; nothing debited."""
    customer = shopper(wallet="100")
    hold_id = hold_through_the_seat_map(client, trip_id, ["2A"])
    response = client.post(f"/holds/{hold_id}", data=checkout_form(["2A"]))
    assert response.status_code == 400
    assert "Choose how to pay." in text(response)
    assert balance(app, customer) == Decimal("100.00")


def test_gateway_payment_then_sandbox_pay_confirms_the_booking(client, app, shopper, trip_id):
    """Pay -> sandbox page -> Pay -> waiting page -> the booking."""
    customer = shopper(wallet="100")
    hold_id = hold_through_the_seat_map(client, trip_id, ["2A"])
    response = client.post(f"/holds/{hold_id}", data=checkout_form(["2A"], method="upi"))
    assert response.status_code == 302
    payment_id = gateway_payment_id(response.headers["Location"])
    assert balance(app, customer) == Decimal("0.00")  # the wallet part is taken now

    sandbox = client.get(f"/gateway/sandbox/{payment_id}")
    assert sandbox.status_code == 200
    assert "Sandbox gateway" in sandbox.text and "Pay Rs 425.00" in sandbox.text

    paid = client.post(f"/gateway/sandbox/{payment_id}", data={"decision": "pay"})
    assert paid.status_code == 302 and paid.headers["Location"] == f"/holds/{hold_id}/paying"
    waiting = client.get(paid.headers["Location"])
    booking = booking_of(app, hold_id)
    assert booking is not None and booking.total_amount == Decimal("525.00")
    assert waiting.status_code == 302
    assert waiting.headers["Location"] == f"/bookings/{booking.reference}"
    assert (
        "Payment received. Your booking is confirmed."
        in client.get(waiting.headers["Location"]).text
    )
    assert hold_status(app, hold_id)[0] == HoldStatus.CONFIRMED


def test_the_waiting_page_polls_until_the_gateway_answers(client, app, shopper, trip_id):
    """Pending: the page (full, or the status fragment for htmx); booked: HX-Redirect for htmx."""
    shopper()
    hold_id = hold_through_the_seat_map(client, trip_id, ["2A"])
    started = client.post(f"/holds/{hold_id}", data=checkout_form(["2A"], method="upi"))
    payment_id = gateway_payment_id(started.headers["Location"])

    page = client.get(f"/holds/{hold_id}/paying")
    fragment = client.get(f"/holds/{hold_id}/paying", headers={"HX-Request": "true"})
    assert page.status_code == fragment.status_code == 200
    assert "<html" in page.text and "Waiting for the payment gateway" in page.text
    assert "<html" not in fragment.text and "Waiting for the payment gateway" in fragment.text
    assert "HX-Request" in fragment.headers["Vary"]

    client.post(f"/gateway/sandbox/{payment_id}", data={"decision": "pay"})
    done = client.get(f"/holds/{hold_id}/paying", headers={"HX-Request": "true"})
    assert done.status_code == 204
    assert done.headers["HX-Redirect"] == f"/bookings/{booking_of(app, hold_id).reference}"


def test_the_waiting_page_stops_polling_once_a_late_payment_was_refunded(
    client, app, shopper, trip_id
):
    """Refunded (the payment landed after the seats were lost): the message, and nothing left
    that polls or refreshes; htmx is told to stop with 286."""
    shopper()
    hold_id = hold_through_the_seat_map(client, trip_id, ["2A"])
    started = client.post(f"/holds/{hold_id}", data=checkout_form(["2A"], method="upi"))
    payment_id = gateway_payment_id(started.headers["Location"])
    with app.app_context():  # the late-payment path's outcome, as the webhook leaves it
        db.session.get(Payment, payment_id).status = PaymentStatus.REFUNDED
        db.session.commit()

    page = client.get(f"/holds/{hold_id}/paying")
    fragment = client.get(f"/holds/{hold_id}/paying", headers={"HX-Request": "true"})
    assert page.status_code == 200 and fragment.status_code == 286
    assert "It has been refunded in full." in page.text and "hx-trigger" not in page.text
    assert 'http-equiv="refresh"' not in page.text
    assert "It has been refunded in full." in fragment.text


@pytest.mark.parametrize("decision", ["decline", "abandon"])
def test_a_declined_payment_returns_to_checkout_with_the_hold_running(
    client, app, shopper, trip_id, decision
):
    """Decline or abandon: back at checkout with the message; the wallet part is given back."""
    customer = shopper(wallet="100")
    hold_id = hold_through_the_seat_map(client, trip_id, ["2A"])
    started = client.post(f"/holds/{hold_id}", data=checkout_form(["2A"], method="card"))
    assert started.status_code == 400  # "card" is not a method: the form says so
    started = client.post(f"/holds/{hold_id}", data=checkout_form(["2A"], method="credit_card"))
    payment_id = gateway_payment_id(started.headers["Location"])

    answered = client.post(f"/gateway/sandbox/{payment_id}", data={"decision": decision})
    back = client.get(answered.headers["Location"])
    assert back.status_code == 302 and back.headers["Location"] == f"/holds/{hold_id}"
    page = text(client.get(back.headers["Location"]))
    word = "declined" if decision == "decline" else "abandoned"
    assert f"Your payment was {word}; your seats are still held. Try again." in page
    assert hold_status(app, hold_id) == (HoldStatus.ACTIVE, True)
    assert booking_of(app, hold_id) is None
    assert balance(app, customer) == Decimal("100.00")

    retried = client.post(f"/holds/{hold_id}", data=checkout_form(["2A"], method="upi"))
    assert retried.status_code == 302
    assert gateway_payment_id(retried.headers["Location"]) != payment_id


def test_sandbox_refuses_an_unknown_decision_and_other_peoples_payments(
    client, app, auth, shopper, trip_id
):
    """A missing decision is a 400 page; another customer's payment is a 404."""
    shopper()
    hold_id = hold_through_the_seat_map(client, trip_id, ["2A"])
    started = client.post(f"/holds/{hold_id}", data=checkout_form(["2A"], method="upi"))
    payment_id = gateway_payment_id(started.headers["Location"])
    refused = client.post(f"/gateway/sandbox/{payment_id}", data={"decision": "steal"})
    assert refused.status_code == 400 and "Choose Pay, Decline or Abandon." in refused.text
    assert client.get(f"/gateway/sandbox/{uuid.uuid4()}").status_code == 404

    auth.logout()
    shopper()
    assert client.get(f"/gateway/sandbox/{payment_id}").status_code == 404
    assert (
        client.post(f"/gateway/sandbox/{payment_id}", data={"decision": "pay"}).status_code == 404
    )
    with app.app_context():
        assert db.session.get(Payment, payment_id).status == PaymentStatus.PENDING


def test_a_finished_sandbox_payment_only_shows_its_status(client, app, shopper, trip_id):
    """Once paid, the sandbox page says so and offers no buttons; posting again changes nothing."""
    shopper()
    hold_id = hold_through_the_seat_map(client, trip_id, ["2A"])
    started = client.post(f"/holds/{hold_id}", data=checkout_form(["2A"], method="upi"))
    payment_id = gateway_payment_id(started.headers["Location"])
    client.post(f"/gateway/sandbox/{payment_id}", data={"decision": "pay"})
    again = client.post(f"/gateway/sandbox/{payment_id}", data={"decision": "decline"})
    assert again.status_code == 200
    assert "This payment is completed." in again.text and 'value="pay"' not in again.text
    assert hold_status(app, hold_id)[0] == HoldStatus.CONFIRMED


# ---- lapsed, revived and dropped holds -----------------------------------------------------------


def test_a_lapsed_hold_shows_the_revive_button(client, app, shopper, trip_id):
    """Past its expiry the checkout shows the lapsed panel with "Hold my seats again"."""
    shopper(wallet="5000")
    hold_id = hold_through_the_seat_map(client, trip_id, ["2A"])
    lapse(app, hold_id)
    page = text(client.get(f"/holds/{hold_id}"))
    assert "Your hold has lapsed" in page and "Hold my seats again" in page
    assert "operator" not in page and "You released" not in page
    assert f'action="/holds/{hold_id}/revive"' in page and 'name="passengers-0-name"' not in page


def ended_at(app: Flask, hold_id: uuid.UUID) -> str:
    """When a hold ended, as the checkout shows it (the operator's local time)."""
    with app.app_context():
        return local_time(db.session.get(Reservation, hold_id).ended_at, "%H:%M on %a %d %b")


def test_a_hold_released_by_the_operator_says_so_and_when(client, app, shopper, trip_id):
    """An admin released the hold: the checkout says so with the local time, not "lapsed"."""
    shopper(wallet="5000")
    hold_id = hold_through_the_seat_map(client, trip_id, ["2A"])
    with app.app_context():
        admin = make_user(Role.ADMIN)
        holds.admin_release(hold_id, admin_id=admin.id, reason="fraud check", now=utcnow())
    page = text(client.get(f"/holds/{hold_id}"))
    assert "The operator released your hold" in page
    assert f"released by the operator at {ended_at(app, hold_id)}" in page
    assert "Your hold has lapsed" not in page and "Hold my seats again" not in page
    assert "fraud check" not in page  # the reason is for the audit log, not the customer


def test_a_dropped_hold_says_the_customer_released_it(client, app, shopper, trip_id):
    """The customer's own drop keeps its wording: "You released these seats", and when."""
    shopper()
    hold_id = hold_through_the_seat_map(client, trip_id, ["2A"])
    client.post(f"/holds/{hold_id}/drop")
    page = text(client.get(f"/holds/{hold_id}"))
    assert "You released these seats" in page
    assert f"You gave back 2A at {ended_at(app, hold_id)}" in page
    assert "Your hold has lapsed" not in page and "operator" not in page


def test_paying_a_lapsed_hold_is_refused_with_a_409(client, app, shopper, trip_id):
    """Pay after the expiry: 409 with the message and the revive button; nothing charged."""
    customer = shopper(wallet="5000")
    hold_id = hold_through_the_seat_map(client, trip_id, ["2A"])
    lapse(app, hold_id)
    response = client.post(f"/holds/{hold_id}", data=checkout_form(["2A"]))
    assert response.status_code == 409
    page = text(response)
    assert "Your hold ran out before payment." in page and "Hold my seats again" in page
    assert booking_of(app, hold_id) is None and balance(app, customer) == Decimal("5000.00")


def test_reviving_a_lapsed_hold_with_free_seats_holds_them_again(client, app, shopper, trip_id):
    """Revive: back to checkout with a message and a live hold."""
    shopper()
    hold_id = hold_through_the_seat_map(client, trip_id, ["2A"])
    lapse(app, hold_id)
    response = client.post(f"/holds/{hold_id}/revive")
    assert response.status_code == 302 and response.headers["Location"] == f"/holds/{hold_id}"
    page = text(client.get(response.headers["Location"]))
    assert "Your seats are held again." in page and 'name="passengers-0-name"' in page
    assert hold_status(app, hold_id) == (HoldStatus.ACTIVE, True)


def test_reviving_when_a_seat_was_taken_explains_and_shows_the_seat_map(
    client, app, shopper, trip_id
):
    """Someone took 2A after the hold lapsed: the seat map with the seat named."""
    shopper()
    hold_id = hold_through_the_seat_map(client, trip_id, ["2A", "2B"])
    lapse(app, hold_id)
    with app.app_context():
        rival = make_user()
        holds.hold_seats(
            customer_id=rival.id, schedule_id=trip_id, seat_numbers=["2A"], now=utcnow()
        )
    response = client.post(f"/holds/{hold_id}/revive")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/schedules/{trip_id}"
    page = text(client.get(response.headers["Location"]))
    assert "Seat 2A is no longer available." in page
    assert hold_status(app, hold_id)[1] is False


def test_dropping_a_hold_frees_its_seats(client, app, shopper, trip_id):
    """Drop: the seat map with a message, the seats available again."""
    shopper()
    hold_id = hold_through_the_seat_map(client, trip_id, ["2A", "2B"])
    response = client.post(f"/holds/{hold_id}/drop")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/schedules/{trip_id}"
    page = text(client.get(response.headers["Location"]))
    assert "Your seats were released." in page
    assert 'data-seat="2A" data-state="available"' in page
    assert hold_status(app, hold_id)[0] == HoldStatus.CANCELLED
    revived = client.post(f"/holds/{hold_id}/revive")
    assert revived.headers["Location"] == f"/schedules/{trip_id}"
    assert "You dropped this hold. Choose your seats again." in text(
        client.get(revived.headers["Location"])
    )


def test_dropping_a_paid_hold_is_refused(client, app, shopper, trip_id):
    """A hold that became a booking cannot be dropped: it is cancelled as a booking instead."""
    shopper(wallet="5000")
    hold_id = hold_through_the_seat_map(client, trip_id, ["2A"])
    client.post(f"/holds/{hold_id}", data=checkout_form(["2A"]))
    response = client.post(f"/holds/{hold_id}/drop")
    assert response.status_code == 409
    assert "This hold has already been paid for; cancel the booking instead." in text(response)
    assert hold_status(app, hold_id)[0] == HoldStatus.CONFIRMED


def test_the_waiting_page_without_a_gateway_payment_goes_back_to_checkout(client, shopper, trip_id):
    """Nothing was sent to the gateway: there is nothing to wait for, so no endless spinner."""
    shopper()
    hold_id = hold_through_the_seat_map(client, trip_id, ["2A"])
    response = client.get(f"/holds/{hold_id}/paying")
    assert response.status_code == 302 and response.headers["Location"] == f"/holds/{hold_id}"
    htmx = client.get(f"/holds/{hold_id}/paying", headers={"HX-Request": "true"})
    assert htmx.status_code == 204 and htmx.headers["HX-Redirect"] == f"/holds/{hold_id}"


# ---- CSRF ----------------------------------------------------------------------------------------


def test_with_csrf_on_holding_and_paying_need_the_tokens_their_pages_render(make_app, app, trip_id):
    """Without a token the hold and the payment are refused; with the pages' tokens they pass."""
    client = make_app(WTF_CSRF_ENABLED=True).test_client()
    with app.app_context():
        email = make_user(wallet="5000", now=utcnow()).email
    login_token = csrf_token(client.get("/login").text)
    client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": login_token})

    refused = client.post(f"/schedules/{trip_id}/holds", data={"seats": ["2A"]})
    assert refused.status_code == 400 and "This form has expired" in refused.text
    seat_token = csrf_token(client.get(f"/schedules/{trip_id}").text)
    held = client.post(
        f"/schedules/{trip_id}/holds", data={"seats": ["2A"], "csrf_token": seat_token}
    )
    assert held.status_code == 302
    hold_id = held.headers["Location"].rsplit("/", 1)[1]

    assert client.post(f"/holds/{hold_id}", data=checkout_form(["2A"])).status_code == 400
    assert booking_of(app, uuid.UUID(hold_id)) is None
    pay_token = csrf_token(client.get(f"/holds/{hold_id}").text)
    paid = client.post(f"/holds/{hold_id}", data=checkout_form(["2A"], csrf_token=pay_token))
    assert paid.status_code == 302 and paid.headers["Location"].startswith("/bookings/")


@pytest.mark.parametrize("data", [{}, {"decision": ""}], ids=["missing", "empty"])
def test_sandbox_without_a_decision_shows_its_page_again(client, app, shopper, trip_id, data):
    """No button value: the sandbox page again (400) with the message and its three buttons;
    the payment is still pending."""
    shopper()
    hold_id = hold_through_the_seat_map(client, trip_id, ["2A"])
    started = client.post(f"/holds/{hold_id}", data=checkout_form(["2A"], method="upi"))
    payment_id = gateway_payment_id(started.headers["Location"])
    refused = client.post(f"/gateway/sandbox/{payment_id}", data=data)
    assert refused.status_code == 400 and "Choose Pay, Decline or Abandon." in refused.text
    assert refused.text.count('name="decision"') == 3
    with app.app_context():
        assert db.session.get(Payment, payment_id).status == PaymentStatus.PENDING


def test_with_csrf_on_releasing_the_seats_takes_the_checkout_pages_token(make_app, app, trip_id):
    """CSRF on: "Release these seats" posts the token its own form renders."""
    client = make_app(WTF_CSRF_ENABLED=True).test_client()
    with app.app_context():
        email = make_user(now=utcnow()).email
    login = csrf_token(client.get("/login").text)
    client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": login})
    seat_token = csrf_token(client.get(f"/schedules/{trip_id}").text)
    held = client.post(
        f"/schedules/{trip_id}/holds", data={"seats": ["2A"], "csrf_token": seat_token}
    )
    hold_id = held.headers["Location"].rsplit("/", 1)[1]
    page = client.get(f"/holds/{hold_id}").text
    drop_form = page.split('id="release-form"')[1].split("</form>")[0]
    token = csrf_token(drop_form)
    assert client.post(f"/holds/{hold_id}/drop").status_code == 400
    dropped = client.post(f"/holds/{hold_id}/drop", data={"csrf_token": token})
    assert dropped.status_code == 302 and dropped.headers["Location"] == f"/schedules/{trip_id}"


# ---- tampered and hostile input ------------------------------------------------------------------


def test_an_overlong_idempotency_key_is_refused_with_a_fresh_one_not_a_crash(
    client, app, shopper, trip_id
):
    """A key longer than the column (64) is a form error (400) and a fresh key is given."""
    customer = shopper(wallet="5000")
    hold_id = hold_through_the_seat_map(client, trip_id, ["1A"])
    response = client.post(f"/holds/{hold_id}", data=checkout_form(["1A"], key="k" * 65))
    assert response.status_code == 400
    assert "Press Pay again." in text(response)
    assert "k" * 65 not in response.text
    assert booking_of(app, hold_id) is None and balance(app, customer) == Decimal("5000.00")
    again = client.post(f"/holds/{hold_id}", data=checkout_form(["1A"], key="k" * 64))
    assert again.status_code == 302
    assert booking_of(app, hold_id) is not None


def test_the_payment_service_drops_an_overlong_idempotency_key(client, app, shopper, trip_id):
    """Called directly with a 65-character key, the service pays without storing the key."""
    from booking.services import payments
    from booking.services.details import CheckoutDetails, Passenger

    customer = shopper(wallet="5000")
    hold_id = hold_through_the_seat_map(client, trip_id, ["1A"])
    with app.test_request_context():
        paid = payments.pay(
            hold_id=hold_id,
            customer_id=customer,
            details=CheckoutDetails(
                passengers=(Passenger("1A", "Priya Raman", 30, "female"),),
                contact_name="Priya Raman",
                contact_phone="9876543210",
            ),
            use_wallet=True,
            method=None,
            now=utcnow(),
            return_url="/",
            idempotency_key="k" * 65,
        )
        assert paid.booking is not None
        keys = db.session.scalars(select(Payment.idempotency_key)).all()
        assert keys and all(key is None for key in keys)


def test_a_passenger_without_a_seat_number_is_a_field_error_not_a_crash(
    client, app, shopper, trip_id
):
    """The hidden seat number left out of the post: 400 with messages, nothing paid."""
    customer = shopper(wallet="5000")
    hold_id = hold_through_the_seat_map(client, trip_id, ["1A"])
    data = checkout_form(["1A"])
    del data["passengers-0-seat_number"]
    response = client.post(f"/holds/{hold_id}", data=data)
    assert response.status_code == 400
    body = text(response)
    assert "A passenger came without a seat." in body
    assert "Enter the name of the passenger in seat 1A." in body
    assert booking_of(app, hold_id) is None and balance(app, customer) == Decimal("5000.00")


def test_busy_at_checkout_answers_503_not_400(client, app, shopper, trip_id, monkeypatch):
    """A DomainError keeps its own status on the checkout page (Busy is 503)."""
    from booking.errors import Busy
    from booking.web.checkout import routes as checkout_routes

    def busy(**_kw):
        raise Busy("Those seats are being booked by someone else right now.")

    shopper(wallet="5000")
    hold_id = hold_through_the_seat_map(client, trip_id, ["1A"])
    monkeypatch.setattr(checkout_routes.payments, "pay", busy)
    response = client.post(f"/holds/{hold_id}", data=checkout_form(["1A"]))
    assert response.status_code == 503
    assert "being booked by someone else" in text(response)
