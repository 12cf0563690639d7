"""The seat-map WebSocket: the whole seat map on connect, then every change; it only pushes."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from urllib.parse import urlsplit

from flask import current_app, request, url_for
from flask_login import current_user

from booking import metrics, realtime
from booking.extensions import sock
from booking.services.errors import NotFound
from booking.web.live import bp

# Application close codes live in 4000-4999; this one mirrors HTTP 404.
UNKNOWN_TRIP = 4404
# RFC 6455 "policy violation": the page that opened the socket is another site's.
FOREIGN_ORIGIN = 1008
# How long a closing socket waits for the browser's own close frame.
CLOSE_REPLY_SECONDS = 2
# Past WS_MAX_PER_ADDRESS open seat maps from one address (mirrors HTTP 429).
TOO_MANY = 4429
# Open past WS_IDLE_SECONDS with nothing pushed or received (mirrors HTTP 408).
IDLE = 4408

EXTENSION = "booking.live.addresses"


class AddressQuota:
    """Open seat-map sockets of this process by client address, each address at most ``cap``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: Counter[str] = Counter()

    def take(self, address: str, cap: int) -> bool:
        """Count one more socket from the address; False (and nothing counted) past the cap."""
        with self._lock:
            if self._open[address] >= cap:
                return False
            self._open[address] += 1
            return True

    def give_back(self, address: str) -> None:
        """The address's socket closed."""
        with self._lock:
            self._open[address] -= 1
            if self._open[address] <= 0:
                del self._open[address]

    def count(self, address: str) -> int:
        """Sockets open from the address."""
        with self._lock:
            return self._open[address]


def address_quota(app) -> AddressQuota:
    """The app's count of open sockets by address (one per process)."""
    return app.extensions.setdefault(EXTENSION, AddressQuota())


@bp.app_template_global()
def seat_socket_url(schedule_id: uuid.UUID) -> str:
    """Where a seat map opens its socket: this site's ws(s):// address by default (Werkzeug
    builds WebSocket URLs absolute), or the path under WS_BASE_URL (the ws process, e.g.
    ``wss://ws.example.com``)."""
    url = url_for("live.seats", schedule_id=schedule_id)
    base = (current_app.config.get("WS_BASE_URL") or "").rstrip("/")
    return base + urlsplit(url).path if base else url


def foreign_origin() -> bool:
    """Whether the handshake names an Origin that is not this site (host and port).

    No Origin header (a non-browser client) is let through: browsers always send one, and it is
    a browser on another site, riding the visitor's cookie, that this refuses.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    allowed = {request.host.lower(), *current_app.config.get("WS_ALLOWED_ORIGINS", ())}
    return urlsplit(origin).netloc.lower() not in allowed


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
    quota = address_quota(current_app)
    address = request.remote_addr or ""
    if not quota.take(address, current_app.config["WS_MAX_PER_ADDRESS"]):
        close_and_wait(ws, TOO_MANY, "Too many seat maps are open from your address.")
        return
    try:
        # Read the id now: the seat read below ends the transaction and expires the user row.
        viewer_id = current_user.id if current_user.is_authenticated else None
        with metrics.socket_open(), realtime.watching(ws, schedule_id, viewer_id) as socket:
            wait_while_active(ws, socket, current_app.config["WS_IDLE_SECONDS"])
    except NotFound as error:
        close_and_wait(ws, UNKNOWN_TRIP, str(error))
    finally:
        quota.give_back(address)


def wait_while_active(ws, socket, idle_seconds: float) -> None:
    """Keep the socket open until the browser goes, or until nothing was pushed to it nor
    received from it for ``idle_seconds`` (then it is closed with IDLE).

    Nothing the browser sends is acted on; ``receive`` raises once the browser closes.
    """
    last_heard = time.monotonic()
    while True:
        last_active = max(last_heard, socket.last_pushed)
        remaining = last_active + idle_seconds - time.monotonic()
        if remaining <= 0:
            close_and_wait(ws, IDLE, "This seat map was idle; reload the page to see it live.")
            return
        if ws.receive(timeout=remaining) is not None:
            last_heard = time.monotonic()
