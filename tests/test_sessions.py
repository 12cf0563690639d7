"""Sessions that end: on sign out, password change and deactivation (copies of the cookies too),
after an idle timeout by role; the remember-me cookie's flags and life; a new CSRF token at
every sign-in and sign-out."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from booking.config import load_config
from booking.extensions import db
from booking.models import User
from booking.models.enums import Role
from booking.orm import utcnow
from booking.services import accounts, admin_catalog
from tests.support import PASSWORD, make_user, sign_in_as, text

NEW_PASSWORD = "Fresh0Password"


def _customer(app, email: str = "kiran@example.com", role: Role = Role.CUSTOMER):
    """A new account made through the service, with the real clock."""
    with app.app_context():
        return make_user(role, email=email, now=utcnow()).id


def _sign_in(client, email: str = "kiran@example.com", remember: bool = False):
    """POST the login form (ticking "Keep me signed in" when asked)."""
    data = {"email": email, "password": PASSWORD}
    if remember:
        data["remember"] = "y"
    response = client.post("/login", data=data)
    assert response.status_code == 302
    return response


def _with_cookie(app, name: str, value: str):
    """A fresh browser holding only one cookie (a copy someone took)."""
    other = app.test_client()
    other.set_cookie(name, value)
    return other


def _signed_in(client) -> bool:
    """Whether the client's cookies open the customer's bookings."""
    return client.get("/bookings").status_code == 200


# ---- the session and remember-me cookies end --------------------------------------------------


def test_a_session_cookie_copied_before_sign_out_no_longer_opens_bookings(app, client):
    _customer(app)
    _sign_in(client)
    copy = _with_cookie(app, "session", client.get_cookie("session").value)
    assert _signed_in(copy)
    assert client.post("/logout").status_code == 302
    assert not _signed_in(copy)
    assert "/login" in copy.get("/bookings").headers["Location"]


def _change_password(app, client, user_id) -> None:
    response = client.post(
        "/account/password",
        data={"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 302


def _deactivate(app, client, user_id) -> None:
    with app.app_context():
        admin = make_user(Role.ADMIN, now=utcnow())
        admin_catalog.set_user_active(user_id, False, actor_id=admin.id, now=utcnow())
        admin_catalog.set_user_active(user_id, True, actor_id=admin.id, now=utcnow())


def _sign_out(app, client, user_id) -> None:
    assert client.post("/logout").status_code == 302


@pytest.mark.parametrize(
    "event", [_sign_out, _change_password, _deactivate], ids=["sign-out", "password", "deactivate"]
)
def test_a_remember_me_cookie_from_before_stops_working(app, client, event):
    """Sign out, a password change and a deactivation (even one undone since) each end every
    remember-me cookie issued before them."""
    user_id = _customer(app)
    _sign_in(client, remember=True)
    remembered = client.get_cookie("remember_token").value
    assert _signed_in(_with_cookie(app, "remember_token", remembered))
    event(app, client, user_id)
    assert not _signed_in(_with_cookie(app, "remember_token", remembered))


def test_a_password_change_keeps_this_browser_signed_in_and_ends_the_others(app, client):
    user_id = _customer(app)
    _sign_in(client)
    elsewhere = app.test_client()
    _sign_in(elsewhere)
    _change_password(app, client, user_id)
    assert _signed_in(client)
    assert not _signed_in(elsewhere)
    fresh = app.test_client()
    assert (
        fresh.post("/login", data={"email": "kiran@example.com", "password": PASSWORD}).status_code
        == 400
    )
    assert (
        fresh.post(
            "/login", data={"email": "kiran@example.com", "password": NEW_PASSWORD}
        ).status_code
        == 302
    )


def test_a_password_change_needs_the_current_password_and_changes_nothing_without_it(app, client):
    user_id = _customer(app)
    _sign_in(client)
    with app.app_context():
        before = db.session.get(User, user_id).password_hash
    response = client.post(
        "/account/password",
        data={"current": "NotMine123", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 400
    assert "current password is not right" in text(response)
    with app.app_context():
        assert db.session.get(User, user_id).password_hash == before
    assert _signed_in(client)


def test_the_remember_me_cookie_is_lax_httponly_and_lasts_the_setting(app, client):
    _customer(app)
    response = _sign_in(client, remember=True)
    header = next(h for h in response.headers.getlist("Set-Cookie") if "remember_token=" in h)
    assert "SameSite=Lax" in header and "HttpOnly" in header
    assert "Secure" not in header  # outside production: plain http on a laptop works
    expires = datetime.strptime(
        re.search(r"Expires=([^;]+)", header).group(1), "%a, %d %b %Y %H:%M:%S GMT"
    ).replace(tzinfo=UTC)
    days = (expires - datetime.now(UTC)) / timedelta(days=1)
    assert 13.9 < days <= 14  # REMEMBER_COOKIE_DAYS, not Flask-Login's 365


def test_production_marks_the_session_and_remember_me_cookies_secure(monkeypatch, tmp_path):
    monkeypatch.setenv("FLASK_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "production-secret")
    monkeypatch.setenv("REMEMBER_COOKIE_DAYS", "7")
    config = load_config(str(tmp_path))
    assert config["SESSION_COOKIE_SECURE"] and config["REMEMBER_COOKIE_SECURE"]
    assert config["SESSION_COOKIE_SAMESITE"] == config["REMEMBER_COOKIE_SAMESITE"] == "Lax"
    assert config["SESSION_COOKIE_HTTPONLY"] and config["REMEMBER_COOKIE_HTTPONLY"]
    assert config["REMEMBER_COOKIE_DURATION"] == timedelta(days=7)


def test_staff_are_never_remembered_on_a_device(app, client):
    """A counter or back-office computer is shared: "Keep me signed in" is ignored for staff."""
    _customer(app, "clerk@example.com", Role.STAFF)
    response = _sign_in(client, "clerk@example.com", remember=True)
    assert not any("remember_token=" in h for h in response.headers.getlist("Set-Cookie"))


# ---- idle timeout ------------------------------------------------------------------------------


def _idle_for(client, minutes: int) -> None:
    """Make the session look last used ``minutes`` ago."""
    with client.session_transaction() as session:
        session["seen"] -= minutes * 60


def test_staff_are_signed_out_after_thirty_idle_minutes(app, client, auth):
    sign_in_as(app, auth, Role.STAFF)
    _idle_for(client, 29)
    assert client.get("/desk").status_code == 200
    _idle_for(client, 31)
    response = client.get("/desk")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    page = text(client.get(response.headers["Location"]))
    assert "signed out after 30 minutes without activity" in page
    assert client.get("/desk").status_code == 302  # the session stays ended


def test_customers_get_a_longer_idle_timeout(app, client):
    _customer(app)
    _sign_in(client)
    _idle_for(client, 31)
    assert _signed_in(client)
    _idle_for(client, 241)
    assert not _signed_in(client)


def test_a_customer_who_asked_to_be_remembered_outlasts_the_idle_timeout(app, client):
    _customer(app)
    _sign_in(client, remember=True)
    _idle_for(client, 24 * 60)
    assert _signed_in(client)


def test_a_page_polling_itself_does_not_keep_a_staff_session_alive(app, client, auth):
    sign_in_as(app, auth, Role.STAFF)
    _idle_for(client, 20)
    with client.session_transaction() as session:
        seen = session["seen"]
    polled = client.get("/desk/shift", headers={"HX-Request": "true"})
    assert polled.status_code < 500
    with client.session_transaction() as session:
        assert session["seen"] == seen
    client.get("/desk")  # a person at the keyboard
    with client.session_transaction() as session:
        assert session["seen"] > seen


# ---- the CSRF token ------------------------------------------------------------------------------

_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def _token(page) -> str:
    return _TOKEN.search(text(page)).group(1)


@pytest.fixture
def csrf_client(make_app):
    """A browser on an app that checks CSRF tokens, as production does."""
    return make_app(WTF_CSRF_ENABLED=True).test_client()


def test_the_csrf_token_from_before_sign_in_is_refused_after_it(app, csrf_client):
    _customer(app)
    before = _token(csrf_client.get("/login"))
    signed_in = csrf_client.post(
        "/login", data={"email": "kiran@example.com", "password": PASSWORD, "csrf_token": before}
    )
    assert signed_in.status_code == 302
    assert csrf_client.post("/logout", data={"csrf_token": before}).status_code == 400
    after = _token(csrf_client.get("/bookings"))
    assert after != before
    assert csrf_client.post("/logout", data={"csrf_token": after}).status_code == 302


def test_the_csrf_token_from_before_sign_out_is_refused_after_it(app, csrf_client):
    _customer(app)
    page = csrf_client.get("/login")
    csrf_client.post(
        "/login",
        data={"email": "kiran@example.com", "password": PASSWORD, "csrf_token": _token(page)},
    )
    signed_in_token = _token(csrf_client.get("/bookings"))
    assert csrf_client.post("/logout", data={"csrf_token": signed_in_token}).status_code == 302
    again = csrf_client.post(
        "/login",
        data={"email": "kiran@example.com", "password": PASSWORD, "csrf_token": signed_in_token},
    )
    assert again.status_code == 400


def test_an_admin_password_reset_ends_the_sessions_made_before_it(app_ctx):
    """`flask users create-admin` on an existing account resets its password: old cookies end."""
    user = make_user(email="kiran@example.com")
    before = user.get_id()
    accounts.create_admin("kiran@example.com", NEW_PASSWORD, utcnow())
    assert accounts.get_user(before) is None
    assert accounts.get_user(db.session.get(User, user.id).get_id()) is not None
