"""Admin pages: the dashboard (live holds, activity and bulk edits build on it)."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from booking.web.admin import bulk_routes, catalog_routes, routes, shift_routes  # noqa: E402, F401
