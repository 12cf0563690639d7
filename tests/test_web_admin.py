"""Request tests of the admin pages (dashboard, live holds with release, activity log, outbox),
the booking desk, and the error pages no stack trace ever gets past."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from flask import Flask

from booking.extensions import db
from booking.models import Reservation
from booking.models.enums import HoldStatus, Role
from booking.orm import utcnow
from booking.services import catalog, holds, payments
from booking.services.details import CheckoutDetails, Passenger
from tests.support import PASSWORD, csrf_token, make_trip, make_user, sign_in_as, text


@pytest.fixture
def live_hold(app) -> tuple[uuid.UUID, uuid.UUID, str]:
    """A customer's live hold on 4C and 4D: (hold id, trip id, customer email)."""
    with app.app_context():
        now = utcnow()
        trip = make_trip(now=now, departs_in=timedelta(days=2), origin="Udupi")
        customer = make_user(email="hold.owner@example.com", now=now)
        hold = holds.hold_seats(
            customer_id=customer.id, schedule_id=trip.id, seat_numbers=["4C", "4D"], now=now
        )
        return hold.id, trip.id, customer.email


def hold_status(app: Flask, hold_id: uuid.UUID) -> HoldStatus:
    """A hold's status, read afresh."""
    with app.app_context():
        return db.session.get(Reservation, hold_id).status


# ---- gates ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/admin", "/admin/holds", "/admin/activity", "/admin/outbox", "/desk"]
)
def test_admin_and_desk_pages_are_gated(client, app, auth, path):
    """Anonymous: to sign in with next; a customer: 403."""
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")
    sign_in_as(app, auth, Role.CUSTOMER)
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("role", [Role.CUSTOMER, Role.STAFF])
def test_only_admins_may_release_a_hold(client, app, auth, live_hold, role):
    """A customer or clerk posting a release gets 403 and the hold stays."""
    hold_id, _, _ = live_hold
    sign_in_as(app, auth, role)
    response = client.post(f"/admin/holds/{hold_id}/release", data={"reason": "because"})
    assert response.status_code == 403
    assert hold_status(app, hold_id) == HoldStatus.ACTIVE


# ---- dashboard and live holds --------------------------------------------------------------------


def test_dashboard_counts_live_holds(midmorning, client, app, auth, live_hold):
    """Today's numbers, one live hold among them."""
    sign_in_as(app, auth, Role.ADMIN)
    response = client.get("/admin")
    assert response.status_code == 200
    assert re.search(r'id="figure-live-holds">1</strong>', response.text)


def test_live_holds_lists_a_hold_with_its_time_left(client, app, auth, live_hold):
    """The hold, its seats, its customer and minutes and seconds left; htmx gets the table."""
    sign_in_as(app, auth, Role.ADMIN)
    page = client.get("/admin/holds")
    fragment = client.get("/admin/holds", headers={"HX-Request": "true"})
    assert page.status_code == fragment.status_code == 200
    assert "<html" in page.text and "<html" not in fragment.text
    assert "HX-Request" in page.headers["Vary"] and "HX-Request" in fragment.headers["Vary"]
    body = text(fragment)
    assert "4C, 4D" in body and "hold.owner@example.com" in body and "Udupi" in body
    left = re.search(r'<span class="hold-clock"[^>]*>(\d+)m (\d\d)s</span>', body)
    assert left and 13 <= int(left.group(1)) <= 14  # HOLD_MINUTES = 15, just started


def test_a_lapsed_hold_is_listed_as_lapsed(client, app, auth, live_hold):
    """Past its expiry, before the sweep: listed with "lapsed", not negative time."""
    hold_id, _, _ = live_hold
    with app.app_context():
        hold = db.session.get(Reservation, hold_id)
        hold.reserved_at = utcnow() - timedelta(minutes=30)
        hold.expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    sign_in_as(app, auth, Role.ADMIN)
    body = text(client.get("/admin/holds", headers={"HX-Request": "true"}))
    assert '<td class="num"><span class="muted">lapsed</span></td>' in body


def test_no_holds_says_so(client, app, auth):
    """Nobody holding anything: the empty message."""
    sign_in_as(app, auth, Role.ADMIN)
    assert "No one is holding seats right now." in client.get("/admin/holds").text


