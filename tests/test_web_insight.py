"""Request tests of the admin insight pages: the dashboard and the lists its figures open, the
reports with their CSV, the audit log in words with its filters, paging and CSV, and the
live-holds console (extend, trip filter, lapsing holds)."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest

from booking.extensions import db
from booking.models import Reservation
from booking.models.enums import Role
from booking.orm import utcnow
from booking.services import cancellations, catalog, holds
from tests.money_support import cash_sale, hold, open_shift, pay_wallet
from tests.support import make_trip, make_user, sign_in_as, text

MIN = timedelta(minutes=1)


@pytest.fixture
def sales(midmorning, app) -> dict:
    """Made a moment ago: Asha pays 3A, 3B on a trip leaving in 3 hours (1,050.00), a clerk
    sells 4A for cash (525.00), Asha cancels 3B with a reason that looks like a formula."""
    with app.app_context():
        now = utcnow() - 10 * MIN
        trip = make_trip(now=now, departs_in=timedelta(hours=3), origin="Hubli")
        asha = make_user(first_name="Asha", wallet="5000", now=now, email="asha.i@example.com")
        clerk = make_user(Role.STAFF, first_name="Clerk", now=now)
        booking_id = pay_wallet(
            asha.id, hold(asha.id, trip.id, ["3A", "3B"], now=now), ["3A", "3B"], now=now + MIN
        )
        open_shift(clerk.id, now=now)
        cash_sale(clerk.id, trip.id, ["4A"], now=now, tendered=Decimal("525.00"))
        cancellations.cancel_booking(
            booking_id,
            actor_id=asha.id,
            now=now + 2 * MIN,
            seat_numbers=["3B"],
            reason="=HYPERLINK(evil)",
        )
        today = catalog.local_today(utcnow())
        return {
            "trip_id": trip.id,
            "route_id": trip.route_id,
            "asha_id": asha.id,
            # A custom period of today and tomorrow holds the sales and the trip whatever the hour.
            "period": f"period=custom&from={today}&to={today + timedelta(days=1)}",
        }


@pytest.fixture
def admin_client(midmorning, client, app, auth):
    """The test client, signed in as an admin."""
    sign_in_as(app, auth, Role.ADMIN)
    return client


@pytest.mark.parametrize(
    "path", ["/admin/bookings", "/admin/reports", "/admin/reports/gst", "/admin/activity.csv"]
)
def test_insight_pages_are_for_admins_only(client, app, auth, path):
    """Anonymous: to sign in; a clerk: 403."""
    assert client.get(path).status_code == 302
    sign_in_as(app, auth, Role.STAFF)
    assert client.get(path).status_code == 403


# ---- the dashboard ------------------------------------------------------------------------------


def test_the_dashboard_shows_the_periods_figures_each_a_link(admin_client, sales):
    """Bookings 2, seats 3, gross 1,575.00, refunds 262.50, net 1,312.50, GST 75.00; each
    figure links to the list or report behind it, with the same period."""
    page = admin_client.get(f"/admin?{sales['period']}")
    assert page.status_code == 200
    body = text(page)
    figures = dict(re.findall(r'id="figure-([a-z-]+)">([^<]+)</strong>', body))
    assert figures["bookings"] == "2" and figures["seats"] == "3"
    assert figures["gross"] == "Rs 1,575.00" and figures["refunds"] == "Rs 262.50"
    assert figures["net"] == "Rs 1,312.50" and figures["gst"] == "Rs 75.00"
    links = re.findall(r'<a class="card stat" href="([^"]+)">', body)
    assert len(links) == 10 and all(link.startswith("/admin/") for link in links)
    assert any(link.startswith("/admin/bookings?period=custom") for link in links)
    assert any(link.startswith("/admin/reports/gst?period=custom") for link in links)


def test_the_dashboard_draws_its_charts_with_tables_of_the_same_numbers(admin_client, sales):
    """Four charts: the SVG's bars carry the numbers the table beside them shows."""
    body = text(admin_client.get(f"/admin?{sales['period']}"))
    for chart in ("chart-bookings", "chart-revenue", "chart-occupancy", "chart-funnel"):
        figure = re.search(rf'<figure class="chart card" id="{chart}".*?</figure>', body, re.S)
        assert figure, chart
        drawn = re.findall(r'data-label="([^"]+)" data-value="([^"]+)"', figure.group(0))
        table = re.findall(
            r'<th scope="row">(?:<a [^>]+>)?([^<]+)(?:</a>)?</th><td class="num">([^<]+)</td>',
            figure.group(0),
        )
        assert drawn and drawn == table, chart
        assert "<svg" in figure.group(0) and 'role="img"' in figure.group(0)
        assert " style=" not in figure.group(0)  # the CSP allows no inline styles
    assert "Hubli to Chennai" in body and "5.0% (2 of 40)" in body


