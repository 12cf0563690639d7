"""Sign in, register, sign out. ``next`` only ever leads back into this site."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from booking.models.enums import Role
from booking.orm import utcnow
from booking.services import accounts
from booking.services.errors import Conflict, DomainError
from booking.web.auth import bp
from booking.web.auth.forms import LoginForm, RegisterForm, SignOutForm

_UNSAFE_IN_NEXT = re.compile(r"[\x00-\x1f\x7f\\]")

HOME_BY_ROLE = {Role.ADMIN: "admin.dashboard", Role.STAFF: "desk.index"}


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


@bp.route("/login", methods=["GET", "POST"])
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
            login_user(user, remember=form.remember.data)
            flash(f"Welcome back, {user.first_name}.", "success")
            return redirect(_safe_next(_home_for(user), form))
    status = 400 if form.errors or form.form_errors else 200
    return render_template("auth/login.html", form=form, next=_safe_next("", form)), status


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
            login_user(user)
            flash("Your account is ready. Welcome aboard!", "success")
            return redirect(_safe_next(url_for("public.home"), form))
    status = 400 if form.errors or form.form_errors else 200
    return render_template("auth/register.html", form=form, next=_safe_next("", form)), status


@bp.post("/logout")
@login_required
def logout():
    """Sign out (a POST with the form's CSRF token, so another site cannot sign people out)."""
    if not SignOutForm().validate():
        abort(400)
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("public.home"))


@bp.app_context_processor
def _sign_out_form() -> dict:
    """The navigation's Sign out form, built only when a page shows it."""
    return {"sign_out_form": SignOutForm}
