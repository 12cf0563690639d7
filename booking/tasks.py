"""Celery tasks: thin wrappers that call a service; and the subscription that hands queued
emails to a worker once their transaction has committed."""

from __future__ import annotations

import logging
import uuid
from decimal import Decimal

from celery import shared_task
from flask import Flask, current_app
from kombu.exceptions import OperationalError as BrokerUnavailable

from booking import metrics
from booking.gateway import sandbox
from booking.models.enums import EmailStatus
from booking.orm import utcnow
from booking.services import (
    events,
    notifications,
    refund_queue,
    settlement,
    sweep,
    timetable,
    webhooks,
)
from booking.services.errors import DomainError

logger = logging.getLogger(__name__)


@shared_task(name="booking.tasks.expire_holds")
def expire_holds() -> int:
    """Retire every hold past its expiry and give back stranded wallet parts (the beat runs
    this every SWEEP_INTERVAL_SECONDS)."""
    with metrics.timing_sweep():
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


@shared_task(name="booking.tasks.send_emails")
def send_emails(email_ids: list[str]) -> int:
    """Send outbox messages queued together (a sweep's batch), one after another; returns how
    many were sent."""
    sent = 0
    for email_id in email_ids:
        sent += notifications.send(uuid.UUID(email_id), utcnow()) == EmailStatus.SENT
    return sent


@shared_task(name="booking.tasks.retry_emails")
def retry_emails() -> int:
    """Send outbox emails that were never handed to a worker (Redis was down when they were
    queued); the beat runs this every EMAIL_RETRY_AFTER_SECONDS. Returns how many were sent."""
    return notifications.send_stale(utcnow(), current_app.config["EMAIL_RETRY_AFTER_SECONDS"])


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


@shared_task(name="booking.tasks.settle_payment")
def settle_payment(payment_id: str) -> str:
    """Ask the gateway about a payment whose customer came back (queued with a delay, so the
    webhook usually settles it first and this finds nothing to do)."""
    return settlement.settle_payment(uuid.UUID(payment_id), utcnow()).outcome


def settle_later(payment_id: uuid.UUID) -> None:
    """Queue settle_payment after RAZORPAY_SETTLE_DELAY_SECONDS. Without a broker nothing is
    lost: `flask payments settle` (or the next return) asks the gateway instead."""
    delay = int(current_app.config["RAZORPAY_SETTLE_DELAY_SECONDS"])
    try:
        settle_payment.apply_async((str(payment_id),), countdown=delay)
    except Exception as error:  # a broker outage must not turn the customer's return into a 500
        logger.warning("settling payment %s not queued (%s)", payment_id, error)


def _dispatch_refund(refund_id: uuid.UUID, **_fields) -> None:
    """Hand a committed gateway refund to a worker (or run it right here without Redis)."""
    try:
        process_refund.delay(str(refund_id))
    except Exception:  # a broker outage must not undo what is committed; the beat retries it
        logger.exception("refund %s was not handed to a worker; it stays pending", refund_id)


def call_back_from_sandbox(event_type: str, gateway_reference: str, amount: Decimal) -> None:
    """Have the sandbox gateway send its signed webhook: through a worker, as a real gateway
    calls back from elsewhere; when the task cannot be queued (Redis down or hung), right here
    in this request, so the payment is settled either way and nothing is left to retry."""
    args = (event_type, gateway_reference, str(amount))
    try:
        deliver_sandbox_webhook.delay(*args)
        return
    except BrokerUnavailable as error:  # Redis down or hung: deliver it in this process
        logger.warning(
            "sandbox webhook %s for %s not queued (%s); delivering it in-process",
            event_type,
            gateway_reference,
            error,
        )
    try:
        outcome = deliver_sandbox_webhook.run(*args)
    except Exception:  # the payment stays pending; the waiting page says so when the hold lapses
        logger.exception("sandbox webhook %s for %s failed", event_type, gateway_reference)
        return
    logger.info("sandbox webhook %s for %s: %s", event_type, gateway_reference, outcome)


def _dispatch_email(email_id: uuid.UUID, **_fields) -> None:
    """Hand a committed outbox message to a worker (sent in-process without REDIS_URL). When
    Redis is down or hung the email stays pending in the outbox and ``retry_emails`` sends it."""
    try:
        send_email.delay(str(email_id))
    except Exception as error:  # a broker outage must not undo what is already committed
        logger.warning(
            "email %s was not handed to a worker (%s); it stays in the outbox for retry_emails",
            email_id,
            error,
        )


def _dispatch_emails(email_ids: tuple[uuid.UUID, ...], **_fields) -> None:
    """Hand committed outbox messages queued together to a worker as one task (sent in-process
    without REDIS_URL); on a broker outage they stay pending for ``retry_emails``."""
    try:
        send_emails.delay([str(email_id) for email_id in email_ids])
    except Exception as error:  # a broker outage must not undo what is already committed
        logger.warning(
            "%s emails were not handed to a worker (%s); they stay in the outbox for retry_emails",
            len(email_ids),
            error,
        )


def subscribe(app: Flask) -> None:
    """Send queued emails and ask the gateway for refunds once their transaction commits."""
    events.email_queued.connect(_dispatch_email)
    events.emails_queued.connect(_dispatch_emails)
    events.refund_requested.connect(_dispatch_refund)
