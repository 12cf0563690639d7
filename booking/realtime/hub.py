"""The seat maps open in this process, by trip, and the frames of seat cells pushed to them."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy.exc import NoResultFound

from booking.extensions import db
from booking.orm import utcnow
from booking.services import inventory
from booking.services.errors import NotFound
from booking.services.inventory import SeatView

logger = logging.getLogger(__name__)

# app.extensions key of the frame renderer the live web layer registers (see ``use_renderer``):
# render(seat views, version, cell cache) -> the text of one frame.
RENDERER = "booking.realtime.render"
Renderer = Callable[[list[SeatView], int, dict], str]


def use_renderer(app, render: Renderer) -> None:
    """Let the app's seat maps draw their frames with ``render`` (the web layer's templates)."""
    app.extensions[RENDERER] = render


@dataclass(frozen=True)
class SeatUpdate:
    """Seats of one trip as of its seat_version: the message publishers carry between processes."""

    schedule_id: uuid.UUID
    version: int
    seats: tuple[SeatView, ...]

    def to_json(self) -> str:
        """The message text; it keeps holder ids, so it must only travel between servers."""
        return json.dumps(
            {
                "schedule_id": str(self.schedule_id),
                "version": self.version,
                "seats": [_seat_fields(seat) for seat in self.seats],
            }
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> SeatUpdate:
        """Read a message written by to_json."""
        message = json.loads(text)
        return cls(
            schedule_id=uuid.UUID(message["schedule_id"]),
            version=int(message["version"]),
            seats=tuple(_seat_view(fields) for fields in message["seats"]),
        )


def _seat_fields(seat: SeatView) -> dict[str, Any]:
    """A SeatView as JSON-friendly fields."""
    holder = str(seat.holder_id) if seat.holder_id else None
    return asdict(seat) | {"id": str(seat.id), "fare": str(seat.fare), "holder_id": holder}


def _seat_view(fields: dict[str, Any]) -> SeatView:
    """A SeatView back from its JSON fields."""
    holder = uuid.UUID(fields["holder_id"]) if fields["holder_id"] else None
    typed = {"id": uuid.UUID(fields["id"]), "fare": Decimal(fields["fare"]), "holder_id": holder}
    return SeatView(**fields | typed)


def read_seats(schedule_id: uuid.UUID, seat_ids: Iterable[uuid.UUID] | None = None) -> SeatUpdate:
    """The trip's seats (or only ``seat_ids``) as of now; the read's transaction is ended at once.

    :raise NotFound: for an unknown trip.
    """
    try:
        version, seats = inventory.seat_views(schedule_id, utcnow(), seat_ids)
    except NoResultFound:
        raise NotFound("We could not find that trip.") from None
    finally:
        # An idle seat map must never keep a transaction open (on SQLite it would block writers).
        db.session.rollback()
    return SeatUpdate(schedule_id, version, tuple(seats))


class SeatMapSocket:
    """One open seat map: its WebSocket and who is looking at it (None for a guest)."""

    def __init__(self, ws: Any, viewer_id: uuid.UUID | None) -> None:
        self.ws = ws
        self.viewer_id = viewer_id
        # Request threads, the subscriber and the socket's own resync all push: one at a time, so
        # frames never interleave and what the browser shows stays known.
        self._lock = threading.Lock()
        self._shown: dict[uuid.UUID, tuple[int, SeatView]] = {}
        self._version = 0
        # When a frame last went out (time.monotonic): the socket route closes idle sockets.
        self.last_pushed = time.monotonic()

    def push(self, update: SeatUpdate, fragments: dict | None = None) -> bool:
        """Send the update's news for this viewer as one frame; False when the socket is gone."""
        fragments = {} if fragments is None else fragments
        with self._lock:
            news = self._news(update)
            self._version = max(self._version, update.version)
            if not news:
                return True
            frame = current_app.extensions[RENDERER](news, self._version, fragments)
            try:
                self.ws.send(frame)
            except Exception:  # closed, reset or half-closed: whatever the cause, it is gone
                return False
            self.last_pushed = time.monotonic()
        return True

    def _news(self, update: SeatUpdate) -> list[SeatView]:
        """The seats whose cell the browser must change, noting each seat's newest version.

        Updates from several processes may arrive out of order, and an older one must not paint
        over a newer state; a cell already showing the state is left alone (a ticked box stays
        ticked).
        """
        news = []
        for seat in update.seats:
            view = seat.for_viewer(self.viewer_id)
            shown_version, shown = self._shown.get(view.id, (-1, None))
            if update.version < shown_version:
                continue
            self._shown[view.id] = (update.version, _as_shown(view))
            if _as_shown(view) != shown:
                news.append(view)
        return news


def _as_shown(view: SeatView) -> SeatView:
    """A seat view as its cell shows it: the holder never reaches the browser."""
    return replace(view, holder_id=None)


class SeatMapHub:
    """The open seat maps of this process, by trip; safe to use from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: dict[uuid.UUID, set[SeatMapSocket]] = defaultdict(set)

    def add(self, schedule_id: uuid.UUID, socket: SeatMapSocket) -> None:
        """Start pushing this trip's changes to the socket."""
        with self._lock:
            self._sockets[schedule_id].add(socket)

    def discard(self, schedule_id: uuid.UUID, socket: SeatMapSocket) -> None:
        """Stop pushing to the socket (harmless if it is already gone)."""
        with self._lock:
            sockets = self._sockets.get(schedule_id)
            if sockets is not None:
                sockets.discard(socket)
                if not sockets:
                    del self._sockets[schedule_id]

    def count(self, schedule_id: uuid.UUID) -> int:
        """How many seat maps of this trip are open here."""
        with self._lock:
            return len(self._sockets.get(schedule_id, ()))

    def trips(self) -> list[uuid.UUID]:
        """The trips with at least one open seat map here."""
        with self._lock:
            return list(self._sockets)

    def deliver(self, update: SeatUpdate) -> None:
        """Push an update to every seat map of its trip; drop the sockets that are gone."""
        with self._lock:
            sockets = list(self._sockets.get(update.schedule_id, ()))
        fragments: dict[tuple[uuid.UUID, str], str] = {}
        for socket in sockets:
            if not socket.push(update, fragments):
                logger.info("seat map socket of trip %s dropped", update.schedule_id)
                self.discard(update.schedule_id, socket)

    def resync(self) -> None:
        """Send every open seat map its whole trip again (after updates may have been lost)."""
        for schedule_id in self.trips():
            try:
                self.deliver(read_seats(schedule_id))
            except NotFound:
                continue
