"""Sign in (throttled), register, sign out, change the password. ``next`` only ever leads back
into this site.

Failed sign-ins are throttled with Flask-Limiter, never by locking the account: by address
(LOGIN_LIMIT_PER_IP, whatever the accounts tried) and by address and account together
(LOGIN_LIMIT_PER_ACCOUNT). Each limit is a ladder (a minute, then an hour, then a day), so the
wait grows with the failures. Someone guessing at a person's password from their own address
slows only themselves: the person, from any other address, signs in as usual.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required

from booking.extensions import limiter
from booking.models.enums import Role
from booking.orm import utcnow
from booking.services import accounts
from booking.services.errors import Conflict, DomainError
from booking.web.auth import bp
from booking.web.auth.forms import LoginForm, PasswordForm, RegisterForm, SignOutForm
from booking.web.auth.sessions import sign_in, sign_out

_UNSAFE_IN_NEXT = re.compile(r"[\x00-\x1f\x7f\\]")

HOME_BY_ROLE = {Role.ADMIN: "admin.dashboard", Role.STAFF: "desk.index"}
THROTTLED = (
    "Too many failed sign-in attempts from here. Wait {wait} and try again, or use "
    "another device you have signed in from before."
)


def _safe_next(default: str, form: LoginForm | RegisterForm | None = None) -> str:
    """The ``next`` target (query string, else the form's field) when it is a path on this site,
    else ``default``."""
    target = request.args.get("next") or (form.next.data if form else None) or ""
    if _UNSAFE_IN_NEXT.search(target):  # CR/LF would split the Location header; \ is //
        return default
    try:
        parts = urlsplit(target)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return default
    if target.startswith("/") and not target.startswith("//") and not parts.netloc:
        return target
    return default


def _home_for(user) -> str:
    """Where a user lands after signing in."""
    endpoint = HOME_BY_ROLE.get(user.role, "public.home")
    try:
        return url_for(endpoint)
    except Exception:  # an area not installed in this build falls back to the home page
        return url_for("public.home")


def _failed(response) -> bool:
    """Only failed attempts count towards the sign-in limits."""
    return response.status_code >= 400


def _address_and_account() -> str:
    """The throttle key of one address trying one account (the email as typed, folded)."""
    email = " ".join(str(request.form.get("email", "")).split()).lower()
    return f"{get_remote_address()}|{email[:254]}"


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_IP"],
    methods=["POST"],
    deduct_when=_failed,
    scope="login-address",
)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
    key_func=_address_and_account,
    methods=["POST"],
    deduct_when=_failed,
    scope="login-account",
)
def login():
    """Sign in with email and password."""
    if current_user.is_authenticated:
        return redirect(_safe_next(_home_for(current_user)))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(form.email.data, form.password.data, utcnow())
        except DomainError as error:
            form.form_errors.append(error.message)
        else:
            sign_in(user, remember=form.remember.data)
            flash(f"Welcome back, {user.first_name}.", "success")
            return redirect(_safe_next(_home_for(user), form))
    elif request.method == "POST":
        accounts.spend_a_password_check(str(request.form.get("password", "")))
    status = 400 if form.errors or form.form_errors else 200
    return render_template("auth/login.html", form=form, next=_safe_next("", form)), status


@bp.errorhandler(429)
def _throttled(error):
    """Past a sign-in limit: the form again with the wait, after as long as a real check."""
    accounts.spend_a_password_check(str(request.form.get("password", "")))
    limit = limiter.current_limit
    seconds = max(1, int(limit.reset_at - utcnow().timestamp())) if limit else 60
    wait = f"{-(-seconds // 60)} minutes" if seconds > 90 else f"{seconds} seconds"
    form = LoginForm(formdata=None, email=request.form.get("email", ""))
    form.form_errors.append(THROTTLED.format(wait=wait))
    page = render_template("auth/login.html", form=form, next=_safe_next("", form))
    return page, 429, {"Retry-After": str(seconds)}


@bp.route("/register", methods=["GET", "POST"])
def register():
    """Create a customer account and sign in."""
    if current_user.is_authenticated:
        return redirect(url_for("public.home"))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = accounts.register(
                email=form.email.data,
                password=form.password.data,
                first_name=form.first_name.data,
                last_name=form.last_name.data,
                phone=form.phone.data,
                now=utcnow(),
            )
        except Conflict as error:
            form.email.errors.append(error.message)
        except DomainError as error:
            form.form_errors.append(error.message)
        else:
            sign_in(user)
            flash("Your account is ready. Welcome aboard!", "success")
            return redirect(_safe_next(url_for("public.home"), form))
    status = 400 if form.errors or form.form_errors else 200
    return render_template("auth/register.html", form=form, next=_safe_next("", form)), status


@bp.post("/logout")
@login_required
def logout():
    """Sign out everywhere (a POST with the form's CSRF token, so another site cannot sign people
    out): every session and remember-me cookie of the account ends, copies included."""
    if not SignOutForm().validate():
        abort(400)
    accounts.end_sessions(current_user.id, utcnow())
    sign_out()
    flash("You are signed out.", "info")
    return redirect(url_for("public.home"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change the password; every other session of the account ends, this one carries on."""
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            user = accounts.change_password(
                current_user.id, form.current.data, form.password.data, utcnow()
            )
        except DomainError as error:
            form.form_errors.append(error.message)
        else:
            sign_in(user)
            flash("Your password is changed. Other devices are signed out.", "success")
            return redirect(_home_for(user))
    status = 400 if form.errors or form.form_errors else 200
    return render_template("auth/password.html", form=form), status


@bp.app_context_processor
def _sign_out_form() -> dict:
    """The navigation's Sign out form, built only when a page shows it."""
    return {"sign_out_form": SignOutForm}
