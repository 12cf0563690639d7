"""Prometheus metrics: requests, holds, payments, open seat-map sockets and the sweep.

The domain counters listen to what the services already announce after commit (the blinker
signals of ``services/events.py`` and the structured event lines of ``audit.log_event``); no
service knows about metrics. Under gunicorn, set PROMETHEUS_MULTIPROC_DIR (an empty folder,
the same for every worker, emptied at each deploy) so ``/metrics`` adds up all the workers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from booking.services import events

REQUESTS = Counter(
    "booking_http_requests_total",
    "HTTP requests answered, by endpoint, method and status.",
    ["endpoint", "method", "status"],
)
LATENCY = Histogram(
    "booking_http_request_duration_seconds",
    "Time to answer an HTTP request, by endpoint.",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
HOLDS = Counter(
    "booking_holds_total",
    "Holds by what became of them: created, revived, extended, expired, refused.",
    ["outcome"],
)
PAYMENTS = Counter(
    "booking_payments_total",
    "Payments by outcome: booked (a booking confirmed), a gateway webhook's outcome "
    "(webhook_confirmed, webhook_failed, webhook_refunded, ...), finalization_failed, "
    "gateway_session_failed.",
    ["outcome"],
)
BOOKINGS_CANCELLED = Counter("booking_cancellations_total", "Cancelling acts on bookings.")
OPEN_SOCKETS = Gauge(
    "booking_open_sockets",
    "Seat-map WebSockets open now.",
    multiprocess_mode="livesum",
)
SWEEP = Histogram(
    "booking_sweep_duration_seconds",
    "Time one sweep of lapsed holds took.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

# Event lines of audit.log_event -> (counter, its label), for the facts no signal carries.
EVENT_LINES = {
    "hold.created": (HOLDS, "created"),
    "hold.revived": (HOLDS, "revived"),
    "hold.extended": (HOLDS, "extended"),
    "hold.expired": (HOLDS, "expired"),
    "booking.finalization_failed": (PAYMENTS, "finalization_failed"),
    "gateway.session_failed": (PAYMENTS, "gateway_session_failed"),
}
# A refused hold is a 409 from the views that take seats (no event is written for it).
HOLD_ENDPOINTS = {"schedules.hold", "desk.hold_seats"}


def init_app(app: Flask) -> None:
    """Time and count every request, and count the domain facts the services announce."""
    events.booking_confirmed.connect(_on_booking_confirmed)
    events.booking_cancelled.connect(_on_booking_cancelled)

    @app.before_request
    def _start_clock() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _count_request(response):
        started = g.pop("metrics_started", None)
        endpoint = request.endpoint or "unmatched"  # a 404 has no endpoint: one label for all
        if started is not None:
            LATENCY.labels(endpoint).observe(time.perf_counter() - started)
        REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
        if endpoint in HOLD_ENDPOINTS and response.status_code == 409:
            HOLDS.labels("refused").inc()
        return response


def count_event_line(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """A structlog processor: count the event lines that are domain facts (before any level
    filter, so counting does not depend on LOG_LEVEL)."""
    event = event_dict.get("event")
    counted = EVENT_LINES.get(event)
    if counted is not None:
        counter, label = counted
        counter.labels(label).inc()
    elif event == "payment.webhook":
        PAYMENTS.labels(f"webhook_{event_dict.get('outcome')}").inc()
    return event_dict


def _on_booking_confirmed(_booking_id, **_fields) -> None:
    """Receiver of ``events.booking_confirmed``: a payment became a booking."""
    PAYMENTS.labels("booked").inc()


def _on_booking_cancelled(_booking_id, **_fields) -> None:
    """Receiver of ``events.booking_cancelled``."""
    BOOKINGS_CANCELLED.inc()


@contextmanager
def socket_open() -> Iterator[None]:
    """Count a seat-map socket as open for the duration of the block."""
    OPEN_SOCKETS.inc()
    try:
        yield
    finally:
        OPEN_SOCKETS.dec()


@contextmanager
def timing_sweep() -> Iterator[None]:
    """Record how long the sweep in the block took."""
    started = time.perf_counter()
    try:
        yield
    finally:
        SWEEP.observe(time.perf_counter() - started)


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus's text format (every worker's, in multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
