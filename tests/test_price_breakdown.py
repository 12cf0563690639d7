"""One price breakdown everywhere: the same lower berth shows the same fare and the same lines
(base fare, seat extra, GST, total) on the seat map, at checkout, on the booking page, on the
ticket PDF and at the desk, all from pricing's one breakdown."""

from __future__ import annotations

import html
import re
import uuid
from decimal import Decimal

import pypdfium2
import pytest

from booking.extensions import db
from booking.models import Booking
from booking.models.enums import BusType, Role
from booking.orm import utcnow
from booking.services import holds, pricing
from tests.conftest import AuthActions
from tests.money_support import pay_wallet
from tests.support import PASSWORD, make_trip, make_user

# A sleeper at Rs 830 a berth; lower berths cost Rs 100 more; 12% GST on sleepers.
BERTH_LINE = "Berth L1 (Rs 830.00 + Rs 100.00 lower berth)"


def words(page: str) -> str:
    """A page's text as a person reads it: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def fare_line(page: str, seat: str) -> str:
    """The words of one seat's line of the price breakdown on a page."""
    match = re.search(
        rf'<div class="fare-line[^"]*" data-fare-seat="{seat}">(.*?)</div>', page, re.S
    )
    assert match, f"no fare line for {seat}"
    return words(match.group(1))


def breakdown_text(page: str) -> str:
    """The words of the price breakdown of a page."""
    match = re.search(r'<dl class="price-lines price-breakdown">(.*?)</dl>', page, re.S)
    assert match, "no price breakdown"
    return words(match.group(1))


@pytest.fixture
def sleeper(app):
    """A sleeper trip two days ahead of the real clock: its id."""
    with app.app_context():
        return make_trip(
            now=utcnow(), layout="sleeper_2x1", bus_type=BusType.SLEEPER, base_price="830.00"
        ).id


def signed_in(app, role: Role, wallet: str = "0"):
    """A fresh test client signed in as a new account of ``role``; (client, user id)."""
    client = app.test_client()
    with app.app_context():
        user = make_user(role, now=utcnow(), wallet=wallet)
        user_id, email = user.id, user.email
    assert AuthActions(client).login(email, PASSWORD).status_code == 302
    return client, user_id


EXPECTED = [
    f"{BERTH_LINE} Rs 930.00",
    "Berth U1 Rs 830.00",
    "Base fares (2 seats \N{MULTIPLICATION SIGN} Rs 830.00) Rs 1,660.00",
    "Seat extras Rs 100.00",
    "GST 12% Rs 211.20",
]


def test_the_same_berth_has_the_same_fare_and_breakdown_on_every_page_and_the_ticket(app, sleeper):
    """Map, checkout, booking page, ticket PDF, desk booking: Rs 930.00 = 830 + 100 lower
    berth, and the same base fares, extras, GST and total."""
    customer, customer_id = signed_in(app, Role.CUSTOMER, wallet="5000")
    seat_map = customer.get(f"/schedules/{sleeper}").text
    assert re.search(r'aria-label="Berth L1, [^"]*Rs 930\.00"', seat_map)
    assert re.search(r'aria-label="Berth U1, [^"]*Rs 830\.00"', seat_map)

    held = customer.post(f"/schedules/{sleeper}/holds", data={"seats": ["L1", "U1"]})
    checkout = customer.get(held.headers["Location"]).text
    assert fare_line(checkout, "L1") == f"{BERTH_LINE} Rs 930.00"
    shown = breakdown_text(checkout)
    for expected in [*EXPECTED, "Total Rs 1,971.20"]:
        assert expected in shown, expected

    hold_id = uuid.UUID(held.headers["Location"].rsplit("/", 1)[1])
    with app.app_context():
        booking = db.session.get(Booking, pay_wallet(customer_id, hold_id, ["L1", "U1"], utcnow()))
        reference = booking.reference
        assert pricing.booking_breakdown(booking).total == Decimal("1971.20")

    page = customer.get(f"/bookings/{reference}").text
    assert fare_line(page, "L1") == f"{BERTH_LINE} Rs 930.00"
    shown = breakdown_text(page)
    for expected in [*EXPECTED, "Total paid Rs 1,971.20"]:
        assert expected in shown, expected

    pdf = pypdfium2.PdfDocument(customer.get(f"/bookings/{reference}/ticket.pdf").data)
    ticket = " ".join(pdf[0].get_textpage().get_text_range().split())
    pdf.close()
    assert "L1 " in ticket and "Rs 930.00 Booked" in ticket  # the passengers' fare column
    for expected in [*EXPECTED, "Total paid Rs 1,971.20"]:
        assert expected in ticket, expected

    clerk, _ = signed_in(app, Role.STAFF)
    desk = clerk.get(f"/desk/bookings/{reference}").text
    assert fare_line(desk, "L1") == f"{BERTH_LINE} Rs 930.00"
    for expected in [*EXPECTED, "Total Rs 1,971.20"]:
        assert expected in breakdown_text(desk), expected


def test_the_desk_sale_shows_the_breakdown_of_the_one_pricing_function(app, sleeper):
    """A walk-in's desk hold is priced with the same lines before it is sold."""
    clerk, clerk_id = signed_in(app, Role.STAFF)
    with app.app_context():
        hold = holds.hold_seats(
            customer_id=None,
            schedule_id=sleeper,
            seat_numbers=["L1", "U1"],
            now=utcnow(),
            sold_by_id=clerk_id,
        ).id
    page = clerk.get(f"/desk/holds/{hold}").text
    assert fare_line(page, "L1") == f"{BERTH_LINE} Rs 930.00"
    for expected in [*EXPECTED, "Total Rs 1,971.20"]:
        assert expected in breakdown_text(page), expected
