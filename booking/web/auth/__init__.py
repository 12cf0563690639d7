"""Signing in, registering and signing out."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from booking.web.auth import routes  # noqa: E402, F401
