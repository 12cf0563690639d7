"""The customer's journey in a real browser: with JavaScript (htmx, live seat map) on a phone and
a desktop, and with JavaScript off, where every step must work as a plain form."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from booking.orm import utcnow
from booking.services import holds
from tests.browser.steps import (
    DESKTOP,
    PHONE,
    booking_reference,
    customer,
    fill_passenger,
    follow_nav,
    search,
    seat,
    sign_in,
    trip_on_sale,
)

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_search_choose_seats_pay_through_the_gateway_and_get_the_ticket(
    app, new_context, shoot, width
):
    """With JavaScript: the results and the running total update in place, a wallet that falls
    short pays its part and the sandbox gateway the rest, and the ticket is a PDF."""
    trip = trip_on_sale(app)
    _, email = customer(app, wallet="100.00")
    page = new_context(width=width).new_page()
    sign_in(page, email)

    page.goto("/")
    shoot(page, "01-search")
    search(page, trip)
    expect(page).to_have_url(re.compile(rf"date={trip.day}"))  # htmx pushed the search
    shoot(page, "02-results")
    page.get_by_role(
        "link", name=re.compile(rf"^Choose seats: {trip.origin} to {trip.destination}")
    ).click()

    expect(page.get_by_role("heading", name=f"{trip.origin} → {trip.destination}")).to_be_visible()
    seat(page, "5A").check()
    seat(page, "5B").check()
    expect(page.get_by_text("2 of 6 seats chosen")).to_be_visible()
    expect(page.get_by_text("Rs 1,000.00 before GST")).to_be_visible()
    shoot(page, "03-seat-map")
    page.get_by_role("button", name="Hold these seats").click()

    expect(page.get_by_role("heading", name=re.compile("^Checkout"))).to_be_visible()
    expect(page.get_by_role("timer")).to_contain_text(re.compile(r"1[45]:\d\d"))
    fill_passenger(page, "5A", "Asha Rao", 34, "Female")
    fill_passenger(page, "5B", "Ravi Rao", 36, "Male")
    expect(page.get_by_label(re.compile("^Use my wallet"))).to_be_checked()
    expect(page.get_by_text("From your wallet")).to_be_visible()
    page.get_by_role("radio", name="UPI").check()
    shoot(page, "04-checkout")
    page.get_by_role("button", name="Pay Rs 950.00 + Rs 100.00 wallet").click()

    expect(page.get_by_text("Sandbox gateway")).to_be_visible()
    shoot(page, "05-gateway")
    page.get_by_role("button", name="Pay Rs 950.00").click()

    reference = booking_reference(page)
    expect(page.get_by_role("heading", name=reference)).to_be_visible()
    expect(page.get_by_text("Payment received. Your booking is confirmed.")).to_be_visible()
    expect(page.get_by_text("Paid by Wallet Rs 100.00 and UPI Rs 950.00")).to_be_visible()
    shoot(page, "06-booking")
    ticket = page.get_by_role("link", name="Ticket (PDF)")
    response = page.request.get(ticket.get_attribute("href"))
    assert response.ok and response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF-")

    # Cancelling one seat shows its refund before anything is cancelled.
    cancel = page.get_by_role("region", name="Cancel seats")
    cancel.get_by_role("checkbox", name="5B").check()
    expect(cancel.get_by_text("Rs 525.00 back (100%)")).to_be_visible()
    shoot(page, "07-cancel-preview")
    cancel.get_by_role("button", name="Cancel 1 seat and refund Rs 525.00").click()
    expect(page.get_by_text("Cancelled 5B. Rs 525.00 refunded to your wallet.")).to_be_visible()

    follow_nav(page, "My bookings")
    expect(
        page.get_by_role("link", name=re.compile(f"{trip.origin} → {trip.destination}"))
    ).to_be_visible()
    shoot(page, "08-bookings")
    follow_nav(page, "Wallet")
    expect(page.get_by_text("Rs 525.00", exact=True).first).to_be_visible()  # the refund, at once
    shoot(page, "09-wallet")


def test_the_whole_journey_works_with_javascript_off(app, new_context, shoot):
    """Plain forms all the way: search, seats ticked before signing in stay ticked, the wallet
    pays, a seat is cancelled after seeing its refund, and the wallet is topped up."""
    trip = trip_on_sale(app)
    _, email = customer(app, wallet="2500.00", first_name="Meera")
    page = new_context(width=PHONE, javascript=False).new_page()

    page.goto("/")
    search(page, trip)
    page.get_by_role("link", name=re.compile("^Choose seats")).click()
    seat(page, "5A").check()
    seat(page, "5B").check()
    shoot(page, "nojs-01-seat-map")
    page.get_by_role("button", name="Hold these seats").click()

    expect(page.get_by_text("Sign in or create an account to hold your seats")).to_be_visible()
    shoot(page, "nojs-02-sign-in")
    sign_in(page, email, from_page=True)
    expect(seat(page, "5A")).to_be_checked()
    expect(seat(page, "5B")).to_be_checked()
    page.get_by_role("button", name="Hold these seats").click()

    expect(page.get_by_role("heading", name=re.compile("^Checkout"))).to_be_visible()
    fill_passenger(page, "5A", "Meera Iyer", 29, "Female")
    fill_passenger(page, "5B", "Arun Iyer", 31, "Male")
    expect(page.get_by_role("radio")).to_have_count(0)  # the wallet covers it: no gateway choice
    shoot(page, "nojs-03-checkout")
    page.get_by_role("button", name="Pay Rs 1,050.00 from wallet").click()

    reference = booking_reference(page)
    expect(page.get_by_text("Booking confirmed. Have a good trip!")).to_be_visible()
    cancel = page.get_by_role("region", name="Cancel seats")
    cancel.get_by_role("checkbox", name="5A").check()
    cancel.get_by_role("button", name="See the refund").click()
    expect(page.get_by_text("Rs 525.00 back (100%)")).to_be_visible()
    shoot(page, "nojs-04-cancel-preview")
    page.get_by_role("button", name="Cancel 1 seat and refund Rs 525.00").click()
    expect(page.get_by_text("Cancelled 5A. Rs 525.00 refunded to your wallet.")).to_be_visible()
    expect(page).to_have_url(re.compile(f"/bookings/{reference}$"))

    follow_nav(page, "Wallet")
    expect(page.get_by_text("Rs 1,975.00").first).to_be_visible()  # 2,500 - 1,050 + 525
    page.get_by_label("Amount (Rs)").fill("500")
    page.get_by_role("radio", name="Net banking").check()
    page.get_by_role("button", name="Top up").click()
    page.get_by_role("button", name="Pay Rs 500.00").click()
    expect(page.get_by_text("Your wallet has been topped up.")).to_be_visible()
    expect(page.get_by_text("Rs 2,475.00").first).to_be_visible()
    shoot(page, "nojs-05-wallet")


def test_a_lapsed_hold_offers_to_hold_the_same_seats_again(app, new_context, shoot):
    """Coming back after the hold ran out: the lapsed view, and one press brings checkout back."""
    trip = trip_on_sale(app)
    customer_id, email = customer(app, wallet="0")
    with app.app_context():
        hold = holds.hold_seats(
            customer_id=customer_id,
            schedule_id=trip.id,
            seat_numbers=["7C", "7D"],
            now=utcnow() - timedelta(minutes=16),
        )
        hold_id = hold.id
    page = new_context().new_page()
    sign_in(page, email)

    page.goto(f"/holds/{hold_id}")
    expect(page.get_by_role("heading", name="Your hold has lapsed")).to_be_visible()
    expect(page.get_by_role("timer")).to_have_count(0)  # nothing left to count down
    shoot(page, "lapsed-hold")
    page.get_by_role("button", name="Hold my seats again").click()

    expect(page.get_by_text("Your seats are held again.")).to_be_visible()
    expect(page.get_by_role("group", name=re.compile(r"^Seat 7C\b"))).to_be_visible()
    expect(page.get_by_role("timer")).to_contain_text(re.compile(r"1[45]:\d\d"))
    shoot(page, "revived-hold")


def test_releasing_the_seats_at_checkout_frees_them_on_the_seat_map(app, new_context):
    """The release button sits beside the payment form yet submits only its own form."""
    trip = trip_on_sale(app)
    customer_id, email = customer(app)
    with app.app_context():
        hold_id = holds.hold_seats(
            customer_id=customer_id, schedule_id=trip.id, seat_numbers=["8B"], now=utcnow()
        ).id
    page = new_context(width=PHONE, javascript=False).new_page()
    sign_in(page, email)

    page.goto(f"/holds/{hold_id}")
    page.get_by_role("button", name="Release these seats").click()

    expect(page.get_by_text("Your seats were released.")).to_be_visible()
    expect(seat(page, "8B")).to_be_enabled()
    expect(seat(page, "8B")).to_have_accessible_name(re.compile(r", available, "))