def test_the_dashboard_lists_trips_departing_soon_and_the_open_shift(admin_client, sales):
    """The trip leaving in 3 hours with its load, and the clerk's open shift."""
    body = text(admin_client.get("/admin"))
    departing = re.search(r"Departing in the next 6 hours.*?</table>", body, re.S).group(0)
    assert "Hubli to Chennai" in departing and "2 / 40" in departing
    assert "Counter shifts open now" in body and "No shift is open." not in body


@pytest.mark.parametrize(
    "query", ["period=decade", "period=custom&from=2026-12-05&to=2026-12-01", "channel=fax"]
)
def test_a_bad_period_or_filter_says_so_and_shows_the_last_week(admin_client, query):
    """400 with the message; the page still draws (the last 7 days, unfiltered)."""
    page = admin_client.get(f"/admin?{query}")
    assert page.status_code == 400
    assert 'role="alert" id="period-error"' in page.text and "Last 7 days" in page.text


def test_the_bookings_list_behind_a_figure_filters_by_channel(admin_client, sales):
    """All: both bookings; desk: the cash sale alone; refunded: Asha's."""
    everything = text(admin_client.get(f"/admin/bookings?{sales['period']}"))
    assert re.search(r'id="bookings-count">2<', everything)
    assert 'id="bookings-gross">Rs 1,575.00<' in everything
    desk = text(admin_client.get(f"/admin/bookings?{sales['period']}&channel=desk"))
    assert re.search(r'id="bookings-count">1<', desk) and "Rs 525.00" in desk
    refunded = text(admin_client.get(f"/admin/bookings?{sales['period']}&refunded=1"))
    assert re.search(r'id="bookings-count">1<', refunded) and "Rs 262.50" in refunded
    fragment = admin_client.get(
        f"/admin/bookings?{sales['period']}", headers={"HX-Request": "true"}
    )
    assert "<html" not in fragment.text and "bookings-count" in fragment.text


# ---- reports ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["revenue-day", "revenue-route", "revenue-trip", "occupancy", "gst", "cancellations"]
)
def test_every_report_renders_and_exports(admin_client, sales, kind):
    """Each report: its page (with the print stylesheet) and its CSV, a header and rows."""
    page = admin_client.get(f"/admin/reports/{kind}?{sales['period']}")
    assert page.status_code == 200 and "report_print.css" in page.text
    export = admin_client.get(f"/admin/reports/{kind}.csv?{sales['period']}")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    assert "attachment" in export.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(export.get_data(as_text=True))))
    assert len(rows) >= 2


def test_revenue_by_route_exports_plain_numbers(admin_client, sales):
    """The route's row: 2 bookings, 3 seats, 1575.00 gross, 75.00 GST, 262.50 refunded."""
    export = admin_client.get(f"/admin/reports/revenue-route.csv?{sales['period']}")
    rows = list(csv.reader(io.StringIO(export.get_data(as_text=True))))
    assert rows[0] == ["Route", "Bookings", "Seats", "Gross (GST incl.)", "GST", "Refunded", "Net"]
    assert rows[1] == ["Hubli to Chennai", "2", "3", "1575.00", "75.00", "262.50", "1312.50"]
    assert rows[-1][0] == "Total"


def test_the_cancellations_export_is_formula_safe(admin_client, sales):
    """A reason starting with = is written with a leading apostrophe."""
    export = admin_client.get(f"/admin/reports/cancellations.csv?{sales['period']}")
    assert "'=HYPERLINK(evil)" in export.get_data(as_text=True)


