"""Celery settings. The broker comes from REDIS_URL (see booking/celery_app.py)."""

task_ignore_result = True
task_acks_late = True
worker_prefetch_multiplier = 1
timezone = "UTC"
enable_utc = True
broker_connection_retry_on_startup = True

# Exactly one beat process runs this; the interval is the SWEEP_INTERVAL_SECONDS setting.
beat_schedule = {
    "expire-lapsed-holds": {"task": "booking.tasks.expire_holds", "schedule": 30.0},
}