@pytest.mark.parametrize("reason", ["", "   "])
def test_releasing_a_hold_needs_a_reason(client, app, auth, live_hold, reason):
    """No reason: the console again (422) with the server's message beside that hold's field,
    which is marked invalid and described by it; the hold is untouched."""
    hold_id, _, _ = live_hold
    sign_in_as(app, auth, Role.ADMIN)
    response = client.post(f"/admin/holds/{hold_id}/release", data={"reason": reason})
    assert response.status_code == 422
    body = text(response)
    message = "Give a reason for releasing this hold."
    assert f'<p class="error" id="reason-error-{hold_id}">{message}</p>' in body
    box = re.search(rf'<input [^>]*id="reason-{hold_id}"[^>]*>', body).group(0)
    assert 'aria-invalid="true"' in box and f'aria-describedby="reason-error-{hold_id}"' in box
    assert hold_status(app, hold_id) == HoldStatus.ACTIVE


def test_releasing_a_hold_with_a_reason_frees_its_seats_and_is_logged(client, app, auth, live_hold):
    """Released: the message, the seats free on the seat map, the reason in the activity log."""
    hold_id, trip_id, _ = live_hold
    sign_in_as(app, auth, Role.ADMIN)
    response = client.post(
        f"/admin/holds/{hold_id}/release", data={"reason": "customer phoned to cancel"}
    )
    assert response.status_code == 302
    page = text(client.get("/admin/holds"))
    assert "Hold released; its seats are free again." in page
    assert "No one is holding seats right now." in page
    assert hold_status(app, hold_id) == HoldStatus.RELEASED
    seat_map = client.get(f"/schedules/{trip_id}").text
    assert 'data-seat="4C" data-state="available"' in seat_map
    log = text(client.get("/admin/activity?entity_type=reservation"))
    assert "customer phoned to cancel" in log


def test_releasing_an_unknown_hold_says_so(client, app, auth):
    """An id that is no hold: back to the list with the message."""
    sign_in_as(app, auth, Role.ADMIN)
    response = client.post(f"/admin/holds/{uuid.uuid4()}/release", data={"reason": "x"})
    assert response.status_code == 302
    assert "We could not find that hold." in text(client.get("/admin/holds"))


# ---- activity log --------------------------------------------------------------------------------


def test_activity_lists_events_and_filters_by_entity_and_action(client, app, auth, live_hold):
    """All events; only holds with entity_type; only user events with action=user."""
    sign_in_as(app, auth, Role.ADMIN)
    everything = client.get("/admin/activity")
    assert everything.status_code == 200 and "<html" in everything.text
    assert "hold.created" in everything.text and "user.registered" in everything.text
    assert '<option value="reservation">' in everything.text  # the filter offers what exists

    holds_only = client.get(
        "/admin/activity?entity_type=reservation", headers={"HX-Request": "true"}
    )
    assert "<html" not in holds_only.text and "HX-Request" in holds_only.headers["Vary"]
    assert "hold.created" in holds_only.text and "user.registered" not in holds_only.text
    assert "hold.owner@example.com" in holds_only.text

    users_only = text(client.get("/admin/activity?action=user"))
    actions = set(re.findall(r"<td><code>([\w.]+)</code></td>", users_only))
    assert actions and all(action.startswith("user.") for action in actions)


def test_activity_with_a_filter_matching_nothing_says_so(client, app, auth):
    """An unknown entity type: the empty row, not an error."""
    sign_in_as(app, auth, Role.ADMIN)
    response = client.get("/admin/activity?entity_type=spaceship")
    assert response.status_code == 200 and "No activity matches." in response.text


# ---- outbox --------------------------------------------------------------------------------------


def test_outbox_shows_the_confirmation_email_after_a_booking(client, app, auth):
    """A booking writes its confirmation to the outbox, which the admin can read."""
    with app.app_context():
        now = utcnow()
        trip = make_trip(now=now, departs_in=timedelta(days=2))
        customer = make_user(wallet="1000", now=now)
        hold = holds.hold_seats(
            customer_id=customer.id, schedule_id=trip.id, seat_numbers=["2A"], now=now
        )
        details = CheckoutDetails(
            passengers=(Passenger("2A", "Priya Raman", 30, "female"),),
            contact_name="Priya Raman",
            contact_phone="9876543210",
            contact_email="priya.outbox@example.com",
        )
        reference = payments.pay_with_wallet(
            hold_id=hold.id, customer_id=customer.id, details=details, now=now
        ).reference
    sign_in_as(app, auth, Role.ADMIN)
    response = client.get("/admin/outbox")
    assert response.status_code == 200
    body = text(response)
    assert "To priya.outbox@example.com" in body and reference in body
    assert "ticket attached" in body and "No mail server is configured" in body


def test_an_empty_outbox_says_so(client, app, auth):
    """No emails yet."""
    sign_in_as(app, auth, Role.ADMIN)
    assert "No emails yet." in client.get("/admin/outbox").text


# ---- the desk ------------------------------------------------------------------------------------


