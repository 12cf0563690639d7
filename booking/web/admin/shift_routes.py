"""The admin's list of counter shifts."""

from __future__ import annotations

from flask import request

from booking.models.enums import Role
from booking.orm import utcnow
from booking.services import shifts
from booking.web.access import role_required
from booking.web.admin import bp
from booking.web.htmx import render


@bp.get("/shifts", endpoint="shifts")
@role_required(Role.ADMIN)
def shifts_list():
    """Every shift with its clerk, station, expected and counted cash, variance, and a flag on
    those left open overnight (``?open=1``: only open ones)."""
    open_only = request.args.get("open") == "1"
    return render(
        "admin/shifts.html",
        "admin/_shifts.html",
        rows=shifts.shifts_for_admin(utcnow(), open_only=open_only),
        open_only=open_only,
    )
