"""Check-in at the bus door in a real browser: the scanner (a keyboard wedge) types the token
into the autofocused field and presses Enter; the answer swaps in and the field is ready again."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from booking.extensions import db
from booking.models import Ticket
from booking.models.enums import Role
from booking.orm import utcnow
from booking.services import holds, payments
from booking.services.details import CheckoutDetails, Passenger
from tests.browser.steps import customer, sign_in, trip_on_sale
from tests.support import make_user

pytestmark = pytest.mark.browser


def ticket_token(app, trip_id, customer_id) -> str:
    """Seat 2A bought from the wallet by the customer; the ticket's QR text."""
    with app.app_context():
        now = utcnow()
        hold = holds.hold_seats(
            customer_id=customer_id, schedule_id=trip_id, seat_numbers=["2A"], now=now
        )
        booking = payments.pay_with_wallet(
            hold_id=hold.id,
            customer_id=customer_id,
            details=CheckoutDetails(
                passengers=(Passenger("2A", "Asha Rao", 34, "female"),),
                contact_name="Asha Rao",
                contact_phone="9876543210",
                contact_email="asha@example.com",
            ),
            now=now,
        )
        return db.session.scalar(select(Ticket.qr_payload).where(Ticket.booking_id == booking.id))


def test_a_scan_checks_in_and_a_second_scan_says_already_used(app, page, shoot):
    """Staff opens the check-in page; the field has the focus; the token and Enter give VALID
    with the seat and name; the field is empty and focused; the same scan again: ALREADY USED."""
    trip = trip_on_sale(app, departs_in=timedelta(hours=3))
    customer_id, _email = customer(app, wallet="2000")
    token = ticket_token(app, trip.id, customer_id)
    with app.app_context():
        staff = make_user(
            Role.STAFF,
            email=f"kiran-{uuid.uuid4().hex[:6]}@example.com",
            now=utcnow() - timedelta(days=1),
            first_name="Kiran",
        )
        staff_email = staff.email

    sign_in(page, staff_email)
    page.goto("/desk/check-in")
    field = page.get_by_label("Scan a ticket")
    expect(field).to_be_focused()

    page.keyboard.type(token)
    page.keyboard.press("Enter")
    answer = page.locator(".scan-answer")
    expect(answer.locator(".scan-status")).to_have_text("VALID")
    expect(answer).to_contain_text("2A")
    expect(answer).to_contain_text("Asha Rao")
    expect(field).to_have_value("")
    expect(field).to_be_focused()
    shoot(page, "checkin-valid")

    page.keyboard.type(token)
    page.keyboard.press("Enter")
    expect(answer.locator(".scan-status")).to_have_text("ALREADY USED")
    expect(answer).to_contain_text("by Kiran")
    expect(field).to_have_value("")
    expect(field).to_be_focused()
    shoot(page, "checkin-used")