def test_a_report_filters_by_route_and_channel(admin_client, sales):
    """The desk channel: only the cash sale; another route: nothing."""
    desk = text(admin_client.get(f"/admin/reports/revenue-route?{sales['period']}&channel=desk"))
    assert "Rs 525.00" in desk and "Rs 1,575.00" not in desk
    with admin_client.application.app_context():
        other = make_trip(now=utcnow(), origin="Elsewhere").route_id
    empty = text(admin_client.get(f"/admin/reports/revenue-route?{sales['period']}&route={other}"))
    assert "Nothing in this period." in empty


def test_an_unknown_report_is_a_404_with_the_list(admin_client):
    """No such report: 404 naming it, and the list of reports."""
    page = admin_client.get("/admin/reports/salaries")
    assert page.status_code == 404 and "Revenue by route" in page.text
    assert admin_client.get("/admin/reports/salaries.csv").status_code == 404


def test_a_bad_period_in_an_export_is_a_400(admin_client):
    """A CSV for a reversed period: 400 with the message, no file."""
    export = admin_client.get("/admin/reports/gst.csv?period=custom&from=2026-12-05&to=2026-12-01")
    assert export.status_code == 400 and "must not be after" in export.text


# ---- the audit log ------------------------------------------------------------------------------


def test_the_activity_log_reads_in_words(admin_client, sales):
    """Seats as "3A, 3B", money as rupees, short references, the customer as the actor."""
    body = text(admin_client.get("/admin/activity?action=booking.confirmed"))
    assert "<strong>Seats</strong> 3A, 3B" in body and "<strong>Total</strong> Rs 1,050.00" in body
    assert "['3A'" not in body and "Asha" in body and "(customer)" in body
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}</", body)


def test_the_activity_log_filters_by_actor_id_and_period(admin_client, sales):
    """By actor (part of an email or "system"), by id prefix, by period."""

    def rows(query: str) -> str:
        return text(admin_client.get(f"/admin/activity?{query}", headers={"HX-Request": "true"}))

    asha = rows("actor=asha.i@")
    assert "booking.confirmed" in asha and "shift.opened" not in asha
    assert "asha.i@example.com" not in rows("actor=system")
    by_id = rows(f"id={str(sales['asha_id'])[:8]}")
    assert "user.registered" in by_id and "booking.confirmed" not in by_id
    past = rows("from=2020-01-01&to=2020-01-02")
    assert "No activity matches." in past
    bad = admin_client.get("/admin/activity?from=yesterday")
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.text


def test_each_activity_row_links_to_its_entity(admin_client, sales):
    """A user's row links to the user's page; a booking's to the desk's booking page; a hold's
    to its own history in the log."""
    body = admin_client.get("/admin/activity").text
    assert f'href="/admin/users/{sales["asha_id"]}"' in body
    assert re.search(r'href="/admin/activity\?id=[0-9a-f-]{36}">reservation', body)
    assert re.search(r'href="/desk/bookings/[A-Z0-9]{8,12}"', body)


def test_the_activity_log_pages(admin_client, app, sales, make_app):
    """ACTIVITY_PAGE_SIZE rows a page, with Older and Newer links."""
    small = make_app(ACTIVITY_PAGE_SIZE=3).test_client()
    with app.app_context():
        email = make_user(Role.ADMIN, now=utcnow()).email
    from tests.support import PASSWORD

    small.post("/login", data={"email": email, "password": PASSWORD})
    first = small.get("/admin/activity").text
    assert first.count('<tr>\n        <td class="num">') == 3 and 'rel="next"' in first
    second = small.get("/admin/activity?page=2").text
    assert 'rel="prev"' in second
    assert small.get("/admin/activity?page=0").status_code == 400


def test_the_activity_export_is_csv_in_words(admin_client, sales):
    """The filtered rows, newest first, details in words, every cell formula-safe."""
    export = admin_client.get("/admin/activity.csv?entity_type=booking")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(export.get_data(as_text=True))))
    assert rows[0] == ["when", "action", "entity", "entity_id", "actor", "ip_address", "details"]
    actions = [row[1] for row in rows[1:]]
    assert "booking.confirmed" in actions and all(row[2] == "booking" for row in rows[1:])
    cancelled = next(row for row in rows[1:] if row[1] == "booking.seats_cancelled")
    assert "Seats 3B" in cancelled[6] and "Refund Rs 262.50" in cancelled[6]
    assert "Asha" in cancelled[4] and "customer" in cancelled[4]


