"""Request tests of the admin catalogue pages: lists (search, filters, sorting, pages, the htmx
table), forms and their error paths, the layout preview, switches, and who may see them."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from booking.extensions import db
from booking.layouts import load_builtin
from booking.models import ActivityLog, Bus, PromoCode, Route, Schedule, User
from booking.models.enums import Role
from booking.orm import utcnow
from booking.services import admin_catalog as catalog
from tests.support import PASSWORD, make_trip, make_user, sign_in_as, text

HTMX = {"HX-Request": "true"}
PAGES = ["/admin/routes", "/admin/buses", "/admin/schedules", "/admin/promo-codes", "/admin/users"]
FORMS = ["/admin/routes/new", "/admin/buses/new", "/admin/schedules/new", "/admin/promo-codes/new"]


@pytest.fixture
def as_admin(app, auth) -> uuid.UUID:
    """Signed in as an admin; returns the admin's id."""
    return sign_in_as(app, auth, Role.ADMIN)


def count(app, model) -> int:
    """Rows of a table."""
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def local(when) -> str:
    """A UTC time as the datetime-local input of the operator's zone wants it."""
    from zoneinfo import ZoneInfo

    return when.astimezone(ZoneInfo("Asia/Kolkata")).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.parametrize("path", PAGES + FORMS)
def test_anonymous_goes_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", [Role.CUSTOMER, Role.STAFF])
@pytest.mark.parametrize("path", PAGES + FORMS)
def test_staff_and_customers_are_refused(app, auth, client, role, path):
    sign_in_as(app, auth, role)
    assert client.get(path).status_code == 403


def test_staff_cannot_post_a_switch(app, auth, client, trip_id):
    sign_in_as(app, auth, Role.STAFF)
    with app.app_context():
        route_id = db.session.get(Schedule, trip_id).route_id
    assert client.post(f"/admin/routes/{route_id}/active", data={"active": "0"}).status_code == 403


@pytest.mark.parametrize("path", PAGES + FORMS)
def test_pages_render_for_admins(client, as_admin, trip_id, path):
    response = client.get(path)
    assert response.status_code == 200, path
    assert "<html" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", PAGES)
def test_htmx_gets_the_table_alone(client, as_admin, trip_id, path):
    response = client.get(path, headers=HTMX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body and "<table>" in body
    assert "HX-Request" in response.headers["Vary"]


def test_admin_navigation_and_dashboard_link_the_pages(client, as_admin):
    body = client.get("/admin").get_data(as_text=True)
    for path in PAGES:
        assert f'href="{path}"' in body


def test_route_list_search_filter_sort(app, client, as_admin):
    with app.app_context():
        for origin, dest, km in [
            ("Pune", "Goa", 450),
            ("Delhi", "Agra", 230),
            ("Goa", "Pune", 450),
        ]:
            catalog.create_route(
                catalog.RouteData(origin, dest, km, 300), actor_id=None, now=utcnow()
            )
    page = text(client.get("/admin/routes?q=goa", headers=HTMX))
    assert "Pune" in page and "Delhi" not in page and "2 in all" in page
    page = text(client.get("/admin/routes?sort=-origin", headers=HTMX))
    assert page.index(">Pune</a>") < page.index(">Goa</a>") < page.index(">Delhi</a>")
    assert 'aria-sort="descending"' in page and "sort=origin" in page


def test_route_created_and_errors_rerender(app, client, as_admin):
    data = {
        "origin_city": "Pune",
        "destination_city": "Goa",
        "distance_km": "450",
        "estimated_duration_minutes": "600",
        "is_active": "y",
    }
    response = client.post("/admin/routes/new", data=data)
    assert response.status_code == 302 and count(app, Route) == 1
    again = client.post("/admin/routes/new", data=data)
    assert again.status_code == 409 and "already exists" in text(again)
    bad = client.post("/admin/routes/new", data={**data, "distance_km": "", "destination_city": ""})
    assert bad.status_code == 400
    assert "Enter the distance." in text(bad) and "Enter the destination city." in text(bad)
    assert count(app, Route) == 1


def test_route_edit_and_deactivate(app, client, as_admin, trip_id):
    with app.app_context():
        route = db.session.get(Schedule, trip_id).route
        route_id, origin = route.id, route.origin_city
    page = client.get(f"/admin/routes/{route_id}")
    assert page.status_code == 200 and origin in text(page)
    response = client.post(f"/admin/routes/{route_id}/active", data={"active": "0"})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Route, route_id).is_active is False


