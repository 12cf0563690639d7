"""What a customer sees: the refund preview asked once, the seat map's total from the server,
the navigation and the seat map on a phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from booking.extensions import db
from booking.models import Booking
from booking.models.enums import Role
from booking.orm import utcnow
from booking.services import holds
from tests.browser.steps import PHONE, customer, follow_nav, seat, sign_in, trip_on_sale
from tests.money_support import pay_wallet
from tests.support import make_user

pytestmark = pytest.mark.browser


def booked(app, seats: list[str]) -> tuple[str, str]:
    """A customer's wallet-paid booking of these seats on a new trip; their email and its
    reference."""
    trip = trip_on_sale(app)
    customer_id, email = customer(app, wallet="5000")
    with app.app_context():
        hold_id = holds.hold_seats(
            customer_id=customer_id, schedule_id=trip.id, seat_numbers=seats, now=utcnow()
        ).id
        booking_id = pay_wallet(customer_id, hold_id, seats, now=utcnow())
        return email, db.session.get(Booking, booking_id).reference


def test_each_tick_asks_for_the_refund_once_and_no_second_button_repeats_it(app, page):
    """Ticking a seat asks for its refund once; the no-script "See the refund" button is hidden,
    so the same refund is never asked twice."""
    email, reference = booked(app, ["5A", "5B"])
    sign_in(page, email)
    page.goto(f"/bookings/{reference}")
    asked = []
    page.on("request", lambda r: asked.append(r.url) if "/cancel" in r.url else None)
    cancel = page.get_by_role("region", name="Cancel seats")
    expect(cancel.get_by_role("button", name="See the refund")).to_be_hidden()
    cancel.get_by_role("checkbox", name="5B").check()
    expect(cancel.get_by_text("Rs 525.00 back (100%)")).to_be_visible()
    cancel.get_by_role("checkbox", name="5A").check()
    expect(cancel.get_by_text("Rs 1,050.00 back (100%)")).to_be_visible()
    assert [url.rsplit("/", 1)[1] for url in asked] == [
        "cancel?seats=5B",
        "cancel?seats=5A&seats=5B",
    ]


def test_without_javascript_see_the_refund_shows_it(app, new_context):
    """Without script the button is there and shows the refund on the cancel page."""
    email, reference = booked(app, ["5A"])
    page = new_context(javascript=False).new_page()
    sign_in(page, email)
    page.goto(f"/bookings/{reference}")
    cancel = page.get_by_role("region", name="Cancel seats")
    cancel.get_by_role("checkbox", name="5A").check()
    cancel.get_by_role("button", name="See the refund").click()
    expect(page.get_by_text("Rs 525.00 back (100%)")).to_be_visible()


def test_the_running_total_is_asked_of_the_server_on_each_tick(app, page):
    """Each tick asks .../price; the total shown is the server's (premium 1A: 550 + 500)."""
    trip = trip_on_sale(app)
    asked = []
    page.on("request", lambda r: asked.append(r.url) if "/price" in r.url else None)
    page.goto(trip.seat_map)
    seat(page, "1A").check()
    expect(page.get_by_text("Rs 550.00 before GST")).to_be_visible()
    seat(page, "5B").check()
    expect(page.get_by_text("Rs 1,050.00 before GST")).to_be_visible()
    expect(page.get_by_text("2 of 6 seats chosen")).to_be_visible()
    assert [url.rsplit("/", 1)[1] for url in asked] == [
        "price?seats=1A",
        "price?seats=1A&seats=5B",
    ]


# What fits the first screen of a phone: the seat rows wholly above the sticky summary bar.
SEAT_ROWS_IN_SIGHT = """() => {
  const bar = document.querySelector('.seat-summary').getBoundingClientRect().top;
  const tops = new Set();
  for (const cell of document.querySelectorAll('.seat')) {
    const box = cell.getBoundingClientRect();
    if (box.top >= 0 && box.bottom <= bar) tops.add(Math.round(box.top));
  }
  return tops.size;
}"""


@pytest.mark.parametrize("role", [Role.CUSTOMER, Role.ADMIN], ids=["customer", "admin"])
def test_on_a_phone_the_navigation_is_one_line_with_a_menu_that_opens(app, new_context, role):
    """At 375 px the header is one line (brand and Menu); the menu opens on a tap, without
    script too, and its links work."""
    with app.app_context():
        user = make_user(role, now=utcnow())
        email = user.email
    for javascript in (True, False):
        page = new_context(width=PHONE, javascript=javascript).new_page()
        sign_in(page, email)
        page.goto("/")
        header = page.locator(".site-header").bounding_box()
        assert header["height"] < 70, header  # one line: it wrapped onto three (125 px)
        links = page.get_by_role("navigation", name="Main").get_by_role("link", name="Search")
        expect(links).to_be_hidden()
        follow_nav(page, "Search")
        expect(page.get_by_role("heading", name="Where are you going?")).to_be_visible()


@pytest.mark.parametrize("layout", ["seater_2x2_40", "sleeper_2x1"])
def test_on_a_phone_the_first_screen_of_a_seat_map_shows_several_rows(
    app, new_context, shoot, layout
):
    """At 375 x 740 several rows of seats show above the summary bar without scrolling (one
    row did), and the legend still comes with the map."""
    trip = trip_on_sale(app, layout=layout)
    _, email = customer(app)
    page = new_context(width=PHONE).new_page()
    sign_in(page, email)
    page.goto(trip.seat_map)
    rows = page.evaluate(SEAT_ROWS_IN_SIGHT)
    shoot(page, f"phone-seat-map-{layout}")
    assert rows >= (4 if layout == "seater_2x2_40" else 2), rows
    expect(page.get_by_role("list", name="What the seat colours mean")).to_be_attached()
