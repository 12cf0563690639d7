"""Request tests of the timetable pages: recurring trips, a trip's operations page, the
upcoming-trips chooser and its bulk actions; gates, fragments and error paths."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from booking.extensions import db
from booking.models import Schedule
from booking.models.enums import Role, ScheduleStatus
from booking.orm import utcnow
from booking.services import catalog
from tests.support import make_trip, sign_in_as, text


@pytest.fixture
def admin_client(client, app, auth):
    """A client signed in as an admin."""
    sign_in_as(app, auth, Role.ADMIN)
    return client


def a_trip(app, **kw):
    """A trip two days ahead of the real clock: (id, route id, bus id)."""
    with app.app_context():
        trip = make_trip(now=utcnow(), **kw)
        return trip.id, trip.route_id, trip.bus_id


def schedule(app, schedule_id) -> Schedule:
    with app.app_context():
        row = db.session.get(Schedule, schedule_id)
        db.session.expunge(row)
        return row


def count_trips(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Schedule))


# ---- gates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/admin/schedules/recurring", "/admin/timetable/upcoming", "/admin/trips/{id}"]
)
def test_timetable_pages_are_for_admins_only(client, app, auth, path):
    trip_id, _, _ = a_trip(app)
    url = path.format(id=trip_id)
    response = client.get(url)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")
    sign_in_as(app, auth, Role.STAFF)
    assert client.get(url).status_code == 403


@pytest.mark.parametrize(
    "path",
    [
        "/admin/schedules/recurring",
        "/admin/schedules/bulk-actions",
        "/admin/trips/{id}/cancel",
        "/admin/trips/{id}/bus",
        "/admin/trips/{id}/departed",
    ],
)
def test_timetable_posts_are_for_admins_only(client, app, auth, path):
    trip_id, _, _ = a_trip(app)
    sign_in_as(app, auth, Role.CUSTOMER)
    response = client.post(path.format(id=trip_id), data={"reason": "x", "confirm": "y"})
    assert response.status_code == 403
    assert schedule(app, trip_id).status == ScheduleStatus.SCHEDULED


# ---- recurring trips ----------------------------------------------------------------------------


def recurring_data(route_id, bus_id, app, **kw):
    with app.app_context():
        today = catalog.local_today(utcnow())
    data = {
        "route_id": str(route_id),
        "bus_id": str(bus_id),
        "first_day": (today + timedelta(days=10)).isoformat(),
        "last_day": (today + timedelta(days=16)).isoformat(),
        "weekdays": ["0", "3"],
        "departure_times": "07:15, 20:00",
        "base_price": "480",
        "on_conflict": "skip",
        "action": "preview",
    }
    data.update(kw)
    return data


def test_recurring_preview_then_create_then_nothing_new(admin_client, app):
    _, route_id, bus_id = a_trip(app)
    page = admin_client.get("/admin/schedules/recurring")
    assert page.status_code == 200 and "Days of the week" in text(page)
    data = recurring_data(route_id, bus_id, app)

    preview = admin_client.post("/admin/schedules/recurring", data=data)
    body = text(preview)
    assert preview.status_code == 200 and body.count("Will be created") == 4
    assert "Create 4 trip(s)" in body and count_trips(app) == 1  # a preview creates nothing

    fragment = admin_client.post(
        "/admin/schedules/recurring", data=data, headers={"HX-Request": "true"}
    )
    assert "<html" not in fragment.text and "Will be created" in fragment.text

    created = admin_client.post("/admin/schedules/recurring", data={**data, "action": "create"})
    assert created.status_code == 302 and created.headers["Location"] == "/admin/timetable/upcoming"
    assert count_trips(app) == 5
    listing = text(admin_client.get("/admin/timetable/upcoming"))
    assert "4 trip(s) created." in listing

    again = admin_client.post(
        "/admin/schedules/recurring",
        data={**data, "action": "create"},
        headers={"HX-Request": "true"},
    )
    assert again.status_code == 204 and again.headers["HX-Redirect"] == "/admin/timetable/upcoming"
    assert count_trips(app) == 5
    assert "0 trip(s) created; 4 already existed." in text(
        admin_client.get(again.location or "/admin/timetable/upcoming")
    )


def test_recurring_errors_rerender_with_messages(admin_client, app):
    _, route_id, bus_id = a_trip(app)
    bad_time = admin_client.post(
        "/admin/schedules/recurring",
        data=recurring_data(route_id, bus_id, app, departure_times="7 am"),
    )
    assert bad_time.status_code == 400 and "'7' is not a time" in text(bad_time)
    no_days = admin_client.post(
        "/admin/schedules/recurring", data=recurring_data(route_id, bus_id, app, weekdays=[])
    )
    assert no_days.status_code == 400 and "Choose at least one day of the week." in text(no_days)
    backwards = recurring_data(route_id, bus_id, app)
    backwards["last_day"], backwards["first_day"] = backwards["first_day"], backwards["last_day"]
    refused = admin_client.post("/admin/schedules/recurring", data=backwards)
    assert refused.status_code == 400 and "on or after the first day" in text(refused)
    assert count_trips(app) == 1


# ---- one trip -----------------------------------------------------------------------------------


def test_trip_page_shows_status_seats_and_operations(admin_client, app):
    trip_id, _, _ = a_trip(app)
    page = admin_client.get(f"/admin/trips/{trip_id}")
    body = text(page)
    assert page.status_code == 200
    assert "Scheduled" in body and "0 sold" in body and "40 free" in body
    assert "Mark departed" in body and "Cancel trip" in body and "Change bus" in body
    fragment = admin_client.get(f"/admin/trips/{trip_id}", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and "40 free" in fragment.text
    assert admin_client.get(f"/admin/trips/{uuid.uuid4()}").status_code == 404


def test_cancel_needs_a_reason_and_the_tick_then_cancels(admin_client, app):
    trip_id, _, _ = a_trip(app)
    unticked = admin_client.post(f"/admin/trips/{trip_id}/cancel", data={"reason": "Flood"})
    assert unticked.status_code == 400 and "Tick the box" in text(unticked)
    no_reason = admin_client.post(f"/admin/trips/{trip_id}/cancel", data={"confirm": "y"})
    assert no_reason.status_code == 400 and "Give a reason" in text(no_reason)
    assert schedule(app, trip_id).status == ScheduleStatus.SCHEDULED
    done = admin_client.post(
        f"/admin/trips/{trip_id}/cancel", data={"reason": "Flood", "confirm": "y"}
    )
    assert done.status_code == 302
    assert schedule(app, trip_id).status == ScheduleStatus.CANCELLED
    assert "Trip cancelled: 0 booking(s)" in text(admin_client.get(done.location))


def test_swap_bus_from_the_page(admin_client, app):
    trip_id, _, old_bus = a_trip(app)
    _, _, new_bus = a_trip(app, layout="sleeper_2x1", departs_in=timedelta(days=200))
    empty = admin_client.post(f"/admin/trips/{trip_id}/bus", data={"bus_id": ""})
    assert empty.status_code == 400 and "Choose a bus." in text(empty)
    same = admin_client.post(f"/admin/trips/{trip_id}/bus", data={"bus_id": str(old_bus)})
    assert same.status_code == 400 and "already runs with bus" in text(same)
    moved = admin_client.post(f"/admin/trips/{trip_id}/bus", data={"bus_id": str(new_bus)})
    assert moved.status_code == 302 and schedule(app, trip_id).bus_id == new_bus
    assert "36 free" in text(admin_client.get(moved.location))


def test_mark_departed_from_the_page(admin_client, app):
    early_id, _, _ = a_trip(app)
    too_early = admin_client.post(f"/admin/trips/{early_id}/departed")
    assert too_early.status_code == 400 and "2 hours before departure" in text(too_early)
    trip_id, _, _ = a_trip(app, departs_in=timedelta(minutes=20))
    done = admin_client.post(f"/admin/trips/{trip_id}/departed")
    assert done.status_code == 302
    assert schedule(app, trip_id).status == ScheduleStatus.DEPARTED
    assert "no longer on sale" in text(admin_client.get(done.location))


# ---- choosing trips and acting on them ----------------------------------------------------------


def test_upcoming_lists_trips_with_checkboxes_and_pages(admin_client, app):
    ids = [a_trip(app, departs_in=timedelta(days=2, hours=n))[0] for n in range(3)]
    page = admin_client.get("/admin/timetable/upcoming")
    assert page.status_code == 200
    assert all(f'name="ids" value="{i}"' in page.text for i in ids)
    fragment = admin_client.get("/admin/timetable/upcoming?page=9", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and str(ids[0]) in fragment.text


def test_price_bulk_action_previews_then_applies(admin_client, app):
    first, _, _ = a_trip(app)
    second, _, _ = a_trip(app, base_price="300.00")
    data = {
        "ids": [str(first), str(second)],
        "action": "price",
        "change": "percent",
        "value": "10",
        "step": "preview",
    }
    preview = admin_client.post("/admin/schedules/bulk-actions", data=data)
    body = text(preview)
    assert preview.status_code == 200 and "Rs 550.00" in body and "Rs 330.00" in body
    assert schedule(app, first).base_price == Decimal("500.00")
    applied = admin_client.post("/admin/schedules/bulk-actions", data={**data, "step": "apply"})
    assert applied.status_code == 302
    assert schedule(app, first).base_price == Decimal("550.00")
    assert schedule(app, second).base_price == Decimal("330.00")
    assert "Base price changed on 2 trip(s)." in text(admin_client.get(applied.location))


def test_bulk_action_errors(admin_client, app):
    trip_id, _, _ = a_trip(app)
    none = admin_client.post("/admin/schedules/bulk-actions", data={"action": "price"})
    assert none.status_code == 400 and "Choose at least one trip." in text(none)
    no_value = admin_client.post(
        "/admin/schedules/bulk-actions", data={"ids": [str(trip_id)], "action": "price"}
    )
    assert no_value.status_code == 400 and "Give the percentage or amount" in text(no_value)
    too_low = admin_client.post(
        "/admin/schedules/bulk-actions",
        data={
            "ids": [str(trip_id)],
            "action": "price",
            "change": "amount",
            "value": "-600",
            "step": "apply",
        },
    )
    assert too_low.status_code == 400 and "not be above zero" in text(too_low)
    early = admin_client.post(
        "/admin/schedules/bulk-actions", data={"ids": [str(trip_id)], "action": "departed"}
    )
    assert early.status_code == 400 and "2 hours before departure" in text(early)
    assert schedule(app, trip_id).base_price == Decimal("500.00")


def test_departed_bulk_action_previews_then_applies(admin_client, app):
    trip_id, _, _ = a_trip(app, departs_in=timedelta(minutes=30))
    data = {"ids": [str(trip_id)], "action": "departed", "step": "preview"}
    preview = admin_client.post("/admin/schedules/bulk-actions", data=data)
    assert preview.status_code == 200 and "will be marked departed" in text(preview)
    assert schedule(app, trip_id).status == ScheduleStatus.SCHEDULED
    applied = admin_client.post("/admin/schedules/bulk-actions", data={**data, "step": "apply"})
    assert applied.status_code == 302
    assert schedule(app, trip_id).status == ScheduleStatus.DEPARTED
