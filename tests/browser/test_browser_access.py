"""Accessibility in a real browser: the seat map by keyboard alone, and axe-core finding nothing
serious or critical on the customer's pages."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from booking.models.enums import PaymentMethod
from booking.orm import utcnow
from booking.services import holds, payments
from booking.services.details import CheckoutDetails, Passenger
from tests.browser.steps import DESKTOP, PHONE, customer, sign_in, trip_on_sale

pytestmark = pytest.mark.browser

MAX_TABS = 60


def test_a_seat_is_reached_and_ticked_with_the_keyboard_and_shows_where_focus_is(app, page, shoot):
    """Tab to a seat, Space ticks it; the focus ring is drawn; the name says everything the
    colours say."""
    trip = trip_on_sale(app, base_price="650.00")
    page.goto(trip.seat_map)
    name = "Seat 3A, window, ladies only, available, Rs 650.00"

    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('aria-label')") == name:
            break
    else:
        pytest.fail(f"{MAX_TABS} presses of Tab never reached {name!r}")
    box = page.get_by_role("checkbox", name=name, exact=True)
    expect(box).to_be_focused()
    page.keyboard.press("Space")

    expect(box).to_be_checked()
    expect(page.get_by_text("1 of 6 seats chosen")).to_be_visible()
    ring = box.evaluate(
        """box => {
            const cell = getComputedStyle(box.closest('label'));
            return {visible: box.matches(':focus-visible'), style: cell.outlineStyle,
                    width: parseFloat(cell.outlineWidth), color: cell.outlineColor};
        }"""
    )
    assert ring["visible"] and ring["style"] == "solid" and ring["width"] >= 2, ring
    shoot(page, "keyboard-focus")


# ---- axe-core ------------------------------------------------------------------------------


def serious_violations(page: Page, axe_source: str) -> list[dict]:
    """axe-core's violations of impact serious or critical on the page as it stands."""
    # By address, from this site: the CSP allows no inline script, not even a test's.
    assert axe_source, "axe-core's script is empty"
    page.add_script_tag(url="/static/vendor/axe.min.js")
    result = page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ['violations']});
            return {
                checked: result.passes.length + result.violations.length,
                violations: result.violations.map(v => ({
                    id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.map(
                        n => ({target: n.target.join(' '), summary: n.failureSummary})),
                })),
            };
        }"""
    )
    assert result["checked"] > 10, f"axe-core checked next to nothing on {page.url}"
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


def readable(violations: list[dict]) -> str:
    """Violations, one rule a paragraph, each failing element under it."""
    lines = []
    for v in violations:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']}")
        for node in v["nodes"][:8]:
            summary = re.sub(r"\s+", " ", node["summary"] or "")
            lines.append(f"    {node['target']}\n        {summary}")
    return "\n".join(lines)


def booked_and_held(app, customer_id) -> dict:
    """A paid booking on one trip, a live hold on another and a gateway payment waiting."""
    first, second, third = (
        trip_on_sale(app),
        trip_on_sale(app, "Hampi"),
        trip_on_sale(app, "Ooty"),
    )
    details = CheckoutDetails(
        passengers=(
            Passenger("5A", "Asha Rao", 34, "female"),
            Passenger("5B", "Ravi Rao", 36, "male"),
        ),
        contact_name="Asha Rao",
        contact_phone="9876543210",
    )
    with app.app_context():
        now = utcnow()
        paid = holds.hold_seats(
            customer_id=customer_id, schedule_id=first.id, seat_numbers=["5A", "5B"], now=now
        )
        booking = payments.pay_with_wallet(
            hold_id=paid.id, customer_id=customer_id, details=details, now=now
        )
        live = holds.hold_seats(
            customer_id=customer_id, schedule_id=second.id, seat_numbers=["3A", "9D"], now=now
        )
        waiting = holds.hold_seats(
            customer_id=customer_id, schedule_id=third.id, seat_numbers=["5A", "5B"], now=now
        )
        started = payments.start_gateway_payment(
            hold_id=waiting.id,
            customer_id=customer_id,
            details=details,
            method=PaymentMethod.UPI,
            use_wallet=False,
            now=now,
            return_url=f"/holds/{waiting.id}/paying",
        )
        return {
            "search": f"/?origin={first.origin}&destination={first.destination}&date={first.day}",
            "seat map": first.seat_map,
            "checkout": f"/holds/{live.id}",
            "gateway": started.url,
            "paying": f"/holds/{waiting.id}/paying",
            "booking": f"/bookings/{booking.reference}",
            "bookings": "/bookings",
            "wallet": "/wallet",
        }


@pytest.mark.parametrize("width", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_customer_pages_have_no_serious_accessibility_violations(
    app, new_context, axe_source, shoot, width
):
    """axe-core on each page of the journey, signed in, at phone and desktop widths."""
    customer_id, email = customer(app, wallet="5000.00")
    pages = booked_and_held(app, customer_id)
    page = new_context(width=width).new_page()
    page.goto("/login")
    problems = {}
    login = serious_violations(page, axe_source)
    if login:
        problems["login"] = login
    sign_in(page, email, from_page=True)

    for name, path in pages.items():
        page.goto(path)
        if name == "booking":
            page.get_by_role("checkbox", name="5B").check()  # the refund preview, shown in place
            expect(page.get_by_text("back (100%)")).to_be_visible()
        found = serious_violations(page, axe_source)
        if found:
            problems[name] = found
        shoot(page, f"axe-{name}")

    assert not problems, "\n\n".join(
        f"{name} ({pages.get(name, '/login')}):\n{readable(found)}"
        for name, found in problems.items()
    )
