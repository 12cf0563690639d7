"""Pages every visitor meets: home with trips, htmx fragments, health and error pages."""

from __future__ import annotations

from datetime import timedelta

import pytest

from booking.formatting import local_time
from booking.orm import utcnow
from tests.support import make_trip


@pytest.fixture
def todays_trip(app):
    """A trip 90 minutes from now, and the query string of its (operator's) departure day."""
    with app.app_context():
        trip = make_trip(now=utcnow(), departs_in=timedelta(minutes=90), origin="Bengaluru")
        return f"date={local_time(trip.departure_at, '%Y-%m-%d')}"


def test_home_lists_todays_trips_with_the_search_form(client, app, todays_trip):
    """The home page has the search form and shows the day's trip with fare and seats left."""
    response = client.get(f"/?{todays_trip}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" in page and 'name="origin"' in page and 'name="date"' in page
    assert "Bengaluru → Chennai" in page
    assert "40 seats left" in page and "Rs 500.00" in page
    assert '<option value="Bengaluru">' in page  # city suggestions


def test_home_answers_htmx_with_the_results_fragment_only(client, todays_trip):
    """An htmx request gets the fragment (no <html>), with Vary: HX-Request."""
    response = client.get(f"/?origin=Bengaluru&{todays_trip}", headers={"HX-Request": "true"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in page and "Bengaluru → Chennai" in page
    assert "HX-Request" in response.headers["Vary"]
    boosted = client.get("/", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert "<html" in boosted.get_data(as_text=True)


def test_search_filters_by_city(client, todays_trip):
    """A destination with no trips shows the empty message."""
    page = client.get(f"/?origin=Bengaluru&destination=Mumbai&{todays_trip}").get_data(as_text=True)
    assert "No trips match" in page and "Bengaluru → Chennai" not in page


def test_a_past_date_is_refused_with_a_message(client):
    """Dates before today get a field error, and today's trips are shown instead."""
    page = client.get("/?date=2020-01-01").get_data(as_text=True)
    assert "Choose today or a later date." in page


def test_healthz_reports_the_database(client):
    """/healthz answers JSON with the database state."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_unknown_page_gets_the_html_404(client):
    """404 is a page of the site, not a stack trace."""
    response = client.get("/no-such-page")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "We could not find that page." in page and "<html" in page


def test_unknown_api_path_gets_json_404(client):
    """Under /api/ errors are JSON."""
    response = client.get("/api/v1/nothing")
    assert response.status_code == 404
    assert response.get_json()["error"]["status"] == 404


def test_an_unexpected_error_shows_the_500_page_without_a_trace(make_app):
    """A crash inside a view is logged and the visitor sees a plain 500 page."""
    app = make_app(PROPAGATE_EXCEPTIONS=False)

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    response = app.test_client().get("/boom")
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something went wrong on our side" in page
    assert "secret internals" not in page and "Traceback" not in page


def test_secret_key_is_generated_once_and_kept_in_instance(tmp_path, monkeypatch):
    """Without SECRET_KEY a key is made under instance/ and reused; production refuses."""
    from booking.config import load_config

    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("FLASK_ENV", raising=False)
    first = load_config(str(tmp_path))["SECRET_KEY"]
    assert len(first) == 64 and load_config(str(tmp_path))["SECRET_KEY"] == first
    monkeypatch.setenv("FLASK_ENV", "production")
    with pytest.raises(RuntimeError, match="SECRET_KEY must be set"):
        load_config(str(tmp_path / "other"))
