"""The journey in headless Chromium with GATEWAY=razorpay against the fake Razorpay: the wallet
pays part, the customer pays the rest on Razorpay's page and comes back to the ticket, cancels
one seat to the original method and sees its refund go from on its way to refunded."""

from __future__ import annotations

import re
import urllib.request

import pytest
from playwright.sync_api import expect

from booking.orm import utcnow
from tests.browser.steps import (
    booking_reference,
    customer,
    fill_passenger,
    seat,
    sign_in,
    trip_on_sale,
)
from tests.razorpay_fake import RunningFake, settings

pytestmark = pytest.mark.browser


@pytest.fixture
def razorpay(app, live_server, monkeypatch):
    """The fake Razorpay, sending its webhooks to the live app; the app pointed at it."""
    with RunningFake(utcnow()) as fake:
        fake.webhook_url = f"{live_server}/payments/webhook"
        for name, value in settings(fake, RAZORPAY_CALLBACK_URL=None).items():
            monkeypatch.setitem(app.config, name, value)
        yield fake


def test_pay_the_rest_at_razorpay_get_the_ticket_and_see_a_refund_processed(
    app, new_context, shoot, razorpay
):
    trip = trip_on_sale(app)
    _, email = customer(app, wallet="100.00")
    page = new_context().new_page()
    sign_in(page, email)
    page.goto(trip.seat_map)
    seat(page, "5A").check()
    seat(page, "5B").check()
    page.get_by_role("button", name="Hold these seats").click()
    fill_passenger(page, "5A", "Asha Rao", 34, "Female")
    fill_passenger(page, "5B", "Ravi Rao", 36, "Male")
    page.get_by_role("radio", name="UPI").check()
    page.get_by_role("button", name="Pay Rs 950.00 + Rs 100.00 wallet").click()

    # On Razorpay's page (another site), for the gateway part only.
    expect(page).to_have_url(re.compile(rf"^{re.escape(razorpay.url)}/i/"))
    expect(page.get_by_role("heading", name="Pay Rs 950.00")).to_be_visible()
    shoot(page, "razorpay-01-hosted-page")
    page.get_by_role("button", name="Pay Rs 950.00 by UPI").click()

    reference = booking_reference(page)
    expect(page.get_by_text("Payment received. Your booking is confirmed.")).to_be_visible()
    expect(page.get_by_text("Paid by Wallet Rs 100.00 and UPI Rs 950.00")).to_be_visible()
    ticket = page.get_by_role("link", name="Ticket (PDF)")
    response = page.request.get(ticket.get_attribute("href"))
    assert response.ok and response.body().startswith(b"%PDF-")
    shoot(page, "razorpay-02-booking")

    cancel = page.get_by_role("region", name="Cancel seats")
    cancel.get_by_role("checkbox", name="5B").check()
    cancel.get_by_label("The original payment method").check()
    cancel.get_by_role("button", name=re.compile("^Cancel 1 seat and refund")).click()
    expect(page.get_by_text("refund on its way")).to_be_visible()
    shoot(page, "razorpay-03-refund-pending")

    [refund] = razorpay.refunds.values()
    body, headers = razorpay.refund_event(refund["id"], "processed")
    post = urllib.request.Request(razorpay.webhook_url, data=body, headers=headers)
    urllib.request.urlopen(post, timeout=10).close()
    page.reload()
    expect(page.locator(".refund-state")).to_have_text("refunded")
    expect(page.get_by_role("heading", name=reference)).to_be_visible()
    shoot(page, "razorpay-04-refund-processed")
