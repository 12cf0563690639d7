"""Admin views; every one is for admins only."""

from __future__ import annotations

from flask import render_template

from booking.models.enums import Role
from booking.orm import utcnow
from booking.services import metrics
from booking.web.access import role_required
from booking.web.admin import bp


@bp.get("")
@role_required(Role.ADMIN)
def dashboard():
    """Today's numbers at a glance."""
    return render_template("admin/dashboard.html", stats=metrics.dashboard(utcnow()))
