"""The admin dashboard in a real browser: its charts are drawn (SVG), the numbers on the bars
are the numbers in the table beside each chart, and following a figure opens the bookings
behind it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from booking.models.enums import Role
from booking.orm import utcnow
from booking.services import catalog
from tests.browser.steps import sign_in
from tests.money_support import cash_sale, hold, open_shift, pay_wallet
from tests.support import make_trip, make_user

pytestmark = pytest.mark.browser

CHARTS = ("chart-bookings", "chart-revenue", "chart-occupancy", "chart-funnel")


@pytest.fixture
def sold(midmorning, app) -> tuple[str, str]:
    """A wallet booking of two seats and a cash sale of one, a moment ago, on a trip leaving in
    three hours; an admin's email and the period (today and tomorrow) that holds them."""
    with app.app_context():
        now = utcnow() - timedelta(minutes=10)
        trip = make_trip(now=now, departs_in=timedelta(hours=3), origin="Hassan")
        asha = make_user(first_name="Asha", wallet="5000", now=now)
        clerk = make_user(Role.STAFF, first_name="Clerk", now=now)
        pay_wallet(asha.id, hold(asha.id, trip.id, ["3A", "3B"], now=now), ["3A", "3B"], now=now)
        open_shift(clerk.id, now=now)
        cash_sale(clerk.id, trip.id, ["4A"], now=now, tendered=Decimal("525.00"))
        admin = make_user(Role.ADMIN, first_name="Admin", now=now).email
        today = catalog.local_today(utcnow())
        return admin, f"period=custom&from={today}&to={today + timedelta(days=1)}"


def test_the_dashboard_draws_its_charts_and_their_tables_agree(page, sold, shoot):
    """Each chart is an SVG with bars; each bar's number is its table row's number; a figure
    leads to the bookings it counts."""
    email, period = sold
    sign_in(page, email)
    page.goto(f"/admin?{period}")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    for chart in CHARTS:
        figure = page.locator(f"figure#{chart}")
        expect(figure.locator("svg[role=img]")).to_be_visible()
        drawn = figure.locator("svg g.chart-bar").evaluate_all(
            "bars => bars.map(g => { const box = g.querySelector('rect').getBBox();"
            " return [g.dataset.label, g.dataset.value, box.width > 0 && box.height > 0]; })"
        )
        rows = figure.locator("table tbody tr").evaluate_all(
            "rows => rows.map(r => [r.querySelector('th').textContent.trim(),"
            " r.querySelector('td').textContent.trim()])"
        )
        assert drawn, chart
        assert [[label, value] for label, value, _ in drawn] == rows, chart
        assert any(visible for _, _, visible in drawn), f"{chart}: no bar has any size"
    occupancy = page.locator("figure#chart-occupancy table")
    expect(occupancy.get_by_role("row", name="Hassan to Chennai")).to_contain_text("7.5% (3 of 40)")
    shoot(page, "admin-dashboard")

    page.get_by_role("link", name="Bookings 2").click()
    expect(page.get_by_role("heading", name="Bookings")).to_be_visible()
    expect(page.locator("#bookings-count")).to_have_text("2")

    page.goto(f"/admin/reports/revenue-route?{period}")
    row = page.get_by_role("row", name="Hassan to Chennai")
    expect(row).to_contain_text("Rs 1,575.00")
    expect(page.get_by_role("link", name="Download CSV")).to_be_visible()
    shoot(page, "admin-report-revenue-route")


def test_the_holds_console_counts_down_and_says_why_a_release_needs_a_reason(
    app, page, sold, shoot
):
    """The time left ticks down between refreshes; Release with an empty reason shows the
    server's message beside the field, and the hold stays."""
    email, _ = sold
    with app.app_context():
        now = utcnow()
        owner = make_user(first_name="Holder", now=now)
        trip = make_trip(now=now, origin="Udupi")
        hold(owner.id, trip.id, ["5C"], now=now)
    sign_in(page, email)
    page.goto("/admin/holds")
    clock = page.locator(".hold-clock").first
    first = clock.text_content()
    expect(clock).not_to_have_text(first, timeout=5000)  # the script counted a second down
    page.get_by_role("button", name="Release").click()
    expect(page.get_by_text("Give a reason for releasing this hold.").first).to_be_visible()
    expect(page.get_by_label("Reason for releasing seats 5C")).to_have_attribute(
        "aria-invalid", "true"
    )
    expect(page.get_by_text("5C", exact=True)).to_be_visible()
    shoot(page, "admin-holds-release-error")
    page.get_by_label("Reason for releasing seats 5C").fill("customer phoned")
    page.get_by_role("button", name="Release").click()
    expect(page.get_by_text("Hold released; its seats are free again.")).to_be_visible()

    page.goto("/admin/activity?action=hold.released")
    released = page.get_by_role("row").filter(has_text="hold.released")
    expect(released).to_contain_text("Reason customer phoned")
    expect(released).to_contain_text("Seats 5C")
    expect(released).to_contain_text("(admin)")
    shoot(page, "admin-activity")
