"""A customer's bookings, tickets and wallet."""

from flask import Blueprint

bp = Blueprint("account", __name__)
