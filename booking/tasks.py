"""Celery tasks: thin wrappers that call a service."""

from __future__ import annotations

from celery import shared_task

from booking.orm import utcnow


@shared_task(name="booking.tasks.expire_holds")
def expire_holds() -> int:
    """Retire every hold past its expiry (the beat runs this every SWEEP_INTERVAL_SECONDS)."""
    from flask import current_app

    from booking.services import holds, payments

    now = utcnow()
    result = holds.expire_holds(now, batch_size=current_app.config["SWEEP_BATCH_SIZE"])
    payments.release_stranded_wallet_parts(now)
    return len(result.retired)


@shared_task(name="booking.tasks.send_email")
def send_email(email_id: str) -> str:
    """Send one outbox message (queued after the commit that wrote it)."""
    import uuid

    from booking.services import notifications

    return notifications.send(uuid.UUID(email_id), utcnow()).value


@shared_task(name="booking.tasks.deliver_sandbox_webhook")
def deliver_sandbox_webhook(event_type: str, gateway_reference: str, amount: str) -> str:
    """The sandbox gateway calling back: a signed event, handled as any webhook would be."""
    from decimal import Decimal

    from flask import current_app

    from booking.gateway import sandbox
    from booking.services import payments
    from booking.services.errors import DomainError

    now = utcnow()
    body = sandbox.build_event(event_type, gateway_reference, Decimal(amount), now=now)
    headers = sandbox.sign(body, int(now.timestamp()), current_app.config["GATEWAY_WEBHOOK_SECRET"])
    try:
        return payments.receive_webhook(headers, body, now).outcome
    except DomainError as error:  # a real gateway would retry; the sandbox just reports it
        return f"refused: {error.message}"
