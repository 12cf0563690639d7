"""Admin pages: the dashboard (live holds, activity and bulk edits build on it)."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from booking.web.admin import routes, shift_routes, timetable_routes  # noqa: E402, F401
