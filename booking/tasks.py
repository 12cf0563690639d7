"""Celery tasks: thin wrappers that call a service."""

from __future__ import annotations

from celery import shared_task

from booking.orm import utcnow


@shared_task(name="booking.tasks.expire_holds")
def expire_holds() -> int:
    """Retire every hold past its expiry (the beat runs this every SWEEP_INTERVAL_SECONDS)."""
    from flask import current_app

    from booking.services import holds

    result = holds.expire_holds(utcnow(), batch_size=current_app.config["SWEEP_BATCH_SIZE"])
    return len(result.retired)
