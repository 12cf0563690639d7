"""The counter desk by keyboard alone: from the departures list to the printed receipt, two
seats sold for cash to a walk-in, every key counted (the issue's aim: under 40)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from booking.extensions import db
from booking.models import Booking, User
from booking.models.enums import Role
from booking.orm import utcnow
from booking.services import shifts
from tests.browser.steps import sign_in, trip_on_sale
from tests.support import make_user

pytestmark = pytest.mark.browser

KEYSTROKE_AIM = 40


class CountingKeyboard:
    """The page's keyboard, counting every key a person presses (a typed character is one)."""

    def __init__(self, keyboard):
        self.keyboard = keyboard
        self.count = 0

    def press(self, key: str) -> None:
        self.count += 1
        self.keyboard.press(key)

    def type(self, text: str) -> None:
        self.count += len(text)
        self.keyboard.type(text)


def test_two_seats_sold_for_cash_by_keyboard_alone(app, page, shoot):
    trip = trip_on_sale(app, origin="Hubballi", destination="Belagavi")
    with app.app_context():
        clerk = make_user(Role.STAFF, now=utcnow(), first_name="Counter")
        db.session.get(User, clerk.id).home_station = "Hubballi"
        db.session.commit()
        shifts.open_shift(clerk.id, Decimal("1000.00"), utcnow())
        email = clerk.email
    sign_in(page, email)
    page.goto(f"/desk?day={trip.day}")  # the departures list: where the count starts
    keys = CountingKeyboard(page.keyboard)
    expect(page.locator("#q")).to_be_focused()

    keys.press("1")  # sell on the first row (the clerk's station comes first)
    expect(page.get_by_label("Seat numbers")).to_be_focused()
    keys.type("2A 2B")
    keys.press("Enter")
    expect(page.get_by_label("Contact name")).to_be_focused()
    keys.type("Ravi")
    keys.press("Tab")
    keys.type("9876543210")
    keys.press("Tab")  # passenger 1 is the contact: straight to their age
    keys.type("34")
    keys.press("Tab")
    keys.press("m")
    keys.press("Tab")
    keys.type("Sita")
    keys.press("Tab")
    keys.type("30")
    keys.press("Tab")
    keys.press("f")
    shoot(page, "desk-sale-filled")
    keys.press("Enter")  # sells: cash, the exact amount
    expect(page.get_by_text(re.compile(r"Sold: booking [A-Z0-9]{10}"))).to_be_visible()
    shoot(page, "desk-sold")

    with page.context.expect_page() as receipt_tab:
        keys.press("r")
    receipt_url = receipt_tab.value.url
    assert re.search(r"/desk/bookings/[A-Z0-9]{10}/receipt\.pdf$", receipt_url)
    answer = page.request.get(receipt_url)
    assert answer.ok and answer.headers["content-type"] == "application/pdf"
    assert answer.body().startswith(b"%PDF")

    with app.app_context():
        booking = db.session.query(Booking).filter_by(schedule_id=trip.id).one()
        names = sorted(
            (s.seat_number, s.passenger_name, s.passenger_gender.value) for s in booking.seats
        )
        assert names == [("2A", "Ravi", "male"), ("2B", "Sita", "female")]
        assert booking.contact_phone == "9876543210"
        assert shifts.current_report(clerk.id).cash_sales.total == booking.total_amount
    print(f"\nkeystrokes from the departures list to the receipt: {keys.count}")
    assert keys.count < KEYSTROKE_AIM
