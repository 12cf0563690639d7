"""Live seat maps over WebSocket: a trip's seat cells pushed as htmx out-of-band swaps."""

from flask import Blueprint

bp = Blueprint("live", __name__)

from booking.web.live import routes  # noqa: E402, F401
