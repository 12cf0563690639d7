"""The booking desk for counter staff."""

from flask import Blueprint

bp = Blueprint("desk", __name__, url_prefix="/desk")

from booking.web.desk import checkin_routes, manifest_routes, routes, shift_routes  # noqa: E402, F401
