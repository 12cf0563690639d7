"""Accounts: registration, sign-in (every failure alike, in words and in time), sessions that
end (sign out, password change, deactivation), and admin creation."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from functools import cache

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from booking.database import unit_of_work
from booking.extensions import db
from booking.models import User, Wallet
from booking.models.enums import Role
from booking.services import audit
from booking.services.errors import Conflict, DomainError

PASSWORD_RULE = "at least 8 characters with an upper-case letter, a lower-case letter and a digit"
LOGIN_FAILED = "Email or password is incorrect."

MESSAGES = {
    "email": "That email address is not valid: {reason}",
    "phone": "Enter a phone number of 10 to 15 digits.",
    "password": f"Choose a password of {PASSWORD_RULE}.",
    "names": "Enter your first and last name.",
    "taken": "An account with that email already exists. Sign in instead.",
    "login_failed": LOGIN_FAILED,
    "wrong_password": "Your current password is not right; nothing was changed.",
    "no_admin": "No active admin has the email {email!r}.",
    "no_staff": "No staff member or admin has the email {email!r}.",
    "station": "Give the station's city, up to 80 characters.",
}


class AccountError(DomainError):
    """Registration or sign-in was refused."""


def normalize_email(email: str) -> str:
    """Validate an address and return it lower-cased.

    :raise AccountError: when it is not a valid email address.
    """
    try:
        result = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise AccountError(MESSAGES["email"].format(reason=exc)) from exc
    return result.normalized.lower()


def password_problem(password: str) -> str | None:
    """Return why a password is too weak, or None when it is acceptable."""
    if (
        len(password) < 8
        or not re.search(r"[A-Z]", password)
        or not re.search(r"[a-z]", password)
        or not re.search(r"\d", password)
    ):
        return MESSAGES["password"]
    return None


def normalize_phone(phone: str) -> str:
    """Strip spaces, dashes and a leading + from a phone number and check it has 10-15 digits.

    :raise AccountError: when it does not.
    """
    digits = re.sub(r"[\s\-()+]", "", phone or "")
    if not re.fullmatch(r"\d{10,15}", digits):
        raise AccountError(MESSAGES["phone"])
    return digits


def _dummy_hash() -> str:
    """A hash of nothing in particular (made with the configured method, so checking it costs
    what checking a real one does), checked against when there is no usable account."""
    return _dummy_hash_for(current_app.config.get("PASSWORD_HASH_METHOD", "scrypt"))


@cache
def _dummy_hash_for(method: str) -> str:
    """The dummy hash for one hashing method, made once."""
    return generate_password_hash("not-a-password", method=method)


def _hash(password: str) -> str:
    """Hash a password with the configured method."""
    return generate_password_hash(
        password, method=current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
    )


def register(
    *,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
    phone: str,
    now: datetime,
    role: Role = Role.CUSTOMER,
    actor_id: uuid.UUID | None = None,
) -> User:
    """Create an account (and its wallet) after checking every field.

    :raise AccountError: for an invalid field; Conflict when the email is already registered.
    """
    email = normalize_email(email)
    phone = normalize_phone(phone)
    problem = password_problem(password)
    if problem:
        raise AccountError(problem)
    if not first_name.strip() or not last_name.strip():
        raise AccountError(MESSAGES["names"])
    try:
        with unit_of_work() as session:
            if session.scalar(select(User.id).where(User.email == email)) is not None:
                raise Conflict(MESSAGES["taken"])
            user = User(
                email=email,
                password_hash=_hash(password),
                first_name=first_name.strip(),
                last_name=last_name.strip(),
                phone=phone,
                role=role,
                created_at=now,
                updated_at=now,
            )
            session.add(user)
            session.flush()
            session.add(Wallet(user_id=user.id, created_at=now, updated_at=now))
            audit.record(
                "user", user.id, "user.registered", actor_id=actor_id or user.id, at=now, role=role
            )
    except IntegrityError as exc:
        # Two registrations of one address at the same moment: the unique index decides.
        raise Conflict(MESSAGES["taken"]) from exc
    audit.log_event("user.registered", user=user.id, role=role)
    return user


def authenticate(email: str, password: str, now: datetime) -> User:
    """Return the user for a correct email and password.

    Failures never say whether the email exists, and every one of them (unknown or malformed
    email, wrong password, deactivated account) checks a password hash, so none answers faster
    than another. Repeated failures are throttled by the web layer (per address and per address
    and account), never by locking the account: nobody can lock another person out.

    :raise AccountError: with the same message for every kind of failure.
    """
    failed = AccountError(MESSAGES["login_failed"])
    try:
        email = normalize_email(email)
    except AccountError:
        spend_a_password_check(password)
        raise failed from None
    with unit_of_work() as session:
        user = session.scalar(select(User).where(User.email == email))
        usable = user is not None and user.is_active
        # Always one hash check, against the dummy when there is no usable account.
        correct = check_password_hash(user.password_hash if usable else _dummy_hash(), password)
        if user is None:
            audit.record("login", email, "user.login_failed", actor_id=None, at=now, reason="no")
            audit.log_event("user.login_failed", reason="unknown_email")
            outcome = None
        elif not usable or not correct:
            reason = "inactive" if not usable else "password"
            audit.record(
                "user", user.id, "user.login_failed", actor_id=user.id, at=now, reason=reason
            )
            audit.log_event("user.login_failed", user=user.id, reason=reason)
            outcome = None
        else:
            audit.record("user", user.id, "user.login", actor_id=user.id, at=now)
            outcome = user
    if outcome is None:
        raise failed
    audit.log_event("user.login", user=outcome.id)
    return outcome


def spend_a_password_check(password: str) -> None:
    """Check ``password`` against the dummy hash: a refusal that needs no account (a throttled
    attempt, a malformed email) takes as long as a real check."""
    check_password_hash(_dummy_hash(), password or "")


def end_sessions(user_id: uuid.UUID, now: datetime, reason: str = "signed_out") -> None:
    """Sign the account out everywhere: every session and remember-me cookie issued so far stops
    naming it (they carry the session version this raises). Harmless for an unknown id."""
    with unit_of_work() as session:
        user = session.get(User, user_id, with_for_update=True)
        if user is None:
            return
        _new_session_version(user, now)
        audit.record("user", user.id, "user.sessions_ended", actor_id=user.id, at=now, why=reason)


def change_password(user_id: uuid.UUID, current: str, new: str, now: datetime) -> User:
    """Change a password after checking the current one; every other session and remember-me
    cookie of the account ends (the caller signs this one in again).

    :raise AccountError: for a wrong current password or a weak new one.
    """
    problem = password_problem(new or "")
    with unit_of_work() as session:
        user = session.get(User, user_id, with_for_update=True)
        if user is None or not check_password_hash(user.password_hash, current or ""):
            raise AccountError(MESSAGES["wrong_password"])
        if problem:
            raise AccountError(problem)
        user.password_hash = _hash(new)
        _new_session_version(user, now)
        audit.record("user", user.id, "user.password_changed", actor_id=user.id, at=now)
    audit.log_event("user.password_changed", user=user.id)
    return user


def _new_session_version(user: User, now: datetime) -> None:
    """Inside the caller's transaction (the user row locked): end every session issued so far."""
    user.session_version += 1
    user.updated_at = now


