"""The booking desk for counter staff."""

from flask import Blueprint

bp = Blueprint("desk", __name__, url_prefix="/desk")

from booking.web.desk import routes  # noqa: E402, F401, I001
from booking.web.desk import checkin_routes  # noqa: E402, F401
from booking.web.desk import manifest_routes  # noqa: E402, F401
