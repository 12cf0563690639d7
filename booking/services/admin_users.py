"""The admin back office's users: role, deactivation (its sessions end for good), a clerk's home
station. House rules as in services.admin_catalog."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select

from booking.database import unit_of_work
from booking.extensions import db
from booking.models import User
from booking.models.enums import Role
from booking.services import audit
from booking.services.admin_common import CatalogError, Page, flag, like, ordered, paginate
from booking.services.errors import NotFound

MESSAGES = {
    "not_found": "We could not find that account.",
    "role": "Choose a role: customer, staff or admin.",
    "self_role": "You cannot take away your own admin role.",
    "self_deactivate": "You cannot deactivate your own account.",
    "station": "A home station is a city name of up to 80 characters.",
    "station_staff": "Only counter staff and admins have a home station.",
}
USER_SORTS = {
    "email": User.email,
    "name": User.last_name,
    "role": User.role,
    "active": User.is_active,
    "created": User.created_at,
}


def list_users(
    filters: Mapping[str, Any] | None = None,
    sort: str | None = None,
    page: int | None = 1,
    per_page: int | None = 25,
) -> Page[User]:
    """Accounts matching ``filters`` (q: email, name or phone; role; active: yes/no), sorted,
    one page."""
    filters = filters or {}
    query = select(User)
    if q := (filters.get("q") or "").strip():
        pattern = like(q)
        query = query.where(
            or_(
                User.email.like(pattern, escape="\\"),
                func.lower(User.first_name).like(pattern, escape="\\"),
                func.lower(User.last_name).like(pattern, escape="\\"),
                User.phone.like(pattern, escape="\\"),
            )
        )
    if (role := filters.get("role")) in {r.value for r in Role}:
        query = query.where(User.role == Role(role))
    if (active := flag(filters.get("active"))) is not None:
        query = query.where(User.is_active.is_(active))
    query = ordered(query, sort, USER_SORTS, "email").order_by(User.id)
    return paginate(query, page, per_page)


def get_account(user_id: uuid.UUID) -> User:
    """One account. :raise NotFound: when it does not exist."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(MESSAGES["not_found"])
    return user


def _locked(user_id: uuid.UUID) -> User:
    """The account, locked for update. :raise NotFound."""
    user = db.session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound(MESSAGES["not_found"])
    return user


def update_user(
    user_id: uuid.UUID,
    *,
    role: Role | str,
    home_station: str | None,
    actor_id: uuid.UUID | None,
    now: datetime,
) -> User:
    """Change an account's role and (for staff and admins) home station.

    :raise CatalogError: a bad role or station, or an admin demoting themselves.
    """
    try:
        new_role = Role(role)
    except ValueError:
        raise CatalogError(MESSAGES["role"], field="role") from None
    station = " ".join((home_station or "").split()) or None
    if station is not None and len(station) > 80:
        raise CatalogError(MESSAGES["station"], field="home_station")
    if station is not None and new_role == Role.CUSTOMER:
        raise CatalogError(MESSAGES["station_staff"], field="home_station")
    with unit_of_work():
        user = _locked(user_id)
        if user.id == actor_id and new_role != Role.ADMIN:
            raise CatalogError(MESSAGES["self_role"], field="role")
        changes = {}
        if user.role != new_role:
            changes["role"] = [user.role, new_role]
            user.role = new_role
        if user.home_station != station:
            changes["home_station"] = [user.home_station, station]
            user.home_station = station
        user.updated_at = now
        audit.record("user", user.id, "user.updated", actor_id=actor_id, at=now, **changes)
    return user


def set_user_active(
    user_id: uuid.UUID, active: bool, *, actor_id: uuid.UUID | None, now: datetime
) -> User:
    """Activate or deactivate an account. An inactive account cannot sign in; deactivating ends
    its sessions and remember-me cookies, so they stay dead when it is activated again."""
    with unit_of_work():
        user = _locked(user_id)
        if not active and user.id == actor_id:
            raise CatalogError(MESSAGES["self_deactivate"])
        if user.is_active and not active:
            user.session_version += 1  # its sessions and remember-me cookies end for good
        user.is_active = active
        user.updated_at = now
        action = "user.activated" if active else "user.deactivated"
        audit.record("user", user.id, action, actor_id=actor_id, at=now, email=user.email)
    return user
