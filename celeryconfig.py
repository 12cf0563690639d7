"""Celery settings. The broker comes from REDIS_URL (see booking/celery_app.py)."""

task_ignore_result = True
task_acks_late = True
worker_prefetch_multiplier = 1
timezone = "UTC"
enable_utc = True
broker_connection_retry_on_startup = True

# Exactly one beat process runs this; the intervals are the SWEEP_INTERVAL_SECONDS,
# TRIPS_COMPLETE_INTERVAL_SECONDS and EMAIL_RETRY_AFTER_SECONDS settings
# (see booking/celery_app.py).
beat_schedule = {
    "expire-lapsed-holds": {"task": "booking.tasks.expire_holds", "schedule": 30.0},
    "complete-arrived-trips": {"task": "booking.tasks.complete_trips", "schedule": 600.0},
    # Gateway refunds whose next attempt is due (their backoff is REFUND_RETRY_BASE_SECONDS).
    "retry-due-refunds": {"task": "booking.tasks.retry_due_refunds", "schedule": 60.0},
    "retry-pending-emails": {"task": "booking.tasks.retry_emails", "schedule": 120.0},
}
