"""Celery tasks: thin wrappers that call a service; and the subscription that hands queued
emails to a worker once their transaction has committed."""

from __future__ import annotations

import logging
import uuid
from decimal import Decimal

from celery import shared_task
from flask import Flask, current_app

from booking.gateway import sandbox
from booking.orm import utcnow
from booking.services import events, notifications, refund_queue, sweep, timetable, webhooks
from booking.services.errors import DomainError

logger = logging.getLogger(__name__)


@shared_task(name="booking.tasks.expire_holds")
def expire_holds() -> int:
    """Retire every hold past its expiry and give back stranded wallet parts (the beat runs
    this every SWEEP_INTERVAL_SECONDS)."""
    result = sweep.run(utcnow(), batch_size=current_app.config["SWEEP_BATCH_SIZE"])
    return len(result.retired)


@shared_task(name="booking.tasks.complete_trips")
def complete_trips() -> int:
    """Complete trips past their arrival and their bookings (the beat runs this every
    TRIPS_COMPLETE_INTERVAL_SECONDS)."""
    return timetable.complete_trips(utcnow())


@shared_task(name="booking.tasks.send_email")
def send_email(email_id: str) -> str:
    """Send one outbox message (queued after the commit that wrote it)."""
    return notifications.send(uuid.UUID(email_id), utcnow()).value


@shared_task(name="booking.tasks.deliver_sandbox_webhook")
def deliver_sandbox_webhook(event_type: str, gateway_reference: str, amount: str) -> str:
    """The sandbox gateway calling back: a signed event, handled as any webhook would be."""
    now = utcnow()
    body = sandbox.build_event(event_type, gateway_reference, Decimal(amount), now=now)
    headers = sandbox.sign(body, int(now.timestamp()), current_app.config["GATEWAY_WEBHOOK_SECRET"])
    try:
        return webhooks.receive_webhook(headers, body, now).outcome
    except DomainError as error:  # a real gateway would retry; the sandbox just reports it
        return f"refused: {error.message}"


@shared_task(name="booking.tasks.process_refund")
def process_refund(refund_id: str) -> str | None:
    """Ask the gateway for one pending refund (queued after the commit that decided it)."""
    status = refund_queue.process_refund(uuid.UUID(refund_id), utcnow())
    return status.value if status else None


@shared_task(name="booking.tasks.retry_due_refunds")
def retry_due_refunds() -> int:
    """Attempt every pending gateway refund whose next attempt is due, from the database (the
    beat runs this; it also catches refunds whose task never reached a worker)."""
    return refund_queue.process_due_refunds(utcnow())


def _dispatch_refund(refund_id: uuid.UUID, **_fields) -> None:
    """Hand a committed gateway refund to a worker (or run it right here without Redis)."""
    try:
        process_refund.delay(str(refund_id))
    except Exception:  # a broker outage must not undo what is committed; the beat retries it
        logger.exception("refund %s was not handed to a worker; it stays pending", refund_id)


def _dispatch_email(email_id: uuid.UUID, **_fields) -> None:
    """Hand a committed outbox message to a worker (or send it right here without Redis)."""
    try:
        send_email.delay(str(email_id))
    except Exception:  # a broker outage must not undo what is already committed
        logger.exception("email %s was not handed to a worker; it stays in the outbox", email_id)


def subscribe(app: Flask) -> None:
    """Send queued emails and ask the gateway for refunds once their transaction commits."""
    events.email_queued.connect(_dispatch_email)
    events.refund_requested.connect(_dispatch_refund)
