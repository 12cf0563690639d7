"""Desk views, for staff and admins."""

from __future__ import annotations

from flask import render_template

from booking.models.enums import Role
from booking.orm import utcnow
from booking.services import catalog
from booking.web.access import role_required
from booking.web.desk import bp


@bp.get("")
@role_required(Role.STAFF, Role.ADMIN)
def index():
    """Today's remaining departures with seats left."""
    now = utcnow()
    day = catalog.local_today(now)
    return render_template("desk/index.html", day=day, trips=catalog.trips_on(day, now))