def test_get_changes_nothing(app, client, as_admin, trip_id):
    with app.app_context():
        route_id = db.session.get(Schedule, trip_id).route_id
    before = count(app, ActivityLog)
    client.get(f"/admin/routes/{route_id}/active")
    for path in PAGES + FORMS:
        client.get(path)
    assert count(app, ActivityLog) == before


# ---- buses and the layout preview ----------------------------------------------------------


def bus_form(**changes) -> dict:
    """A valid bus form with a built-in layout."""
    data = {
        "bus_number": "KA01 X 1",
        "bus_type": "sleeper",
        "amenities": "AC, Wi-Fi",
        "builtin_layout": "sleeper_2x1",
        "layout_json": "",
        "is_active": "y",
        "action": "save",
    }
    data.update(changes)
    return data


def test_bus_created_from_a_builtin_layout(app, client, as_admin):
    response = client.post("/admin/buses/new", data=bus_form())
    assert response.status_code == 302
    with app.app_context():
        bus = db.session.scalar(select(Bus))
        assert (bus.bus_number, bus.total_seats, bus.amenities) == ("KA01 X 1", 36, ["AC", "Wi-Fi"])


def test_bus_from_pasted_json_and_preview_with_the_customers_decks(app, client, as_admin):
    layout = json.dumps(load_builtin("semi_sleeper"))
    form = bus_form(builtin_layout="", layout_json=layout, action="preview")
    preview = client.post("/admin/buses/new", data=form)
    body = text(preview)
    assert preview.status_code == 200 and "Preview: 40 seats" in body
    assert 'class="seat-map"' in body and 'data-seat="U12"' in body
    assert count(app, Bus) == 0  # a preview saves nothing
    fragment = client.post("/admin/buses/new", data=form, headers=HTMX)
    assert "<html" not in text(fragment) and 'class="seat-map"' in text(fragment)
    saved = client.post("/admin/buses/new", data={**form, "action": "save"})
    assert saved.status_code == 302 and count(app, Bus) == 1


def test_bus_layout_upload(app, client, as_admin):
    import io

    upload = (io.BytesIO(json.dumps(load_builtin("seater_2x2_40")).encode()), "bus.json")
    form = bus_form(builtin_layout="", layout_file=upload)
    response = client.post("/admin/buses/new", data=form, content_type="multipart/form-data")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Bus.total_seats)) == 40


@pytest.mark.parametrize(
    "layout,message",
    [
        ("{not json", "not valid JSON"),
        (
            json.dumps({"decks": [{"rows": [[{"number": "1A", "ladies_onyl": True}]]}]}),
            "ladies_onyl",
        ),
        (json.dumps({"decks": []}), "decks"),
    ],
)
@pytest.mark.parametrize("action", ["save", "preview"])
def test_layout_errors_shown_on_the_form(app, client, as_admin, layout, message, action):
    response = client.post(
        "/admin/buses/new", data=bus_form(builtin_layout="", layout_json=layout, action=action)
    )
    assert response.status_code == 400 and message in text(response)
    assert "problem" in text(response) and count(app, Bus) == 0


def test_duplicate_bus_number_shown_on_the_field(app, client, as_admin):
    client.post("/admin/buses/new", data=bus_form())
    again = client.post("/admin/buses/new", data=bus_form(bus_number="ka01 x 1"))
    assert again.status_code == 409 and "already in use" in text(again)


def test_bus_edit_shows_the_current_layout(app, client, as_admin, trip_id):
    with app.app_context():
        bus_id = db.session.get(Schedule, trip_id).bus_id
    page = client.get(f"/admin/buses/{bus_id}")
    assert page.status_code == 200 and "Preview: 40 seats" in text(page)
    refused = client.post(
        f"/admin/buses/{bus_id}/active", data={"active": "0"}, follow_redirects=True
    )
    assert "1 upcoming trip" in text(refused)


