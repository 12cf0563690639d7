"""Request tests of a customer's account: bookings with their ticket, calendar entry and
cancellation, and the wallet with its ledger and top-ups through the sandbox gateway."""

from __future__ import annotations

import html
import re
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from flask import Flask
from icalendar import Calendar
from sqlalchemy import select

from booking.extensions import db
from booking.formatting import local_time
from booking.models import Booking, Payment, Schedule, User
from booking.models.enums import BookingSeatStatus, BookingStatus, PaymentStatus, Role
from booking.orm import utcnow
from booking.services import holds, payments, wallet
from booking.services.details import CheckoutDetails, Passenger
from tests.support import PASSWORD, csrf_token, make_trip, make_user, text


def words(response) -> str:
    """The text a person reads: tags dropped, entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def book(
    app: Flask,
    customer_id: uuid.UUID,
    trip_id: uuid.UUID,
    seats: list[str],
    now: datetime | None = None,
) -> str:
    """Hold and pay seats from the customer's wallet through the services; the reference."""
    with app.app_context():
        now = now or utcnow()
        hold = holds.hold_seats(
            customer_id=customer_id, schedule_id=trip_id, seat_numbers=seats, now=now
        )
        details = CheckoutDetails(
            passengers=tuple(Passenger(n, "Priya Raman", 30, "female") for n in seats),
            contact_name="Priya Raman",
            contact_phone="9876543210",
            contact_email="priya@example.com",
        )
        booking = payments.pay_with_wallet(
            hold_id=hold.id, customer_id=customer_id, details=details, now=now
        )
        return booking.reference


def new_trip(app: Flask, departs_in: timedelta = timedelta(days=2), **options) -> uuid.UUID:
    """A 40-seat deluxe trip leaving ``departs_in`` from now (a standard seat: Rs 525.00)."""
    with app.app_context():
        return make_trip(now=utcnow(), departs_in=departs_in, **options).id


def booking_row(app: Flask, reference: str) -> Booking:
    """A booking read afresh, detached with its seats loaded."""
    with app.app_context():
        booking = db.session.scalar(select(Booking).where(Booking.reference == reference))
        _ = [seat.status for seat in booking.seats]
        db.session.expunge_all()
        return booking


def balance(app: Flask, user_id: uuid.UUID) -> Decimal:
    """A customer's wallet balance."""
    with app.app_context():
        return wallet.balance(user_id)


@pytest.fixture
def customer(app, auth) -> uuid.UUID:
    """A signed-in customer with Rs 5,000 in the wallet."""
    with app.app_context():
        user = make_user(wallet="5000", now=utcnow())
        user_id, email = user.id, user.email
    assert auth.login(email, PASSWORD).status_code == 302
    return user_id


@pytest.fixture
def reference(app, customer, trip_id) -> str:
    """The customer's booking of 2A and 2B on the trip (Rs 1,050.00 from the wallet)."""
    return book(app, customer, trip_id, ["2A", "2B"])


# ---- my bookings ---------------------------------------------------------------------------------


def test_my_bookings_lists_upcoming_and_past_trips(client, app, customer, trip_id):
    """Upcoming trips in their section, departed and cancelled ones under past; htmx: fragment."""
    upcoming = book(app, customer, trip_id, ["2A"])
    long_ago = utcnow() - timedelta(days=3)
    with app.app_context():
        old_trip = make_trip(now=long_ago, departs_in=timedelta(days=1), origin="Hampi").id
    departed = book(app, customer, old_trip, ["1A"], now=long_ago)
    page = client.get("/bookings")
    fragment = client.get("/bookings", headers={"HX-Request": "true"})
    assert page.status_code == fragment.status_code == 200
    assert "<html" in page.text and "<html" not in fragment.text
    assert "HX-Request" in page.headers["Vary"]
    body = text(page)
    upcoming_part, past_part = body.split("Past and cancelled")
    assert upcoming in upcoming_part and departed not in upcoming_part
    assert departed in past_part and "Hampi → Chennai" in past_part


def test_my_bookings_are_only_mine(client, app, customer, trip_id):
    """Another customer's booking is not listed."""
    with app.app_context():
        other = make_user(wallet="1000", now=utcnow()).id
    theirs = book(app, other, trip_id, ["5A"])
    body = text(client.get("/bookings"))
    assert theirs not in body and "No upcoming trips." in body


def test_my_bookings_needs_signing_in(client):
    """Anonymous: to the login page, coming back afterwards."""
    response = client.get("/bookings")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=%2Fbookings"


