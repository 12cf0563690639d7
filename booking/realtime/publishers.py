"""Publishers carry seat updates to the seat maps of every process: in-process or via Redis."""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Protocol

import redis
from flask import Flask
from redis.backoff import NoBackoff
from redis.retry import Retry

from booking.realtime.hub import SeatMapHub, SeatUpdate

logger = logging.getLogger(__name__)

RECONNECT_SECONDS = 1.0
POLL_SECONDS = 1.0


class Publisher(Protocol):
    """Carries seat updates (JSON text) to the open seat maps of every process."""

    hub: SeatMapHub

    def watched(self, schedule_id: uuid.UUID) -> bool:
        """Whether a seat map of this trip may be open anywhere (else nothing is worth reading)."""

    def publish(self, message: str) -> None:
        """Send one seat update to every process.

        :raise Exception: when it could not be sent (the caller logs it).
        """

    def listen(self) -> None:
        """Make sure updates reach this process's seat maps (called for each new socket)."""

    def close(self) -> None:
        """Stop listening and let go of connections."""


class InProcessPublisher:
    """The embedded default: one process, so an update goes straight to its own seat maps."""

    def __init__(self, hub: SeatMapHub) -> None:
        self.hub = hub

    def watched(self, schedule_id: uuid.UUID) -> bool:
        """Whether a seat map of this trip is open in this process, the only one there is."""
        return self.hub.count(schedule_id) > 0

    def publish(self, message: str) -> None:
        """Deliver the update to this process's seat maps."""
        self.hub.deliver(SeatUpdate.from_json(message))

    def listen(self) -> None:
        """Nothing to start: publish delivers directly."""

    def close(self) -> None:
        """Nothing to let go of."""


class RedisPublisher:
    """Several processes or hosts: updates go through one Redis pub/sub channel, and each process
    runs one subscriber thread (started with its first seat map) that fans them out locally."""

    def __init__(
        self, app: Flask, hub: SeatMapHub, url: str, channel: str, timeout: float = 0.25
    ) -> None:
        self.app = app
        self.hub = hub
        self.channel = channel
        # A short timeout (REDIS_SOCKET_TIMEOUT) and no retry: publishing runs in a request after
        # its change committed, and a Redis that is down or hung must cost it one timeout, not
        # several (the subscriber thread reconnects on its own, every RECONNECT_SECONDS).
        self.redis = redis.Redis.from_url(
            url,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            socket_keepalive=True,
            health_check_interval=15,
            retry=Retry(NoBackoff(), 0),
        )
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def watched(self, schedule_id: uuid.UUID) -> bool:
        """Always: seat maps open in other processes cannot be counted from here."""
        return True

    def publish(self, message: str) -> None:
        """Publish the update on the channel every process listens to."""
        self.redis.publish(self.channel, message)

    def listen(self) -> None:
        """Start this process's subscriber thread, once."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._subscribe, name="seat-updates-subscriber", daemon=True
                )
                self._thread.start()

    def close(self) -> None:
        """Stop the subscriber thread and close the Redis connections."""
        self._stopping.set()
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout=POLL_SECONDS + 5)
        self.redis.close()

    def _subscribe(self) -> None:
        """Fan updates out to this process's seat maps until closed, outliving Redis restarts."""
        outage = False
        while not self._stopping.is_set():
            pubsub = self.redis.pubsub()
            try:
                pubsub.subscribe(self.channel)
                if outage:
                    logger.info("seat updates: Redis is back")
                    outage = False
                while not self._stopping.is_set():
                    self._handle(pubsub.get_message(timeout=POLL_SECONDS))
            except redis.RedisError as error:
                if not outage:  # once per outage, not once a second
                    logger.warning("seat updates: Redis unavailable (%s); retrying", error)
                outage = True
                self._stopping.wait(RECONNECT_SECONDS)
            finally:
                pubsub.close()

    def _handle(self, message: dict | None) -> None:
        """Deliver one pub/sub message; a bad one is logged, never fatal to the thread."""
        if message is None:
            return
        try:
            with self.app.app_context():
                if message["type"] == "subscribe":
                    # Pub/sub keeps nothing for absent listeners: whatever was published before
                    # this (re)subscription is lost, so resend every open seat map in full.
                    self.hub.resync()
                elif message["type"] == "message":
                    self.hub.deliver(SeatUpdate.from_json(message["data"]))
        except Exception:
            logger.exception("seat updates: could not deliver a message")
