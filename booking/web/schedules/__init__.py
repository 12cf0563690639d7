"""The seat map of a trip and holding seats on it."""

from flask import Blueprint

bp = Blueprint("schedules", __name__)

from booking.web.schedules import routes  # noqa: E402, F401
