"""The seat-map WebSocket: the whole seat map on connect, then every change; it only pushes."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from flask import request
from flask_login import current_user

from booking import realtime
from booking.extensions import sock
from booking.services.errors import NotFound
from booking.web.live import bp

# Application close codes live in 4000-4999; this one mirrors HTTP 404.
UNKNOWN_TRIP = 4404
# RFC 6455 "policy violation": the page that opened the socket is another site's.
FOREIGN_ORIGIN = 1008
# How long a closing socket waits for the browser's own close frame.
CLOSE_REPLY_SECONDS = 2


def foreign_origin() -> bool:
    """Whether the handshake names an Origin that is not this site (host and port).

    No Origin header (a non-browser client) is let through: browsers always send one, and it is
    a browser on another site, riding the visitor's cookie, that this refuses.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    return urlsplit(origin).netloc.lower() != request.host.lower()


def close_and_wait(ws, code: int, message: str) -> None:
    """Send the close frame, then wait (briefly) for the browser's reply before the socket goes.

    RFC 6455's closing handshake: dropping the connection at once can reset it while the
    browser's own close frame is still unread, and the browser then sees 1005 (no status), not
    the reason it was sent.
    """
    ws.close(reason=code, message=message)
    ws.thread.join(timeout=CLOSE_REPLY_SECONDS)


@sock.route("/ws/schedules/<uuid:schedule_id>/seats", bp=bp)
def seats(ws, schedule_id: uuid.UUID) -> None:
    """Push a trip's seat changes to one browser's seat map until the browser goes away."""
    if foreign_origin():
        close_and_wait(ws, FOREIGN_ORIGIN, "This seat map belongs to another site.")
        return
    # Read the id now: the seat read below ends the transaction and expires the user row.
    viewer_id = current_user.id if current_user.is_authenticated else None
    try:
        with realtime.watching(ws, schedule_id, viewer_id):
            while True:
                ws.receive()  # nothing the browser sends is acted on; this raises once it closes
    except NotFound as error:
        close_and_wait(ws, UNKNOWN_TRIP, str(error))