def test_booking_page_shows_trip_passengers_amounts_and_cancelling(client, reference):
    """The booking with its ticket links, passengers, what was paid and the seat chooser."""
    response = client.get(f"/bookings/{reference}")
    assert response.status_code == 200
    body = text(response)
    assert reference in body and "Priya Raman" in body and "Rs 1,050.00" in body
    assert "Paid by Wallet Rs 1,050.00" in body
    assert f'href="/bookings/{reference}/ticket.pdf"' in body
    assert f'href="/bookings/{reference}/trip.ics"' in body
    assert re.search(r'<input id="seats-\d" name="seats"[^>]*type="checkbox" value="2A">', body)
    assert "Cancel more than 24 hours before departure: 100% refund." in body


def test_the_reference_is_found_whatever_its_case(client, reference):
    """A lower-cased reference in the address finds the booking."""
    assert client.get(f"/bookings/{reference.lower()}").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/bookings/{ref}",
        "/bookings/{ref}/ticket.pdf",
        "/bookings/{ref}/trip.ics",
        "/bookings/{ref}/cancel?seats=2A",
    ],
)
def test_someone_elses_booking_is_not_found(client, app, auth, reference, path):
    """Another customer gets 404 (not 403) for the booking and everything under it."""
    auth.logout()
    with app.app_context():
        email = make_user().email
    auth.login(email, PASSWORD)
    response = client.get(path.format(ref=reference))
    assert response.status_code == 404
    assert "We could not find that booking." in response.text


def test_an_unknown_reference_is_not_found(client, customer):
    """No such booking: 404 page."""
    assert client.get("/bookings/NOSUCHREF1").status_code == 404


def test_staff_may_look_at_any_booking(client, app, auth, reference):
    """Counter staff open a customer's booking."""
    auth.logout()
    with app.app_context():
        email = make_user(Role.STAFF).email
    auth.login(email, PASSWORD)
    assert client.get(f"/bookings/{reference}").status_code == 200


def test_the_ticket_is_a_pdf_that_downloads_under_a_name_saying_the_trip(
    client, app, reference, trip_id
):
    """ticket.pdf is a PDF sent as an attachment named after the booking, route and day, and
    the booking page's link downloads it rather than opening a new tab."""
    response = client.get(f"/bookings/{reference}/ticket.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    with app.app_context():
        trip = db.session.get(Schedule, trip_id)
        route, day = trip.route, local_time(trip.departure_at, "%Y-%m-%d")
        cities = f"{route.origin_city}-{route.destination_city}".lower()
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="ticket-{reference}-{cities}-{day}.pdf"'
    )
    link = re.search(
        r'<a [^>]*href="[^"]*/ticket\.pdf"[^>]*>', client.get(f"/bookings/{reference}").text
    )
    assert " download" in link.group(0) and "target=" not in link.group(0)


