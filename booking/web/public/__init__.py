"""Pages anyone can see: the search page and the health check."""

from flask import Blueprint

bp = Blueprint("public", __name__)

from booking.web.public import routes  # noqa: E402, F401
