"""Checkout: passengers, price, paying, and the page that waits for the gateway."""

from flask import Blueprint

bp = Blueprint("checkout", __name__)

from booking.web.checkout import routes  # noqa: E402, F401
