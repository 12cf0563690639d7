"""Two people on one seat map: what one holds, the other sees at once, without reloading."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.steps import PHONE, customer, seat, sign_in, trip_on_sale

pytestmark = pytest.mark.browser

LIVE = 2_000  # ms: how soon a hold must show on another open seat map


def test_a_seat_held_in_one_browser_turns_held_in_another_and_a_lost_tick_is_explained(
    app, new_context, shoot
):
    """Asha holds 5A and 6A; Ravi's open map shows 5A held within two seconds, and his tick on
    6A is taken off with a note saying why."""
    trip = trip_on_sale(app)
    _, asha_email = customer(app, first_name="Asha")
    _, ravi_email = customer(app, first_name="Ravi")
    asha = new_context().new_page()
    ravi = new_context(width=PHONE).new_page()
    sign_in(asha, asha_email)
    sign_in(ravi, ravi_email)
    asha.goto(trip.seat_map)
    ravi.goto(trip.seat_map)
    # Live once the socket has sent its first picture of the trip (Asha's too, so no ordering
    # between page loads and her hold is left to chance).
    for page in (asha, ravi):
        expect(page.locator("#seat-map-section")).to_have_attribute("data-synced", "true")

    ravi.evaluate("window.stillTheSamePage = true")  # gone if anything reloads his page
    seat(ravi, "6A").check()
    expect(ravi.get_by_text("1 of 6 seats chosen")).to_be_visible()
    seat(asha, "5A").check()
    seat(asha, "6A").check()
    asha.get_by_role("button", name="Hold these seats").click()

    held = ravi.get_by_role(
        "checkbox", name=re.compile(r"^Seat 5A, window, held by another customer, Rs 500\.00$")
    )
    expect(held).to_be_disabled(timeout=LIVE)
    taken = ravi.get_by_role("checkbox", name=re.compile(r"^Seat 6A, .*held by another customer"))
    expect(taken).not_to_be_checked(timeout=LIVE)
    expect(taken).to_be_disabled()
    expect(ravi.get_by_role("alert")).to_have_text(
        "Seat 6A was just taken by someone else and has been unticked."
    )
    expect(ravi.get_by_text("0 of 6 seats chosen")).to_be_visible()
    assert ravi.evaluate("window.stillTheSamePage === true"), "the seat map was reloaded"
    expect(asha.get_by_role("heading", name=re.compile("^Checkout"))).to_be_visible()
    shoot(ravi, "live-seat-taken")


def test_a_seventh_seat_is_refused_at_once_and_the_map_stays_usable(app, page):
    """Six seats at most: the seventh tick is taken back with a reason, and every free seat
    stays focusable so one can be unticked for another."""
    trip = trip_on_sale(app)
    page.goto(trip.seat_map)
    for number in ("6A", "6B", "6C", "6D", "7A", "7B"):
        seat(page, number).check()

    seat(page, "7C").click()

    expect(seat(page, "7C")).not_to_be_checked()
    expect(seat(page, "7C")).to_be_enabled()
    expect(page.get_by_role("alert")).to_have_text(
        "You can hold at most 6 seats at a time. Untick one to choose another."
    )
    expect(page.get_by_text("6 of 6 seats chosen")).to_be_visible()
    seat(page, "7B").uncheck()
    seat(page, "7C").check()
    expect(page.get_by_text("6 of 6 seats chosen")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text("")
