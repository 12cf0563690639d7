"""Request tests of the bulk CSV pages: export, upload and preview (the htmx fragment too),
apply, admins only, the size limit, unknown kinds."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest

from booking.extensions import db
from booking.models import Schedule
from booking.models.enums import Role
from booking.orm import utcnow
from tests.money_support import table_snapshot
from tests.support import make_trip, sign_in_as, text

HTMX = {"HX-Request": "true"}


def snapshot(app) -> dict:
    """Every table's rows as committed."""
    with app.app_context():
        return table_snapshot()


@pytest.fixture
def admin_client(app, client, auth):
    sign_in_as(app, auth, Role.ADMIN)
    return client


@pytest.fixture
def trip_number(app):
    with app.app_context():
        trip = make_trip(now=utcnow(), departs_in=timedelta(days=3), origin="Mysuru")
        return trip.bus.bus_number


def upload(client, data: bytes, kind="schedules", headers=None, name="trips.csv"):
    return client.post(
        f"/admin/bulk/{kind}/preview",
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
        headers=headers or {},
    )


def apply_fields(page: str) -> dict:
    return {
        name: re.search(rf'name="{name}" type="hidden" value="([^"]+)"', page).group(1)
        for name in ("token", "sha256")
    }


def test_page_export_preview_apply(app, admin_client, trip_number):
    page = admin_client.get("/admin/bulk/schedules")
    assert page.status_code == 200
    assert "Export all schedules" in text(page)
    exported = admin_client.get("/admin/bulk/schedules/export.csv?q=mysuru")
    assert exported.mimetype == "text/csv"
    assert "attachment" in exported.headers["Content-Disposition"]
    body = exported.get_data(as_text=True)
    assert trip_number in body
    assert (
        admin_client.get("/admin/bulk/schedules/export.csv?q=nowhere")
        .get_data(as_text=True)
        .count("\n")
        == 1
    )
    edited = body.replace(",500.00,", ",575.00,").encode()

    before = snapshot(app)
    fragment = upload(admin_client, edited, headers=HTMX)
    assert fragment.status_code == 200
    html = text(fragment)
    assert "<html" not in html and "1 to update" in html
    assert "500.00 → <strong>575.00</strong>" in html
    assert snapshot(app) == before

    fields = apply_fields(fragment.get_data(as_text=True))
    done = admin_client.post("/admin/bulk/schedules/apply", data=fields)
    assert done.status_code == 302
    assert "1 updated" in text(admin_client.get(done.headers["Location"]))
    with app.app_context():
        assert db.session.query(Schedule).one().base_price == 575
    # the stored upload is gone after the apply
    again = admin_client.post("/admin/bulk/schedules/apply", data=fields)
    assert again.status_code == 409
    assert "no longer here" in text(again)


def test_preview_with_errors_offers_no_apply(admin_client, trip_number):
    data = f"bus_number,departure,base_price\r\n{trip_number},2020-01-01 10:00,abc\r\n".encode()
    response = upload(admin_client, data)
    assert response.status_code == 200
    html = text(response)
    assert "1 with errors" in html and "Write an amount" in html
    assert 'name="sha256"' not in html


def test_file_level_problem_and_missing_file(admin_client):
    response = upload(admin_client, b"a;b;c\r\n1;2;3\r\n")
    assert "separated by semicolons" in text(response)
    missing = admin_client.post("/admin/bulk/schedules/preview", data={})
    assert missing.status_code == 400
    assert "Choose a CSV file" in text(missing)


def test_a_tampered_hash_is_refused(admin_client, trip_number):
    body = admin_client.get("/admin/bulk/schedules/export.csv").get_data(as_text=True)
    fragment = upload(admin_client, body.replace(",500.00,", ",501.00,").encode())
    fields = apply_fields(fragment.get_data(as_text=True))
    fields["sha256"] = "0" * 64
    assert admin_client.post("/admin/bulk/schedules/apply", data=fields).status_code == 409


def test_size_limit(make_app, auth):
    small = make_app(BULK_MAX_BYTES=1000)
    client = small.test_client()
    from tests.conftest import AuthActions

    sign_in_as(small, AuthActions(client), Role.ADMIN)
    response = upload(client, b"x" * 2000)
    assert response.status_code == 413
    assert "larger than 1000 bytes" in text(response)


def test_unknown_kind_is_404(admin_client):
    assert admin_client.get("/admin/bulk/planets").status_code == 404
    assert admin_client.get("/admin/bulk/planets/export.csv").status_code == 404


@pytest.mark.parametrize("path", ["/admin/bulk/schedules", "/admin/bulk/schedules/export.csv"])
def test_admins_only(app, client, auth, path):
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    sign_in_as(app, auth, Role.STAFF)
    assert client.get(path).status_code == 403
    assert upload(client, b"x").status_code == 403


def test_dashboard_links_to_bulk_edit(admin_client):
    assert "/admin/bulk/schedules" in text(admin_client.get("/admin"))


@pytest.mark.parametrize("kind", ["routes", "buses", "schedules", "promo_codes"])
def test_every_kind_has_a_page_and_an_export(admin_client, trip_number, kind):
    page = admin_client.get(f"/admin/bulk/{kind}")
    assert page.status_code == 200
    exported = admin_client.get(f"/admin/bulk/{kind}/export.csv")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    assert exported.get_data(as_text=True).count("\n") >= 1


def test_routes_upload_and_apply_through_the_page(app, admin_client, trip_number):
    body = admin_client.get("/admin/bulk/routes/export.csv").get_data(as_text=True)
    edited = body.replace(",360,", ",375,").encode()
    fragment = upload(admin_client, edited, kind="routes", headers=HTMX)
    assert "1 to update" in text(fragment)
    fields = apply_fields(fragment.get_data(as_text=True))
    done = admin_client.post("/admin/bulk/routes/apply", data=fields, headers=HTMX)
    assert done.status_code == 200 and "1 updated" in text(done)
    assert ",375," in admin_client.get("/admin/bulk/routes/export.csv").get_data(as_text=True)