def test_the_trip_is_a_calendar_event(client, app, reference, trip_id):
    """trip.ics is an iCalendar event starting at the departure (UTC)."""
    response = client.get(f"/bookings/{reference}/trip.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    body = response.get_data(as_text=True)
    with app.app_context():
        departure = db.session.get(Booking, booking_row(app, reference).id).schedule.departure_at
    assert f"DTSTART:{departure.strftime('%Y%m%dT%H%M%SZ')}" in body
    assert body.startswith("BEGIN:VCALENDAR") and "\r\nEND:VEVENT\r\n" in body
    [event] = Calendar.from_ical(body).walk("VEVENT")
    assert event.decoded("dtstart") == departure.replace(microsecond=0)  # iCalendar has seconds
    assert "attachment" in response.headers["Content-Disposition"]


# ---- cancelling ----------------------------------------------------------------------------------


def test_cancel_preview_shows_the_refund_and_the_policy(client, reference):
    """GET with the chosen seats: the refund, the rule and the policy, and a confirming form."""
    response = client.get(f"/bookings/{reference}/cancel?seats=2A")
    assert response.status_code == 200
    body = words(response)
    assert "<html" in response.text
    assert "Cancelling 2A (Rs 525.00 paid): Rs 525.00 back (100%)." in body
    assert "More than 24 hours before departure: full refund." in body
    assert "Cancel more than 24 hours before departure: 100% refund." in body
    assert "Cancel 1 seat and refund Rs 525.00" in body


def test_cancel_preview_answers_htmx_with_the_refund_fragment(client, reference):
    """The same preview as a fragment for the booking page's live refund box."""
    response = client.get(
        f"/bookings/{reference}/cancel?seats=2A&seats=2B", headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert "<html" not in response.text
    assert "Cancelling 2A, 2B (Rs 1,050.00 paid)" in words(response)
    assert "HX-Request" in response.headers["Vary"]


def test_the_refund_is_asked_once_per_change_and_the_button_is_for_pages_without_script(
    client, reference
):
    """The cancel form asks for the refund on a change only: a submit trigger as well made the
    "See the refund" button ask for the same refund again. The button is there without script."""
    page = client.get(f"/bookings/{reference}").text
    form = re.search(r'<form method="get"[^>]*class="cancel-choose"[^>]*>', page).group(0)
    trigger = re.search(r'(?:data-)?hx-trigger="([^"]*)"', form).group(1)
    assert [part.strip() for part in trigger.split(",")] == ["change"]
    button = re.search(r"<button[^>]*>See the refund</button>", page).group(0)
    assert 'type="submit"' in button and "without-script" in button


def test_cancel_preview_within_a_day_refunds_half(client, app, customer):
    """Between 2 and 24 hours before departure: 50%."""
    reference = book(app, customer, new_trip(app, timedelta(hours=10)), ["2A"])
    body = words(client.get(f"/bookings/{reference}/cancel?seats=2A"))
    assert "Rs 262.50 back (50%)" in body and "Between 2 and 24 hours: 50% refund." in body


def test_cancelling_within_two_hours_is_refused_online(client, app, customer):
    """Inside the cutoff the preview explains; posting anyway changes nothing."""
    reference = book(app, customer, new_trip(app, timedelta(minutes=90)), ["2A"])
    preview = client.get(f"/bookings/{reference}/cancel?seats=2A")
    assert "Please speak to our counter staff." in text(preview)
    response = client.post(f"/bookings/{reference}/cancel", data={"seats": ["2A"]})
    assert 400 <= response.status_code < 500
    assert "Please speak to our counter staff." in text(response)
    assert booking_row(app, reference).status == BookingStatus.CONFIRMED


def test_cancelling_chosen_seats_refunds_them_to_the_wallet(client, app, customer, reference):
    """POST 2A: redirected to the booking with the message; 2B stays booked."""
    before = balance(app, customer)
    response = client.post(
        f"/bookings/{reference}/cancel",
        data={"seats": ["2A"], "refund_mode": "wallet", "reason": "plans changed"},
    )
    assert response.status_code == 302 and response.headers["Location"] == f"/bookings/{reference}"
    body = text(client.get(response.headers["Location"]))
    assert "Cancelled 2A. Rs 525.00 refunded to your wallet." in body
    assert balance(app, customer) == before + Decimal("525.00")
    booking = booking_row(app, reference)
    states = {seat.seat_number: seat.status for seat in booking.seats}
    assert states == {"2A": BookingSeatStatus.CANCELLED, "2B": BookingSeatStatus.BOOKED}
    assert booking.status == BookingStatus.CONFIRMED


def test_cancelling_every_seat_cancels_the_booking(client, app, customer, reference):
    """All seats: the booking is cancelled and offers no more cancelling."""
    client.post(f"/bookings/{reference}/cancel", data={"seats": ["2A", "2B"]})
    assert booking_row(app, reference).status == BookingStatus.CANCELLED
    body = text(client.get(f"/bookings/{reference}"))
    assert "Cancel seats" not in body and "Cancellations" in body
    again = client.post(f"/bookings/{reference}/cancel", data={"seats": ["2A"]})
    assert again.status_code == 400


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_seat_not_in_the_booking_is_refused(client, app, customer, reference, method):
    """Seat 9D is not on this booking: 400 with the message; nothing cancelled or refunded."""
    before = balance(app, customer)
    if method == "get":
        response = client.get(f"/bookings/{reference}/cancel?seats=9D")
    else:
        response = client.post(f"/bookings/{reference}/cancel", data={"seats": ["9D"]})
    assert response.status_code == 400
    assert "9D" in text(response) and "not a valid choice" in text(response)
    assert balance(app, customer) == before
    assert all(s.status == BookingSeatStatus.BOOKED for s in booking_row(app, reference).seats)


def test_cancelling_without_choosing_a_seat_is_refused(client, app, customer, reference):
    """POST with no seats: 400 with "Choose at least one seat to cancel."."""
    response = client.post(f"/bookings/{reference}/cancel", data={})
    assert response.status_code == 400
    assert "Choose at least one seat to cancel." in text(response)


def test_the_cancel_page_without_a_choice_is_not_an_error(client, reference):
    """Opening /cancel bare shows the page and policy, not a red error."""
    response = client.get(f"/bookings/{reference}/cancel")
    assert response.status_code == 200
    assert "Cancel more than 24 hours before departure" in text(response)


def test_a_refund_to_the_original_method_says_so(client, app, customer, reference):
    """refund_mode=original: the wallet payment is still given back to the wallet it came from."""
    response = client.post(
        f"/bookings/{reference}/cancel", data={"seats": ["2B"], "refund_mode": "original"}
    )
    body = text(client.get(response.headers["Location"]))
    assert "Cancelled 2B. Rs 525.00 refunded to your original payment method." in body


# ---- CSRF ----------------------------------------------------------------------------------------


@pytest.fixture
def csrf_client(make_app, app, reference):
    """A client of an app with CSRF on, signed in (through the form, with its token) as the
    customer who owns ``reference``."""
    guarded = make_app(WTF_CSRF_ENABLED=True)
    client = guarded.test_client()
    with app.app_context():
        email = db.session.scalar(
            select(User.email)
            .join(Booking, Booking.user_id == User.id)
            .where(Booking.reference == reference)
        )
    token = csrf_token(client.get("/login").text)
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    return client


def test_csrf_refuses_a_cancel_post_without_the_token(csrf_client, app, reference):
    """Without the token: the 400 page, nothing cancelled."""
    response = csrf_client.post(f"/bookings/{reference}/cancel", data={"seats": ["2A"]})
    assert response.status_code == 400
    assert "This form has expired or did not come from this site." in text(response)
    assert booking_row(app, reference).status == BookingStatus.CONFIRMED
    assert all(s.status == BookingSeatStatus.BOOKED for s in booking_row(app, reference).seats)


def test_with_csrf_on_the_preview_works_and_its_form_token_cancels(csrf_client, app, reference):
    """The preview (a GET: no token needed) renders a form whose token lets the POST through."""
    preview = csrf_client.get(f"/bookings/{reference}/cancel?seats=2A")
    assert preview.status_code == 200
    assert "Rs 525.00 back (100%)" in words(preview)
    response = csrf_client.post(
        f"/bookings/{reference}/cancel",
        data={"seats": ["2A"], "refund_mode": "wallet", "csrf_token": csrf_token(preview.text)},
    )
    assert response.status_code == 302
    states = {s.seat_number: s.status for s in booking_row(app, reference).seats}
    assert states["2A"] == BookingSeatStatus.CANCELLED


# ---- the wallet ----------------------------------------------------------------------------------


def ledger_rows(page: str) -> list[tuple[str, str]]:
    """(kind, description) of each ledger row in page order."""
    return [
        (kind, re.sub(r"<[^>]+>", "", description).strip())
        for kind, description in re.findall(
            r'<tr class="ledger-(\w+)">\s*<td>[^<]*</td>\s*<td>(.*?)</td>', page, re.S
        )
    ]


def test_wallet_shows_the_balance_and_each_refund_right_after_its_debit(
    client, app, customer, trip_id
):
    """Newest first, but a refund sits under the debit it reverses, not at the top."""
    first = book(app, customer, trip_id, ["2A"])
    second = book(app, customer, new_trip(app), ["3C"])
    client.post(f"/bookings/{first}/cancel", data={"seats": ["2A"], "refund_mode": "wallet"})
    response = client.get("/wallet")
    assert response.status_code == 200
    body = text(response)
    assert "Rs 4,475.00" in body  # 5000 - 525 - 525 + 525
    rows = ledger_rows(body)
    assert [kind for kind, _ in rows] == ["debit", "debit", "refund", "credit"]
    assert second in rows[0][1] and first in rows[1][1]
    assert rows[2][1].startswith("↳ Refund of the payment above")


def test_wallet_needs_signing_in(client):
    """Anonymous: to the login page."""
    assert client.get("/wallet").headers["Location"] == "/login?next=%2Fwallet"


def test_a_top_up_goes_to_the_sandbox_and_raises_the_balance(client, app, customer):
    """Start -> sandbox -> Pay -> the status page sends the customer back with more money."""
    response = client.post("/wallet/topup", data={"amount": "1000", "method": "upi"})
    assert response.status_code == 302
    match = re.fullmatch(r"/gateway/sandbox/([0-9a-f-]{36})", response.headers["Location"])
    assert match
    payment_id = match.group(1)
    assert balance(app, customer) == Decimal("5000.00")

    waiting = client.get(f"/wallet/topups/{payment_id}")
    waiting_fragment = client.get(f"/wallet/topups/{payment_id}", headers={"HX-Request": "true"})
    assert waiting.status_code == waiting_fragment.status_code == 200
    assert "<html" in waiting.text and "<html" not in waiting_fragment.text
    assert "Waiting for the payment gateway to confirm Rs 1,000.00" in text(waiting_fragment)

    paid = client.post(f"/gateway/sandbox/{payment_id}", data={"decision": "pay"})
    assert paid.status_code == 302
    assert paid.headers["Location"] == f"/wallet/topups/{payment_id}"
    done = client.get(paid.headers["Location"])
    assert done.status_code == 302 and done.headers["Location"] == "/wallet"
    body = text(client.get("/wallet"))
    assert "Your wallet has been topped up." in body and "Rs 6,000.00" in body
    assert balance(app, customer) == Decimal("6000.00")


def test_a_declined_top_up_says_nothing_was_charged(client, app, customer):
    """Decline: back to the wallet with the message; the balance is unchanged."""
    started = client.post("/wallet/topup", data={"amount": "250.50", "method": "net_banking"})
    payment_id = started.headers["Location"].rsplit("/", 1)[1]
    answered = client.post(f"/gateway/sandbox/{payment_id}", data={"decision": "decline"})
    back = client.get(answered.headers["Location"], headers={"HX-Request": "true"})
    assert back.status_code == 204 and back.headers["HX-Redirect"] == "/wallet"
    assert "The top-up did not go through; nothing was charged." in text(client.get("/wallet"))
    assert balance(app, customer) == Decimal("5000.00")


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "Top up between Rs 100 and Rs 50,000."),
        ("60000", "Top up between Rs 100 and Rs 50,000."),
        ("abc", "Not a valid decimal value."),
        ("", "Enter an amount."),
        ("-100", "Top up between Rs 100 and Rs 50,000."),
        ("100.001", "Enter an amount in rupees and paise, like 250.50."),
        ("NaN", "Enter an amount in rupees and paise, like 250.50."),
        ("sNaN", "Enter an amount in rupees and paise, like 250.50."),
        ("Infinity", "Enter an amount in rupees and paise, like 250.50."),
        ("1e100", "Top up between Rs 100 and Rs 50,000."),
    ],
)
def test_a_bad_top_up_amount_re_renders_the_wallet_with_the_message(
    client, app, customer, amount, message
):
    """400, the wallet page with the message by the amount, and no payment started."""
    response = client.post("/wallet/topup", data={"amount": amount, "method": "upi"})
    assert response.status_code == 400
    body = text(response)
    assert "<html" in body and message in body and "Ledger" in body
    with app.app_context():
        assert db.session.scalar(select(Payment.id).where(Payment.purpose == "topup")) is None


