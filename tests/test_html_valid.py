"""Every page is valid HTML: the customer's, the desk's, the admin's and the error pages are
rendered with real data and checked in one batch by the Nu HTML checker (vnu.jar, installed from
the npm registry by .ci/setup; it needs Java). Skipped, saying why, where Java or vnu.jar is
missing; failing instead in CI, which must provide both."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from booking.extensions import db
from booking.models import Booking, Bus, PromoCode, Route
from booking.models.enums import PaymentMethod, Role
from booking.orm import utcnow
from booking.services import holds, payments, shifts
from tests.conftest import AuthActions
from tests.money_support import make_promo, pay_wallet, start_gateway
from tests.support import PASSWORD, make_trip, make_user

pytestmark = pytest.mark.slow

VNU = (
    Path(__file__).parents[1] / "static" / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
)

# GET routes that are not HTML pages, with why.
NOT_PAGES = {
    "static": "files",
    "public.healthz": "JSON",
    "public.ready": "JSON",
    "ops.metrics_page": "Prometheus text",
    "account.ticket_pdf": "PDF",
    "account.trip_ics": "iCalendar",
    "desk.receipt": "PDF",
    "desk.ticket": "PDF",
    "desk.manifest_pdf_file": "PDF",
    "desk.manifest_csv_file": "CSV",
    "admin.bulk_export": "CSV",
    "admin.activity_csv": "CSV",
    "admin.report_csv": "CSV",
    "live.seats": "WebSocket",
    "schedules.price": "an htmx fragment (its page is the seat map)",
}


def missing(reason: str) -> None:
    """Fail in CI, which must provide the checker; elsewhere skip, saying why."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must provide it: {reason}")
    pytest.skip(reason)


def signed_in(app, email: str):
    """A test client signed in as the account of ``email``."""
    client = app.test_client()
    assert AuthActions(client).login(email, PASSWORD).status_code == 302
    return client