def test_the_desk_lists_the_rest_of_todays_departures(midmorning, client, app, auth):
    """Staff see today's departures still to leave, with the seats left; not tomorrow's."""
    with app.app_context():
        now = utcnow()
        _, end_of_today = catalog.local_day_bounds(catalog.local_today(now))
        make_trip(now=now, departs_in=(end_of_today - now) / 2, origin="Kollam")
        make_trip(now=now, departs_in=end_of_today - now + timedelta(hours=1), origin="Kannur")
    sign_in_as(app, auth, Role.STAFF)
    response = client.get("/desk")
    assert response.status_code == 200
    body = text(response)
    assert "Kollam → Chennai" in body and "<td>40</td>" in body
    assert "Kannur" not in body


# ---- no stack trace reaches a user ---------------------------------------------------------------


@pytest.fixture
def fragile_app(make_app, monkeypatch):
    """An app that shows errors as a user would see them, whose search service crashes."""
    from booking.services import catalog

    def explode(**_kwargs):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(catalog, "search", explode)
    return make_app(PROPAGATE_EXCEPTIONS=False)


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_a_crash_in_a_real_view_shows_the_500_page_without_a_trace(fragile_app, htmx):
    """The search view crashes: a plain 500 page, nothing of the exception shown."""
    headers = {"HX-Request": "true"} if htmx else {}
    response = fragile_app.test_client().get("/", headers=headers)
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Something went wrong on our side" in body
    assert "hunter2" not in body and "Traceback" not in body and "RuntimeError" not in body


def test_a_crash_at_the_webhook_is_a_json_500(make_app, monkeypatch):
    """The gateway gets a JSON 500 it can retry on, not an HTML page."""
    from booking.services import webhooks

    def explode(*_args):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(webhooks, "receive_webhook", explode)
    app = make_app(PROPAGATE_EXCEPTIONS=False)
    response = app.test_client().post("/payments/webhook", data=b"{}")
    assert response.status_code == 500
    assert response.get_json() == {
        "error": {
            "status": 500,
            "message": "Something went wrong on our side. Please try again in a moment.",
        }
    }


def test_a_missing_page_inside_an_area_is_the_404_page(client, app, auth):
    """A malformed hold id or an unknown admin page: the site's 404."""
    sign_in_as(app, auth, Role.ADMIN)
    for path in ("/holds/not-a-uuid", "/admin/nothing-here", "/wallet/topups/123"):
        response = client.get(path)
        assert response.status_code == 404 and "We could not find that page." in response.text


def test_a_wrong_method_is_the_405_page(client):
    """GET on a POST-only address: the 405 page, not a stack trace."""
    response = client.get(f"/schedules/{uuid.uuid4()}/holds")
    assert response.status_code == 405 and "That action is not allowed here." in response.text


def test_the_release_reason_has_a_visible_label_and_the_server_checks_it(
    client, app, auth, live_hold
):
    """Each row's reason box has a label a sighted admin reads, naming the seats for a screen
    reader; it is marked required for assistive technology but not for the browser, so an
    empty submit reaches the server and its message (not the browser's bubble)."""
    hold_id, _, _ = live_hold
    sign_in_as(app, auth, Role.ADMIN)
    page = client.get("/admin/holds").text
    label = re.search(rf'<label for="reason-{hold_id}">(.*?)</label>', page).group(1)
    assert label == 'Reason for releasing<span class="visually-hidden"> seats 4C, 4D</span>'
    box = re.search(rf'<input [^>]*id="reason-{hold_id}"[^>]*>', page).group(0)
    assert 'name="reason"' in box and 'aria-required="true"' in box and 'maxlength="200"' in box
    assert " required" not in box


def test_with_csrf_on_releasing_takes_the_token_the_list_renders(make_app, app, live_hold):
    """CSRF on: a release without the list's token is refused; with it, an empty reason gets
    the server's message and a real one releases the hold."""
    hold_id, _, _ = live_hold
    client = make_app(WTF_CSRF_ENABLED=True).test_client()
    with app.app_context():
        email = make_user(Role.ADMIN, now=utcnow()).email
    login = csrf_token(client.get("/login").text)
    client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": login})
    release = f"/admin/holds/{hold_id}/release"

    refused = client.post(release, data={"reason": "no token"})
    assert refused.status_code == 400 and "This form has expired" in refused.text
    token = csrf_token(client.get("/admin/holds").text)
    empty = client.post(release, data={"reason": " ", "csrf_token": token})
    assert empty.status_code == 422
    assert "Give a reason for releasing this hold." in text(empty)
    assert hold_status(app, hold_id) == HoldStatus.ACTIVE
    done = client.post(release, data={"reason": "duplicate hold", "csrf_token": token})
    assert done.status_code == 302 and hold_status(app, hold_id) == HoldStatus.RELEASED