# ---- the live-holds console ---------------------------------------------------------------------


@pytest.fixture
def two_holds(app) -> dict:
    """Two live holds on two trips; the first has under two minutes left."""
    with app.app_context():
        now = utcnow()
        first = make_trip(now=now, origin="Udupi")
        second = make_user(email="second.holder@example.com", now=now)
        owner = make_user(email="first.holder@example.com", now=now)
        soon = holds.hold_seats(
            customer_id=owner.id, schedule_id=first.id, seat_numbers=["4C"], now=now
        )
        db.session.get(Reservation, soon.id).expires_at = now + timedelta(seconds=90)
        db.session.commit()
        other_trip = make_trip(now=now, origin="Karwar")
        later = holds.hold_seats(
            customer_id=second.id, schedule_id=other_trip.id, seat_numbers=["2A"], now=now
        )
        return {"soon": soon.id, "later": later.id, "trip": first.id, "other": other_trip.id}


def test_a_hold_about_to_lapse_is_highlighted_and_says_so(admin_client, two_holds):
    """The hold with 90 seconds left is marked "lapses soon"; the other is not."""
    body = admin_client.get("/admin/holds").text
    soon = re.search(rf'<tr id="hold-{two_holds["soon"]}" class="([^"]+)">.*?</tr>', body, re.S)
    later = re.search(rf'<tr id="hold-{two_holds["later"]}" class="([^"]+)">.*?</tr>', body, re.S)
    assert "hold-lapsing" in soon.group(1) and "lapses soon" in soon.group(0)
    assert "hold-lapsing" not in later.group(1) and "lapses soon" not in later.group(0)
    assert 'data-expires-at="' in soon.group(0)  # the countdown script counts it down


def test_the_console_filters_by_trip(admin_client, two_holds):
    """?trip= shows that trip's holds only; the forms carry the filter back."""
    body = admin_client.get(f"/admin/holds?trip={two_holds['trip']}").text
    assert "first.holder@example.com" in body and "second.holder@example.com" not in body
    assert f'name="trip" value="{two_holds["trip"]}"' in body
    unknown = text(admin_client.get(f"/admin/holds?trip={uuid.uuid4()}"))
    assert "showing every trip" in unknown and "second.holder@example.com" in unknown


def test_an_admin_extends_a_hold_within_the_limit(admin_client, app, two_holds):
    """10 minutes more: done and logged; 16 (over ADMIN_EXTEND_MAX_MINUTES) is refused beside
    the hold's form and nothing moves."""
    hold_id = two_holds["later"]
    with app.app_context():
        before = db.session.get(Reservation, hold_id).expires_at
    done = admin_client.post(
        f"/admin/holds/{hold_id}/extend", data={"minutes": "10", "trip": str(two_holds["other"])}
    )
    assert done.status_code == 302 and done.headers["Location"].endswith(
        f"/admin/holds?trip={two_holds['other']}"
    )
    with app.app_context():
        after = db.session.get(Reservation, hold_id).expires_at
    assert after - before == timedelta(minutes=10)
    refused = admin_client.post(f"/admin/holds/{hold_id}/extend", data={"minutes": "16"})
    assert refused.status_code == 422
    assert f'id="minutes-error-{hold_id}">Extend a hold by 1 to 15 minutes.' in refused.text
    assert 'data-hx-trigger="every 5s"' not in refused.text  # the message stays on screen
    garbage = admin_client.post(f"/admin/holds/{hold_id}/extend", data={"minutes": "lots"})
    assert garbage.status_code == 422 and "Choose how many minutes to add." in garbage.text
    with app.app_context():
        assert db.session.get(Reservation, hold_id).expires_at == after
    log = text(admin_client.get("/admin/activity?action=hold.extended"))
    assert "<strong>Minutes</strong> 10 minutes" in log and "<strong>Expiry</strong> from " in log


def test_the_console_polls_with_data_hx_attributes(admin_client, two_holds):
    """The table refreshes itself (data-hx-*) and a typed reason survives the refresh."""
    body = admin_client.get("/admin/holds").text
    assert 'data-hx-trigger="every 5s"' in body and 'data-hx-preserve="true"' in body
