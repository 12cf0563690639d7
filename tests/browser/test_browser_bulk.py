"""Bulk CSV edit in the browser: upload an edited export, see the preview swap in, apply it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from booking.extensions import db
from booking.models import Schedule
from booking.models.enums import Role
from booking.orm import utcnow
from booking.services import bulk
from tests.browser.steps import sign_in, trip_on_sale
from tests.support import make_user

pytestmark = pytest.mark.browser


def test_upload_preview_apply(app, page, shoot, tmp_path):
    trip = trip_on_sale(app, origin="Hassan", destination="Mangaluru")
    with app.app_context():
        admin = make_user(Role.ADMIN, now=utcnow(), first_name="Bulk")
        email = admin.email
        exported = bulk.export("schedules", {"q": "Hassan"})
    edited = tmp_path / "schedules.csv"
    edited.write_text(exported.replace(",500.00,", ",560.00,"), encoding="utf-8")
    sign_in(page, email)
    page.goto("/admin")
    page.get_by_role("link", name="Bulk edit").click()
    expect(page.get_by_role("heading", name="Bulk edit: Schedules")).to_be_visible()
    page.get_by_label("CSV file").set_input_files(str(edited))
    page.get_by_role("button", name="Preview").click()
    preview = page.locator(".bulk-preview")
    expect(preview).to_contain_text("1 to update")
    expect(preview).to_contain_text("560.00")
    shoot(page, "bulk-preview")
    with app.app_context():
        assert db.session.get(Schedule, trip.id).base_price == 500
    page.get_by_role("button", name="Apply 1 change(s)").click()
    expect(page.locator("#bulk-result")).to_contain_text("1 updated")
    shoot(page, "bulk-applied")
    with app.app_context():
        assert db.session.get(Schedule, trip.id).base_price == 560