# ---- schedules -----------------------------------------------------------------------------


def test_schedule_created_from_the_form_and_refusals(app, client, as_admin, trip_id):
    with app.app_context():
        trip = db.session.get(Schedule, trip_id)
        data = {
            "route_id": str(trip.route_id),
            "bus_id": str(trip.bus_id),
            "base_price": "650",
            "departure_at": local(trip.departure_at + timedelta(hours=2)),
            "arrival_at": local(trip.arrival_at + timedelta(hours=2)),
        }
        later = trip.arrival_at + timedelta(days=1)
    overlap = client.post("/admin/schedules/new", data=data)
    assert overlap.status_code == 409 and "overlaps" in text(overlap)
    backwards = client.post(
        "/admin/schedules/new",
        data={
            **data,
            "departure_at": local(later),
            "arrival_at": local(later - timedelta(hours=1)),
        },
    )
    assert backwards.status_code == 400 and "arrival must be after" in text(backwards)
    past = client.post(
        "/admin/schedules/new", data={**data, "departure_at": local(utcnow() - timedelta(hours=3))}
    )
    assert past.status_code == 400 and "future" in text(past)
    missing = client.post("/admin/schedules/new", data={**data, "base_price": ""})
    assert missing.status_code == 400 and "Enter the base fare." in text(missing)
    assert count(app, Schedule) == 1
    ok = client.post(
        "/admin/schedules/new",
        data={
            **data,
            "departure_at": local(later),
            "arrival_at": local(later + timedelta(hours=6)),
        },
    )
    assert ok.status_code == 302 and count(app, Schedule) == 2


def test_schedule_edit_changes_the_fare(app, client, as_admin, trip_id):
    page = client.get(f"/admin/schedules/{trip_id}")
    assert page.status_code == 200 and 'value="500.00"' in text(page)
    with app.app_context():
        trip = db.session.get(Schedule, trip_id)
        data = {
            "route_id": str(trip.route_id),
            "bus_id": str(trip.bus_id),
            "base_price": "720",
            "departure_at": local(trip.departure_at),
            "arrival_at": local(trip.arrival_at),
            "status": "scheduled",
        }
    assert client.post(f"/admin/schedules/{trip_id}", data=data).status_code == 302
    with app.app_context():
        assert str(db.session.get(Schedule, trip_id).base_price) == "720.00"


def test_schedules_paginate_120_trips(app, client, as_admin):
    with app.app_context():
        for day in range(120):
            make_trip(
                now=utcnow(), departs_in=timedelta(days=1, hours=day), origin=f"Town{day:03d}"
            )
    first = text(client.get("/admin/schedules"))
    assert "120 in all" in first and "page 1 of 5" in first and "Town000" in first
    assert "Town025" not in first and "page=2" in first
    last = text(client.get("/admin/schedules?page=5", headers=HTMX))
    assert "Town119" in last and "Town000" not in last and "page 5 of 5" in last
    beyond = text(client.get("/admin/schedules?page=99"))
    assert "page 5 of 5" in beyond
    found = text(client.get("/admin/schedules?q=town007", headers=HTMX))
    assert "1 in all" in found and "Town007" in found
    newest = text(client.get("/admin/schedules?sort=-departure", headers=HTMX))
    assert newest.index("Town119") < newest.index("Town118")


# ---- promo codes ---------------------------------------------------------------------------


def promo_form(**changes) -> dict:
    """A valid promo form: 10% for a month."""
    now = utcnow()
    data = {
        "code": "monsoon10",
        "description": "Monsoon sale",
        "kind": "percent",
        "value": "10",
        "valid_from": local(now),
        "valid_until": local(now + timedelta(days=30)),
        "is_active": "y",
    }
    data.update(changes)
    return data