def test_a_top_up_with_an_unknown_method_is_refused(client, app, customer):
    """A method that is not offered (cash): 400, the wallet page again, no payment started."""
    response = client.post("/wallet/topup", data={"amount": "500", "method": "cash"})
    assert response.status_code == 400 and "Ledger" in text(response)
    assert '<p class="error" id="method-error">' in response.text
    with app.app_context():
        assert db.session.scalar(select(Payment.id).where(Payment.purpose == "topup")) is None


def test_staff_have_no_wallet_to_top_up(client, app, auth):
    """Staff are sent home with a message."""
    with app.app_context():
        email = make_user(Role.STAFF).email
    auth.login(email, PASSWORD)
    response = client.post("/wallet/topup", data={"amount": "500", "method": "upi"})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "Only customers have a wallet to top up." in text(client.get("/"))


def test_someone_elses_top_up_is_not_found(client, app, auth, customer):
    """Another customer's top-up status page is a 404, and so is its sandbox page."""
    started = client.post("/wallet/topup", data={"amount": "500", "method": "upi"})
    payment_id = started.headers["Location"].rsplit("/", 1)[1]
    auth.logout()
    with app.app_context():
        email = make_user().email
    auth.login(email, PASSWORD)
    assert client.get(f"/wallet/topups/{payment_id}").status_code == 404
    assert client.get(f"/gateway/sandbox/{payment_id}").status_code == 404
    with app.app_context():
        assert db.session.get(Payment, uuid.UUID(payment_id)).status == PaymentStatus.PENDING
