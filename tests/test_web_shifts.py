"""The shift pages: /desk/shift (open, the drawer, close), /desk/shifts/<id> (the report) and
/admin/shifts (every shift), gated to staff and admins."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from booking.extensions import db
from booking.models import Shift
from booking.models.enums import Role
from booking.orm import utcnow
from booking.services import shifts
from tests.support import make_user, sign_in_as, text


def words(response) -> str:
    """What a person reads on the page: tags dropped, spaces collapsed, money as Rs."""
    plain = re.sub(r"<[^>]+>", " ", text(response))
    return re.sub(r"\s+", " ", plain).replace("₹", "Rs")


def shift_of(app, clerk_id) -> Shift | None:
    """The clerk's open shift, read in its own context."""
    with app.app_context():
        shift = shifts.current_shift(clerk_id)
        if shift is not None:
            db.session.expunge(shift)
        return shift


@pytest.mark.parametrize("path", ["/desk/shift", "/admin/shifts"])
def test_shift_pages_are_gated(client, app, auth, path):
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")
    sign_in_as(app, auth, Role.CUSTOMER)
    assert client.get(path).status_code == 403
    assert client.post("/desk/shift/open", data={"opening_float": "100"}).status_code == 403


def test_a_clerk_opens_watches_and_closes_a_shift(client, app, auth):
    clerk_id = sign_in_as(app, auth, Role.STAFF)
    page = client.get("/desk/shift")
    assert page.status_code == 200 and "Open a shift" in words(page)
    assert 'href="/desk/shift"' in page.text  # in the staff navigation

    opened = client.post("/desk/shift/open", data={"opening_float": "500.00", "station": ""})
    assert opened.status_code == 302 and opened.headers["Location"] == "/desk/shift"
    shift = shift_of(app, clerk_id)
    assert shift.opening_float == Decimal("500.00")

    page = client.get("/desk/shift")
    body = words(page)
    assert "Expected cash in the drawer: Rs 500.00" in body
    assert "Opening float" in body and "Close shift" in body
    fragment = client.get("/desk/shift", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert "Rs 500.00" in words(fragment)

    again = client.post("/desk/shift/open", data={"opening_float": "10"})
    assert again.status_code == 409 and "already have a shift open" in words(again)

    closed = client.post(
        "/desk/shift/close",
        data={"shift_id": str(shift.id), "counted_cash": "490.00", "note": "short by 10"},
    )
    assert closed.status_code == 302
    assert closed.headers["Location"] == f"/desk/shifts/{shift.id}"
    report = client.get(closed.headers["Location"])
    assert report.status_code == 200
    body = words(report)
    assert "Counted cash Rs 490.00" in body and "Variance -Rs 10.00 short" in body
    assert re.search(r'css/shift_report_print\.css\?v=\w+" media="print"', report.text)
    assert "short by 10" in body
    assert shift_of(app, clerk_id) is None


def test_bad_amounts_are_refused_with_the_form(client, app, auth):
    sign_in_as(app, auth, Role.STAFF)
    response = client.post("/desk/shift/open", data={"opening_float": "-5"})
    assert response.status_code == 400 and "cannot be negative" in words(response)
    response = client.post("/desk/shift/open", data={"opening_float": ""})
    assert response.status_code == 400 and "Enter the cash in the drawer" in words(response)


def test_a_clerk_cannot_close_or_read_a_colleagues_shift(client, app, auth):
    with app.app_context():
        colleague = make_user(Role.STAFF)
        shift_id = shifts.open_shift(colleague.id, Decimal("100.00"), utcnow()).id
    sign_in_as(app, auth, Role.STAFF)
    response = client.post(
        "/desk/shift/close", data={"shift_id": str(shift_id), "counted_cash": "100"}
    )
    assert response.status_code == 409 and "Only the clerk who opened" in words(response)
    assert client.get(f"/desk/shifts/{shift_id}").status_code == 404


def test_admin_sees_every_shift_with_variance_and_the_overnight_flag(client, app, auth):
    now = utcnow()
    with app.app_context():
        late = make_user(Role.STAFF, first_name="Nightowl")
        shifts.open_shift(late.id, Decimal("200.00"), now - timedelta(days=1, hours=1))
        done = make_user(Role.STAFF, first_name="Early")
        shift = shifts.open_shift(done.id, Decimal("300.00"), now - timedelta(minutes=5))
        shifts.close_shift(shift.id, done.id, Decimal("310.00"), now)
        db.session.remove()
    sign_in_as(app, auth, Role.ADMIN)
    page = client.get("/admin/shifts")
    assert page.status_code == 200
    body = words(page)
    assert "Nightowl" in body and "open overnight" in body
    assert "Early" in body and "Rs 310.00 Rs 10.00" in body
    fragment = client.get("/admin/shifts?open=1", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text
    assert "Nightowl" in words(fragment) and "Early" not in words(fragment)
    report = client.get(f"/desk/shifts/{shift.id}")
    assert report.status_code == 200 and "Variance Rs 10.00 over" in words(report)


def test_staff_cannot_see_the_admin_list(client, app, auth):
    sign_in_as(app, auth, Role.STAFF)
    assert client.get("/admin/shifts").status_code == 403


def test_the_shift_row_is_kept(app_ctx):
    assert db.session.scalar(select(Shift.id)) is None


def test_flask_users_station_sets_a_staff_members_home_station(runner, app):
    with app.app_context():
        clerk = make_user(Role.STAFF)
        customer = make_user()
        clerk_id, clerk_email, customer_email = clerk.id, clerk.email, customer.email
    result = runner.invoke(args=["users", "station", clerk_email.upper(), " Mysuru "])
    assert result.exit_code == 0, result.output
    assert "works at Mysuru" in result.output
    refused = runner.invoke(args=["users", "station", customer_email, "Mysuru"])
    assert refused.exit_code == 1 and "No staff member" in refused.output
    with app.app_context():
        assert shifts.open_shift(clerk_id, Decimal("0"), utcnow()).station == "Mysuru"


def test_the_admin_dashboard_flags_a_shift_left_open_overnight(midmorning, client, app, auth):
    with app.app_context():
        clerk = make_user(Role.STAFF, first_name="Nightowl", now=utcnow() - timedelta(days=2))
        shifts.open_shift(clerk.id, Decimal("300.00"), utcnow() - timedelta(days=1), station="Pune")
        today = make_user(Role.STAFF, first_name="Earlybird", now=utcnow())
        shifts.open_shift(today.id, Decimal("100.00"), utcnow())
    sign_in_as(app, auth, Role.ADMIN)
    page = words(client.get("/admin"))
    assert "Shifts left open overnight" in page
    assert "Nightowl" in page and "at Pune" in page and "Rs 300.00" in page
    assert "Earlybird" not in page
