"""Live seat maps over WebSocket: a trip's seat cells pushed as htmx out-of-band swaps."""

from flask import Blueprint

from booking import realtime
from booking.web.live.frames import seat_frame

bp = Blueprint("live", __name__)


@bp.record_once
def _draw_frames_with_templates(state) -> None:
    """Seat-map frames are drawn by this layer's templates."""
    realtime.use_renderer(state.app, seat_frame)
