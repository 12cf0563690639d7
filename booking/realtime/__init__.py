"""Live seat maps: services report changed seats after commit, and every browser watching the
trip gets the new seat cells pushed (in this process, or through Redis across processes)."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app

from booking.realtime.hub import (
    SeatMapHub,
    SeatMapSocket,
    SeatUpdate,
    read_seats,
    use_renderer,
)
from booking.realtime.publishers import InProcessPublisher, Publisher, RedisPublisher
from booking.services import events

logger = logging.getLogger(__name__)

EXTENSION = "booking.realtime"
DEFAULT_CHANNEL = "booking:seats"

_making = threading.Lock()


def publisher_for(app: Flask | None = None) -> Publisher:
    """The app's publisher (with its hub of seat maps), made on first use: Redis when REDIS_URL
    is set, else in-process."""
    app = app or current_app._get_current_object()
    with _making:
        if EXTENSION not in app.extensions:
            hub = SeatMapHub()
            url = app.config.get("REDIS_URL")
            channel = app.config.get("REALTIME_CHANNEL") or DEFAULT_CHANNEL
            app.extensions[EXTENSION] = (
                RedisPublisher(app, hub, url, channel, app.config["REDIS_SOCKET_TIMEOUT"])
                if url
                else InProcessPublisher(hub)
            )
        return app.extensions[EXTENSION]


def seats_changed(schedule_id: uuid.UUID, seat_ids: Iterable[uuid.UUID]) -> None:
    """Broadcast the current state of these seats of a trip; call after commit.

    Never raises: the change is committed, so a failed broadcast is logged and left at that.
    """
    try:
        live = publisher_for()
        if not live.watched(schedule_id):
            return
        update = read_seats(schedule_id, list(seat_ids))
        if update.seats:
            live.publish(update.to_json())
    except Exception:
        logger.exception("seat update for trip %s was not broadcast", schedule_id)


def subscribe(app: Flask) -> None:
    """Push the seats the services announce as changed (after their commit)."""
    events.seats_changed.connect(_on_seats_changed)


def _on_seats_changed(schedule_id: uuid.UUID, seat_ids: Iterable[uuid.UUID] = (), **_) -> None:
    """Receiver of ``events.seats_changed``."""
    seats_changed(schedule_id, seat_ids)


@contextmanager
def watching(
    ws: Any, schedule_id: uuid.UUID, viewer_id: uuid.UUID | None
) -> Iterator[SeatMapSocket]:
    """Push the trip's seat changes to ``ws`` for the duration of the block, after sending it
    the whole seat map; the block gets the registered socket.

    :raise NotFound: for an unknown trip (nothing stays registered).
    """
    live = publisher_for()
    socket = SeatMapSocket(ws, viewer_id)
    # Registered before the full read, so a change committed in between is pushed, not missed.
    live.hub.add(schedule_id, socket)
    try:
        live.listen()
        socket.push(read_seats(schedule_id))
        yield socket
    finally:
        live.hub.discard(schedule_id, socket)


def shutdown(app: Flask) -> None:
    """Stop the app's subscriber thread and close its connections (tests, a clean exit)."""
    with _making:
        live = app.extensions.pop(EXTENSION, None)
    if live is not None:
        live.close()


__all__ = [
    "InProcessPublisher",
    "Publisher",
    "RedisPublisher",
    "SeatMapHub",
    "SeatMapSocket",
    "SeatUpdate",
    "publisher_for",
    "read_seats",
    "seats_changed",
    "shutdown",
    "subscribe",
    "use_renderer",
    "watching",
]
