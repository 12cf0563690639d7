"""Sessions that end: a fresh session (and CSRF token) at every sign-in and sign-out, and an idle
timeout by role. Ending a session everywhere (sign out, password change, deactivation) is the
session version's job (User.get_id, accounts.get_user); this module handles this browser.

A session remembers when its person was last seen (``seen``, epoch seconds). One idle longer
than STAFF_IDLE_MINUTES (staff, admins) or CUSTOMER_IDLE_MINUTES (customers) is signed out at its
next request. A customer who ticked "Keep me signed in" (``keep``) stays signed in for the
remember-me cookie's life instead. Pages that poll (a live list refreshing itself) are not
activity: a desk left open on a shared computer still times out.
"""

from __future__ import annotations

from flask import Flask, flash, request, session
from flask_login import current_user, login_user, logout_user, user_loaded_from_cookie

from booking.models.enums import Role
from booking.orm import utcnow
from booking.web.htmx import is_htmx

# htmx GETs that pages repeat on a timer (hx-trigger="every ..."): no one is at the keyboard.
POLLED_ENDPOINTS = frozenset(
    {"admin.holds", "desk.shift", "checkout.paying", "account.topup_status"}
)
IDLE_MESSAGE = "You were signed out after {minutes} minutes without activity. Sign in again."


def sign_in(user, remember: bool = False) -> None:
    """Start a new session for ``user``: nothing of the session before (its CSRF token above
    all) carries over. Only customers may be remembered on a device."""
    keep = bool(remember) and user.role == Role.CUSTOMER
    session.clear()
    login_user(user, remember=keep)
    session["seen"] = _now()
    if keep:
        session["keep"] = True


def sign_out() -> None:
    """End this browser's session: a new, empty one (new CSRF token) and the remember-me cookie
    deleted."""
    session.clear()
    logout_user()  # after clear: it marks the remember-me cookie for deletion in the new session


def idle_limit_minutes(user) -> int:
    """How long a session of ``user`` may sit unused."""
    from flask import current_app

    config = current_app.config
    if user.role in (Role.STAFF, Role.ADMIN):
        return config["STAFF_IDLE_MINUTES"]
    return config["CUSTOMER_IDLE_MINUTES"]


def _now() -> int:
    """Now, in whole seconds since the epoch (what the session stores)."""
    return int(utcnow().timestamp())


def _polled() -> bool:
    """Whether this request is a page refreshing itself on a timer."""
    return request.method == "GET" and is_htmx() and request.endpoint in POLLED_ENDPOINTS


def register(app: Flask) -> None:
    """Install the idle check and mark sessions restored from a remember-me cookie."""

    @user_loaded_from_cookie.connect_via(app)
    def _restored(_app, user) -> None:
        session["keep"] = True
        session["seen"] = _now()

    @app.before_request
    def _end_idle_session() -> None:
        if request.endpoint == "static" or not current_user.is_authenticated:
            return
        now, seen = _now(), session.get("seen")
        minutes = idle_limit_minutes(current_user)
        if not session.get("keep") and isinstance(seen, int) and now - seen > minutes * 60:
            sign_out()
            flash(IDLE_MESSAGE.format(minutes=minutes), "info")
            return  # the view runs for a visitor: a page that needs an account asks to sign in
        if not _polled() or not isinstance(seen, int):
            session["seen"] = now