def test_promo_created_listed_and_switched_off(app, client, as_admin):
    assert client.post("/admin/promo-codes/new", data=promo_form()).status_code == 302
    listing = text(client.get("/admin/promo-codes?kind=percent", headers=HTMX))
    assert "MONSOON10" in listing and "10%" in listing
    again = client.post("/admin/promo-codes/new", data=promo_form())
    assert again.status_code == 409 and "already exists" in text(again)
    bad = client.post("/admin/promo-codes/new", data=promo_form(code="OTHER", value="150"))
    assert bad.status_code == 400 and "1 to 100" in text(bad)
    with app.app_context():
        promo_id = db.session.scalar(select(PromoCode.id))
    assert client.get(f"/admin/promo-codes/{promo_id}").status_code == 200
    client.post(f"/admin/promo-codes/{promo_id}/active", data={"active": "0"})
    with app.app_context():
        assert db.session.get(PromoCode, promo_id).is_active is False


# ---- users ---------------------------------------------------------------------------------


def test_user_role_change_and_deactivation_ends_the_session(app, client, as_admin):
    from tests.conftest import AuthActions

    other = app.test_client()
    with app.app_context():
        clerk = make_user(Role.CUSTOMER, now=utcnow())
        clerk_id, email = clerk.id, clerk.email
    assert AuthActions(other).login(email, PASSWORD).status_code == 302
    assert other.get("/bookings").status_code == 200
    listing = text(client.get("/admin/users?role=customer", headers=HTMX))
    assert email in listing
    response = client.post(
        f"/admin/users/{clerk_id}", data={"role": "staff", "home_station": "Mysuru"}
    )
    assert response.status_code == 302
    with app.app_context():
        user = db.session.get(User, clerk_id)
        assert (user.role, user.home_station) == (Role.STAFF, "Mysuru")
    client.post(f"/admin/users/{clerk_id}/active", data={"active": "0"})
    gone = other.get("/desk")
    assert gone.status_code == 302 and "/login" in gone.headers["Location"]


def test_admin_cannot_demote_themselves(app, client, as_admin):
    response = client.post(f"/admin/users/{as_admin}", data={"role": "customer"})
    assert response.status_code == 400 and "own admin role" in text(response)


def test_route_form_stops_blank_rows_ignored(app, client, as_admin):
    page = text(client.get("/admin/routes/new"))
    assert 'name="stops-2-name"' in page  # three blank rows to type into
    data = {
        "origin_city": "Pune",
        "destination_city": "Goa",
        "distance_km": "450",
        "estimated_duration_minutes": "600",
        "is_active": "y",
        "stops-0-kind": "boarding",
        "stops-0-name": "Swargate",
        "stops-0-minutes_from_departure": "15",
        "stops-1-kind": "boarding",
        "stops-1-name": "",
        "stops-1-minutes_from_departure": "",
        "stops-2-kind": "dropping",
        "stops-2-name": "Panaji",
        "stops-2-minutes_from_departure": "590",
    }
    assert client.post("/admin/routes/new", data=data).status_code == 302
    with app.app_context():
        route = db.session.scalar(select(Route))
        assert [(s.kind.value, s.name) for s in route.stops] == [
            ("boarding", "Swargate"),
            ("dropping", "Panaji"),
        ]
        route_id = route.id
    edit = text(client.get(f"/admin/routes/{route_id}"))
    assert 'value="Swargate"' in edit and 'name="stops-4-name"' in edit
    late = client.post(
        f"/admin/routes/{route_id}", data={**data, "stops-2-minutes_from_departure": "900"}
    )
    assert late.status_code == 400 and "journey time" in text(late)


# ---- many at once --------------------------------------------------------------------------


def _routes(app, n=2) -> list[uuid.UUID]:
    """The route ids of ``n`` fresh trips (two days ahead of the real clock)."""
    with app.app_context():
        return [make_trip(now=utcnow()).route_id for _ in range(n)]


def test_route_list_has_boxes_and_the_action_bar(app, client, as_admin):
    ids = _routes(app)
    body = text(client.get("/admin/routes"))
    assert 'action="/admin/routes/bulk-active"' in body and "Deactivate chosen" in body
    assert f'name="ids" value="{ids[0]}"' in body and 'name="all_on_page"' in body
    assert f'name="page_ids" value="{ids[1]}"' in body
    for path in ("/admin/buses", "/admin/promo-codes"):
        assert "bulk-active" in text(client.get(path)), path


