"""Accounts: registration rules, sign-in, role gates, CSRF, create-admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from booking.extensions import db
from booking.models import ActivityLog, User, Wallet
from booking.models.enums import Role
from booking.services import accounts
from booking.services.errors import Conflict, DomainError
from tests.support import NOW, PASSWORD, make_user

GOOD = {
    "first_name": "Meera",
    "last_name": "Pillai",
    "email": "Meera.Pillai@Example.com",
    "phone": "+91 98450 12345",
    "password": "Secret123",
    "confirm": "Secret123",
}


def actions(action_type: str) -> int:
    """How many activity rows of one kind exist."""
    return db.session.scalar(
        select(func.count()).select_from(ActivityLog).where(ActivityLog.action_type == action_type)
    )


# ---- registration ------------------------------------------------------------------------


def test_register_creates_a_customer_with_a_wallet_signs_in_and_logs_it(client, app):
    """A good form creates a lower-cased customer account with an empty wallet."""
    response = client.post("/register", data=GOOD)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "meera.pillai@example.com"))
        assert user.role == Role.CUSTOMER and user.phone == "919845012345"
        assert user.password_hash != "Secret123" and user.password_hash.startswith("pbkdf2")
        assert db.session.scalar(select(Wallet.balance).where(Wallet.user_id == user.id)) == 0
        assert actions("user.registered") == 1
    assert "Meera" in client.get("/").get_data(as_text=True)  # signed in


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "not-an-email", "Enter a valid email address"),
        ("phone", "12345", "10 to 15 digits"),
        ("phone", "1234567890123456", "10 to 15 digits"),
        ("password", "short1A", "at least 8 characters"),
        ("password", "alllowercase1", "upper-case letter"),
        ("password", "ALLUPPERCASE1", "lower-case letter"),
        ("password", "NoDigitsHere", "a digit"),
        ("first_name", "", "Enter your first name."),
    ],
)
def test_register_refuses_bad_fields_and_keeps_what_was_typed(client, app, field, value, message):
    """Each bad field re-renders the form with its message, the typed values kept, no account."""
    data = dict(GOOD, **{field: value})
    if field == "password":
        data["confirm"] = value
    response = client.post("/register", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in page
    assert 'value="Pillai"' in page  # what the person typed stays
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_register_refuses_a_mismatched_confirmation(client):
    """The repeated password must match."""
    response = client.post("/register", data=dict(GOOD, confirm="Secret124"))
    assert response.status_code == 400
    assert "The passwords differ." in response.get_data(as_text=True)


def test_register_refuses_an_email_that_differs_only_in_case(client, app):
    """Emails are unique whatever their case."""
    with app.app_context():
        make_user(email="meera.pillai@example.com")
    response = client.post("/register", data=GOOD)
    assert response.status_code == 400
    assert "already exists" in response.get_data(as_text=True)


def test_register_service_checks_rules_without_the_form(app_ctx):
    """The service enforces the rules itself, for callers other than the form."""
    with pytest.raises(DomainError, match="at least 8 characters"):
        accounts.register(
            email="a@example.com",
            password="weak",
            first_name="A",
            last_name="B",
            phone="9800000000",
            now=NOW,
        )
    with pytest.raises(DomainError, match="10 to 15 digits"):
        accounts.register(
            email="a@example.com",
            password=PASSWORD,
            first_name="A",
            last_name="B",
            phone="98",
            now=NOW,
        )
    make_user(email="dup@example.com")
    with pytest.raises(Conflict):
        accounts.register(
            email="DUP@example.com",
            password=PASSWORD,
            first_name="A",
            last_name="B",
            phone="9800000000",
            now=NOW,
        )


# ---- sign in -----------------------------------------------------------------------------


def test_login_with_the_right_password_signs_in_and_logs_it(client, auth, app):
    """A correct email (any case) and password signs in."""
    with app.app_context():
        make_user(email="kiran@example.com")
    response = auth.login("KIRAN@example.com", PASSWORD)
    assert response.status_code == 302
    with app.app_context():
        assert actions("user.login") == 1


def test_login_error_does_not_say_whether_the_email_exists(client, auth, app):
    """Unknown email and wrong password get the same message, and both are logged."""
    with app.app_context():
        make_user(email="kiran@example.com")
    unknown = auth.login("nobody@example.com", PASSWORD)
    wrong = auth.login("kiran@example.com", "Wrong12345")
    assert unknown.status_code == wrong.status_code == 400
    message = accounts.LOGIN_FAILED
    assert message in unknown.get_data(as_text=True)
    assert message in wrong.get_data(as_text=True)
    assert 'value="kiran@example.com"' in wrong.get_data(as_text=True)
    with app.app_context():
        assert actions("user.login_failed") == 2


def test_wrong_passwords_never_lock_the_account(app_ctx):
    """Failures are throttled by address in the web layer; the account itself is never locked,
    so the right password works right after many wrong ones (nobody can lock a person out)."""
    make_user(email="kiran@example.com")
    for attempt in range(12):
        with pytest.raises(DomainError):
            accounts.authenticate(
                "kiran@example.com", "Wrong12345", NOW + timedelta(seconds=attempt)
            )
    assert accounts.authenticate("kiran@example.com", PASSWORD, NOW + timedelta(minutes=1))


def test_an_inactive_account_cannot_sign_in(app_ctx):
    """A deactivated account is refused with the same message."""
    user = make_user(email="gone@example.com")
    user.is_active = False
    db.session.commit()
    with pytest.raises(DomainError, match="Email or password is incorrect"):
        accounts.authenticate("gone@example.com", PASSWORD, NOW)


def test_next_only_leads_back_into_the_site(client, auth, app):
    """A local next is followed; an outside one is ignored."""
    with app.app_context():
        make_user(email="kiran@example.com")
    inside = client.post(
        "/login?next=/healthz", data={"email": "kiran@example.com", "password": PASSWORD}
    )
    assert inside.headers["Location"] == "/healthz"
    auth.logout()
    outside = client.post(
        "/login?next=https://evil.example/",
        data={"email": "kiran@example.com", "password": PASSWORD},
    )
    assert outside.headers["Location"] == "/"


@pytest.mark.parametrize(
    "target",
    ["/account%0d%0aSet-Cookie:%20x=1", "/a%0ab", "/%5Cevil.example", "//[evil"],
    ids=["crlf", "lf", "backslash", "bad-ipv6"],
)
def test_an_unsafe_next_is_treated_as_absent(client, auth, app, target):
    """A next that could split the Location header or leave the site is ignored, not a 500."""
    with app.app_context():
        make_user(email="kiran@example.com")
    assert client.get(f"/login?next={target}").status_code == 200
    response = client.post(
        f"/login?next={target}", data={"email": "kiran@example.com", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get(f"/login?next={target}").headers["Location"] == "/"


def test_logout_needs_a_post(client, auth, app):
    """GET /logout does nothing; POST signs out."""
    with app.app_context():
        make_user(email="kiran@example.com")
    auth.login("kiran@example.com", PASSWORD)
    assert client.get("/logout").status_code == 405
    assert auth.logout().status_code == 302
    assert "Sign in" in client.get("/").get_data(as_text=True)


# ---- roles ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/admin", "/desk"])
def test_anonymous_visitors_are_sent_to_sign_in_with_next(client, path):
    """A gated page redirects anonymous visitors to /login?next=<page>."""
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next=%2F{path[1:]}"


@pytest.mark.parametrize(
    ("role", "path", "status"),
    [
        (Role.CUSTOMER, "/admin", 403),
        (Role.CUSTOMER, "/desk", 403),
        (Role.STAFF, "/admin", 403),
        (Role.STAFF, "/desk", 200),
        (Role.ADMIN, "/admin", 200),
        (Role.ADMIN, "/desk", 200),
    ],
)
def test_role_gates(client, auth, app, role, path, status):
    """Each role reaches its own pages and gets the 403 page elsewhere."""
    with app.app_context():
        user = make_user(role)
    auth.login(user.email, PASSWORD)
    response = client.get(path)
    assert response.status_code == status
    if status == 403:
        assert "You do not have access to this page." in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("role", "visible", "hidden"),
    [
        (Role.CUSTOMER, [], ["Admin", "Booking desk"]),
        (Role.STAFF, ["Booking desk"], ["Admin"]),
        (Role.ADMIN, ["Admin"], []),
    ],
)
def test_navigation_fits_the_role(client, auth, app, role, visible, hidden):
    """Signed-in users see the links of their role only."""
    with app.app_context():
        user = make_user(role)
    auth.login(user.email, PASSWORD)
    nav = client.get("/").get_data(as_text=True).split('aria-label="Main"')[1].split("</nav>")[0]
    for label in visible:
        assert f">{label}</a>" in nav
    for label in hidden:
        assert f">{label}</a>" not in nav
    assert "Sign out" in nav


# ---- CSRF ----------------------------------------------------------------------------------


@pytest.fixture
def csrf_client(make_app):
    """A client of an app with CSRF protection on, as in production."""
    return make_app(WTF_CSRF_ENABLED=True).test_client()


def test_csrf_refuses_a_post_without_a_token(csrf_client, app):
    """A form POST without the token is refused with the 400 page and changes nothing."""
    response = csrf_client.post("/register", data=GOOD)
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_csrf_accepts_the_token_from_the_form(csrf_client, app):
    """The token rendered into the form lets the same POST through."""
    page = csrf_client.get("/register").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    response = csrf_client.post("/register", data=dict(GOOD, csrf_token=token))
    assert response.status_code == 302


# ---- CLI -----------------------------------------------------------------------------------


def test_create_admin_reads_the_password_from_the_environment(runner, app):
    """`flask users create-admin EMAIL` with ADMIN_PASSWORD set makes an admin."""
    result = runner.invoke(
        args=["users", "create-admin", "Boss@Example.com"], env={"ADMIN_PASSWORD": "Chief1234"}
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = accounts.authenticate("boss@example.com", "Chief1234", NOW)
        assert user.role == Role.ADMIN


def test_create_admin_asks_for_the_password_and_refuses_a_weak_one(runner, app):
    """Without the variable it prompts; a weak password is refused with the rule."""
    weak = runner.invoke(args=["users", "create-admin", "a@example.com"], input="weak\nweak\n")
    assert weak.exit_code != 0 and "at least 8 characters" in weak.output
    ok = runner.invoke(
        args=["users", "create-admin", "a@example.com"], input="Chief1234\nChief1234\n"
    )
    assert ok.exit_code == 0, ok.output
    with app.app_context():
        assert db.session.scalar(select(User.role).where(User.email == "a@example.com")) == "admin"