def pages_to_check(app) -> dict[str, tuple[str, str, int]]:
    """name -> (who, path, expected status) for every HTML page, on data made here."""
    now = utcnow()
    with app.app_context():
        customer = make_user(wallet="5000", now=now - timedelta(days=1))
        clerk = make_user(Role.STAFF, now=now - timedelta(days=1))
        admin = make_user(Role.ADMIN, now=now - timedelta(days=1))
        trip = make_trip(now=now)
        first = holds.hold_seats(
            customer_id=customer.id, schedule_id=trip.id, seat_numbers=["5A"], now=now
        )
        booked = pay_wallet(customer.id, first.id, ["5A"], now)
        reference = db.session.get(Booking, booked).reference
        held = holds.hold_seats(
            customer_id=customer.id, schedule_id=trip.id, seat_numbers=["6A"], now=now
        )
        gateway = start_gateway(customer.id, held.id, ["6A"], now=now, use_wallet=False)
        topup = payments.start_topup(
            customer_id=customer.id,
            amount=Decimal("500.00"),
            method=PaymentMethod.UPI,
            now=now,
            return_url="/wallet",
        )
        desk_hold = holds.hold_seats(
            customer_id=None, schedule_id=trip.id, seat_numbers=["7A"], now=now, sold_by_id=clerk.id
        )
        shift = shifts.open_shift(clerk.id, Decimal("500.00"), now)
        make_promo("HTML10", now=now)
        ids = {
            "route": db.session.scalar(select(Route.id).where(Route.id == trip.route_id)),
            "bus": db.session.scalar(select(Bus.id).where(Bus.id == trip.bus_id)),
            "promo": db.session.scalar(select(PromoCode.id).where(PromoCode.code == "HTML10")),
        }
        people = {"customer": customer.email, "clerk": clerk.email, "admin": admin.email}
        origin = trip.route.origin_city
        trip_id, hold_id, desk_hold_id = trip.id, held.id, desk_hold.id
        payment_id, topup_id, shift_id = gateway.payment_id, topup.payment_id, shift.id
        admin_id = admin.id
    pages = {
        "search": ("nobody", "/", 200),
        "search-results": ("nobody", f"/?origin={origin}&destination=Chennai", 200),
        "login": ("nobody", "/login", 200),
        "register": ("nobody", "/register", 200),
        "seat-map": ("customer", f"/schedules/{trip_id}", 200),
        "checkout": ("customer", f"/holds/{hold_id}", 200),
        "paying": ("customer", f"/holds/{hold_id}/paying", 200),
        "sandbox": ("customer", f"/gateway/sandbox/{payment_id}", 200),
        "bookings": ("customer", "/bookings", 200),
        "booking": ("customer", f"/bookings/{reference}", 200),
        "cancel": ("customer", f"/bookings/{reference}/cancel?seats=5A", 200),
        "wallet": ("customer", "/wallet", 200),
        "topup": ("customer", f"/wallet/topups/{topup_id}", 200),
        "verify-ticket": ("clerk", "/tickets/verify", 200),
        "desk": ("clerk", "/desk", 200),
        "desk-sell": ("clerk", f"/desk/trips/{trip_id}/sell", 200),
        "desk-sale": ("clerk", f"/desk/holds/{desk_hold_id}", 200),
        "desk-booking": ("clerk", f"/desk/bookings/{reference}", 200),
        "desk-cancel": ("clerk", f"/desk/bookings/{reference}/cancel", 200),
        "desk-lookup": ("clerk", "/desk/lookup?q=98", 200),
        "desk-check-in": ("clerk", "/desk/check-in", 200),
        "desk-trip-check-in": ("clerk", f"/desk/trips/{trip_id}/check-in", 200),
        "desk-manifest": ("clerk", f"/desk/trips/{trip_id}/manifest", 200),
        "desk-shift": ("clerk", "/desk/shift", 200),
        "desk-shift-report": ("clerk", f"/desk/shifts/{shift_id}", 200),
        "admin": ("admin", "/admin", 200),
        "admin-holds": ("admin", "/admin/holds", 200),
        "admin-activity": ("admin", "/admin/activity", 200),
        "admin-outbox": ("admin", "/admin/outbox", 200),
        "admin-refunds": ("admin", "/admin/refunds", 200),
        "admin-bookings": ("admin", "/admin/bookings?period=7d", 200),
        "admin-reports": ("admin", "/admin/reports", 200),
        "admin-report-revenue": ("admin", "/admin/reports/revenue-day?period=30d", 200),
        "admin-report-occupancy": ("admin", "/admin/reports/occupancy", 200),
        "admin-report-cancellations": ("admin", "/admin/reports/cancellations", 200),
        "account-password": ("customer", "/account/password", 200),
        "admin-shifts": ("admin", "/admin/shifts", 200),
        "admin-routes": ("admin", "/admin/routes", 200),
        "admin-route-new": ("admin", "/admin/routes/new", 200),
        "admin-route": ("admin", f"/admin/routes/{ids['route']}", 200),
        "admin-buses": ("admin", "/admin/buses", 200),
        "admin-bus-new": ("admin", "/admin/buses/new", 200),
        "admin-bus": ("admin", f"/admin/buses/{ids['bus']}", 200),
        "admin-schedules": ("admin", "/admin/schedules", 200),
        "admin-schedule-new": ("admin", "/admin/schedules/new", 200),
        "admin-schedule": ("admin", f"/admin/schedules/{trip_id}", 200),
        "admin-recurring": ("admin", "/admin/schedules/recurring", 200),
        "admin-upcoming": ("admin", "/admin/timetable/upcoming", 200),
        "admin-trip": ("admin", f"/admin/trips/{trip_id}", 200),
        "admin-promos": ("admin", "/admin/promo-codes", 200),
        "admin-promo-new": ("admin", "/admin/promo-codes/new", 200),
        "admin-promo": ("admin", f"/admin/promo-codes/{ids['promo']}", 200),
        "admin-users": ("admin", "/admin/users", 200),
        "admin-user": ("admin", f"/admin/users/{admin_id}", 200),
        "admin-bulk": ("admin", "/admin/bulk", 302),
        "admin-bulk-routes": ("admin", "/admin/bulk/routes", 200),
        "admin-bulk-buses": ("admin", "/admin/bulk/buses", 200),
        "admin-bulk-schedules": ("admin", "/admin/bulk/schedules", 200),
        "admin-bulk-promos": ("admin", "/admin/bulk/promo_codes", 200),
        "error-404": ("customer", f"/schedules/{uuid.uuid4()}", 404),
        "error-403": ("customer", "/admin", 403),
        "error-400": ("nobody", "/?origin=%00", 400),
        # The return from Razorpay, unsigned: refused with the error page.
        "razorpay-return-refused": (
            "nobody",
            "/payments/razorpay/return?razorpay_payment_id=pay_x",
            400,
        ),
    }
    return pages, people


def test_every_page_is_valid_html_by_the_nu_checker(app, tmp_path):
    """Nu reports no error on any page (hx-* attributes are written data-hx-*, which htmx reads
    as well), and the pages checked cover every HTML route of the app."""
    java = shutil.which("java")
    if java is None:
        missing("Java is not installed (apt-get install default-jre-headless)")
    if not VNU.is_file():
        missing(f"{VNU} is missing: run `bash .ci/setup`")

    pages, people = pages_to_check(app)
    clients = {"nobody": app.test_client()}
    clients.update({who: signed_in(app, user) for who, user in people.items()})
    files, reached = [], set()
    routes = app.url_map.bind("localhost")
    for name, (who, path, status) in pages.items():
        response = clients[who].get(path)
        assert response.status_code == status, (name, path, response.status_code)
        reached.add(routes.match(path.split("?")[0])[0])
        if response.status_code in (301, 302, 303):
            continue  # the page it goes to is checked on its own
        assert response.mimetype == "text/html", (name, path)
        file = tmp_path / f"{name}.html"
        file.write_bytes(response.data)
        files.append(file)

    unchecked = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and rule.endpoint not in NOT_PAGES
    } - reached
    assert not unchecked, f"pages never checked: {sorted(unchecked)}"

    result = subprocess.run(
        [java, "-jar", str(VNU), "--errors-only", "--format", "json", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    messages = json.loads(result.stderr or result.stdout or '{"messages": []}')["messages"]
    errors = [
        f"{Path(m.get('url', '')).name}:{m.get('lastLine', '?')}: {m.get('message')}"
        for m in messages
        if m.get("type") in ("error", "non-document-error")
    ]
    assert not errors, f"{len(errors)} Nu errors:\n" + "\n".join(errors[:60])
