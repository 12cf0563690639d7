"""A customer's bookings, tickets and wallet."""

from flask import Blueprint

bp = Blueprint("account", __name__)

from booking.web.account import routes  # noqa: E402, F401
