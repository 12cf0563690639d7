"""What a person does in the browser (sign in, search, tick seats, fill passengers), and the data
the browser tests start from, built with tests/support.py."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from playwright.sync_api import Locator, Page, expect

from booking.formatting import local_time
from booking.orm import utcnow
from tests.support import PASSWORD, make_trip, make_user

PHONE, DESKTOP = 375, 1280  # viewport widths, in CSS pixels


@dataclass(frozen=True)
class Trip:
    """A trip on sale, as a customer would look for it."""

    id: uuid.UUID
    origin: str
    destination: str
    day: str  # the operator's local date of departure, yyyy-mm-dd
    departure_at: datetime

    @property
    def seat_map(self) -> str:
        """The seat map's path."""
        return f"/schedules/{self.id}"


def trip_on_sale(app, origin: str = "Mysuru", destination: str = "Chennai", **options) -> Trip:
    """A trip two days ahead (2+2 seater, Rs 500 a seat unless told otherwise)."""
    with app.app_context():
        trip = make_trip(now=utcnow(), origin=origin, destination=destination, **options)
        return Trip(
            id=trip.id,
            origin=origin,
            destination=destination,
            day=local_time(trip.departure_at, "%Y-%m-%d"),
            departure_at=trip.departure_at,
        )


def customer(
    app, wallet: Decimal | str | int = 0, first_name: str = "Asha"
) -> tuple[uuid.UUID, str]:
    """A customer account with this much in the wallet; its id and email."""
    with app.app_context():
        user = make_user(
            email=f"{first_name.lower()}-{uuid.uuid4().hex[:6]}@example.com",
            wallet=wallet,
            now=utcnow() - timedelta(days=1),
            first_name=first_name,
        )
        return user.id, user.email


def sign_in(page: Page, email: str, *, from_page: bool = False) -> None:
    """Sign in through the form (the one on screen when ``from_page``, else /login)."""
    if not from_page:
        page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    # On a phone the Sign out button is in the folded menu: there, not necessarily in sight.
    expect(page.get_by_role("button", name="Sign out", include_hidden=True)).to_be_attached()


def follow_nav(page: Page, name: str) -> None:
    """Follow a link of the main navigation, opening the phone's folded menu first."""
    menu = page.get_by_text("Menu", exact=True)
    if menu.is_visible() and not page.locator("details.site-menu[open]").count():
        menu.click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()


def search(page: Page, trip: Trip) -> None:
    """Type the cities, pick the date and ask for buses."""
    page.get_by_label("From").fill(trip.origin)
    page.get_by_label("To", exact=True).fill(trip.destination)
    page.get_by_label("Date").fill(trip.day)
    page.get_by_role("button", name="Find buses").click()
    expect(
        page.get_by_role("heading", name=re.compile(f"{trip.origin} → {trip.destination}, "))
    ).to_be_visible()


def seat(page: Page, number: str) -> Locator:
    """A seat's checkbox, found by its accessible name ('Seat 5A, window, available, ...')."""
    return page.get_by_role("checkbox", name=re.compile(rf"^(Seat|Berth) {re.escape(number)},"))


def fill_passenger(page: Page, number: str, name: str, age: int, gender: str) -> None:
    """The traveller in one seat."""
    passenger = page.get_by_role("group", name=re.compile(rf"^(Seat|Berth) {re.escape(number)}\b"))
    passenger.get_by_label("Full name").fill(name)
    passenger.get_by_label("Age").fill(str(age))
    passenger.get_by_label("Gender").select_option(label=gender)


def booking_reference(page: Page) -> str:
    """The reference shown on a booking page (after waiting for that page)."""
    expect(page).to_have_url(re.compile(r"/bookings/[A-Z0-9]{8,12}$"))
    return page.url.rsplit("/", 1)[1]