def create_admin(email: str, password: str, now: datetime) -> User:
    """Create an admin account, or promote and reset the password of an existing one.

    :raise AccountError: for an invalid email or a weak password.
    """
    email = normalize_email(email)
    problem = password_problem(password)
    if problem:
        raise AccountError(problem)
    existing = db.session.scalar(select(User).where(User.email == email))
    if existing is None:
        return register(
            email=email,
            password=password,
            first_name="Admin",
            last_name=email.split("@")[0],
            phone="0000000000",
            now=now,
            role=Role.ADMIN,
        )
    with unit_of_work():
        existing.role = Role.ADMIN
        existing.password_hash = _hash(password)
        existing.is_active = True
        _new_session_version(existing, now)  # a reset password ends the sessions made before
        audit.record("user", existing.id, "user.promoted_admin", actor_id=None, at=now)
    return existing


def admin_by_email(email: str) -> User:
    """An active admin account, by email (for ops commands that act in an admin's name).

    :raise AccountError: when no active admin has that email.
    """
    user = db.session.scalar(select(User).where(User.email == normalize_email(email)))
    if user is None or user.role != Role.ADMIN or not user.is_active:
        raise AccountError(MESSAGES["no_admin"].format(email=email))
    return user


def set_home_station(email: str, city: str, now: datetime) -> User:
    """Set the home station (a city) of a staff member or admin; their shifts default to it.

    :raise AccountError: for an unknown email, a customer, or an empty or overlong city.
    """
    city = " ".join((city or "").split())
    if not city or len(city) > 80:
        raise AccountError(MESSAGES["station"])
    with unit_of_work() as session:
        user = session.scalar(select(User).where(User.email == normalize_email(email)))
        if user is None or user.role not in (Role.STAFF, Role.ADMIN):
            raise AccountError(MESSAGES["no_staff"].format(email=email))
        user.home_station = city
        user.updated_at = now
        audit.record("user", user.id, "user.station_set", actor_id=None, at=now, station=city)
    return user


def get_user(session_id: str | uuid.UUID) -> User | None:
    """Load a user from the id a session or remember-me cookie carries (``<id>:<version>``, see
    User.get_id). None for a malformed or unknown id, an old session version (signed out, password
    changed, deactivated since) and a deactivated account: such sessions are over."""
    user_id, _, version = str(session_id).partition(":")
    try:
        key = uuid.UUID(user_id)
    except ValueError:
        return None
    user = db.session.get(User, key)
    if user is None or not user.is_active or version != str(user.session_version):
        return None
    return user
