"""Facts the services announce once their transaction has committed.

Services never call the layers above them (live seat maps, the task queue). They announce what
happened, and those layers subscribe when the app is made (``create_app``):

- ``seats_changed``: sender the trip id, ``seat_ids`` the seats whose state changed;
  the live seat-map layer pushes them to every open seat map of the trip.
- ``email_queued``: sender the outbox email id; the task layer hands it to a worker.
- ``emails_queued``: sender a tuple of outbox email ids queued together (a sweep's batch); the
  task layer hands them to a worker as one task, so 10,000 lapsed holds cost one broker call,
  not 10,000.
- ``booking_confirmed``: sender the booking id, with ``reference``, ``schedule_id`` and ``seats``.
- ``booking_cancelled``: sender the booking id, with ``reference``, ``schedule_id`` and
  ``seats`` (the numbers cancelled by this act).
- ``refund_requested``: sender the id of a pending gateway refund; the task layer hands it to a
  worker, which asks the gateway (the beat picks up any that never reached a worker).

``announce`` queues the announcement on the current unit of work: it is sent after the commit
and dropped on a rollback. A receiver that fails is logged; the committed change stands.
"""

from __future__ import annotations

import logging
from typing import Any

from blinker import Namespace, Signal

from booking.database import on_commit

logger = logging.getLogger(__name__)

signals = Namespace()

seats_changed = signals.signal("seats-changed")
email_queued = signals.signal("email-queued")
emails_queued = signals.signal("emails-queued")
booking_confirmed = signals.signal("booking-confirmed")
booking_cancelled = signals.signal("booking-cancelled")
refund_requested = signals.signal("refund-requested")


def announce(signal: Signal, sender: Any, **fields: Any) -> None:
    """Send ``signal`` once the current unit of work commits (never, if it rolls back)."""
    on_commit(lambda: send(signal, sender, **fields))


def send(signal: Signal, sender: Any, **fields: Any) -> None:
    """Send ``signal`` now, to every receiver; a receiver that raises is logged and skipped."""
    for receiver in signal.receivers_for(sender):
        try:
            receiver(sender, **fields)
        except Exception:
            logger.exception("a receiver of %s failed for %s", signal.name, sender)