def test_bulk_preview_then_apply(app, client, as_admin):
    ids = _routes(app)
    data = {"ids": [str(i) for i in ids], "active": "0", "step": "preview"}
    preview = client.post("/admin/routes/bulk-active", data=data)
    body = text(preview)
    assert preview.status_code == 200 and "Confirm" in body
    assert body.count(f'name="ids" value="{ids[0]}"') == 1 and 'value="apply"' in body
    with app.app_context():
        assert all(db.session.get(Route, i).is_active for i in ids)  # the preview changed nothing
    response = client.post(
        "/admin/routes/bulk-active", data={**data, "step": "apply", "next": "/admin/routes?q=x"}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/admin/routes?q=x"
    with app.app_context():
        assert not any(db.session.get(Route, i).is_active for i in ids)
        logged = db.session.scalar(
            select(func.count())
            .select_from(ActivityLog)
            .where(ActivityLog.action_type == "route.bulk_deactivated")
        )
        assert logged == 1


def test_choose_all_without_javascript_takes_the_page(app, client, as_admin):
    ids = _routes(app)
    data = {"page_ids": [str(i) for i in ids], "all_on_page": "y", "active": "0"}
    response = client.post("/admin/routes/bulk-active", data={**data, "step": "apply"})
    assert response.status_code == 302
    with app.app_context():
        assert not any(db.session.get(Route, i).is_active for i in ids)


def test_bulk_refusal_409_changes_nothing(app, client, as_admin, monkeypatch):
    from booking.services import admin_routes

    ids = _routes(app)
    with app.app_context():
        name = db.session.get(Route, ids[1]).name
    # ids[1] has sold seats on a trip still to run.
    monkeypatch.setattr(
        admin_routes, "upcoming_sold_trips", lambda route_id, now: int(route_id == ids[1])
    )
    data = {"ids": [str(i) for i in ids], "active": "0", "step": "preview"}
    preview = text(client.post("/admin/routes/bulk-active", data=data))
    assert "Refused:" in preview and name in preview and "Confirm" not in preview
    response = client.post("/admin/routes/bulk-active", data={**data, "step": "apply"})
    body = text(response)
    assert response.status_code == 409 and "Nothing was changed" in body and name in body
    with app.app_context():
        assert all(db.session.get(Route, i).is_active for i in ids)


def test_bulk_nothing_chosen_400(client, as_admin):
    response = client.post("/admin/buses/bulk-active", data={"active": "0", "step": "preview"})
    assert response.status_code == 400 and "Choose at least one" in text(response)


def test_bulk_unknown_kind_404(client, as_admin):
    data = {"ids": [str(uuid.uuid4())], "active": "0"}
    assert client.post("/admin/users/bulk-active", data=data).status_code == 404
    assert client.post("/admin/nothing/bulk-active", data=data).status_code == 404


@pytest.mark.parametrize("role", [Role.CUSTOMER, Role.STAFF])
def test_staff_cannot_bulk_switch(app, auth, client, role):
    ids = _routes(app, 1)
    sign_in_as(app, auth, role)
    data = {"ids": [str(ids[0])], "active": "0", "step": "apply"}
    assert client.post("/admin/routes/bulk-active", data=data).status_code == 403
    with app.app_context():
        assert db.session.get(Route, ids[0]).is_active


def test_schedules_list_posts_chosen_trips_to_the_bulk_actions(app, client, as_admin, trip_id):
    with app.app_context():
        gone = make_trip(now=utcnow(), departs_in=-timedelta(hours=2)).id
    body = text(client.get("/admin/schedules"))
    assert 'action="/admin/schedules/bulk-actions"' in body
    assert f'name="ids" value="{trip_id}" id="choose-{trip_id}" form="trips-bulk-form"' in body
    assert f'name="ids" value="{gone}"' not in body  # already gone: not offered
    for name in ('name="action"', 'name="change"', 'name="value"', 'name="step"'):
        assert name in body
    data = {"ids": [str(trip_id)], "action": "price", "change": "percent", "value": "10"}
    preview = client.post("/admin/schedules/bulk-actions", data={**data, "step": "preview"})
    assert preview.status_code == 200 and "Change prices" in text(preview)
