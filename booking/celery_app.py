"""Celery bound to the Flask app: every task runs inside an app context.

Without REDIS_URL tasks run eagerly in the calling process (the embedded default). With it,
every Redis connection (the broker, a result backend) gives up after REDIS_SOCKET_TIMEOUT and a
publish is not retried: a request whose ``.delay()`` meets a Redis that is down or hung fails
fast, and the caller falls back (booking.tasks), instead of waiting for kombu's retries.
"""

from __future__ import annotations

from celery import Celery, Task
from flask import Flask


def celery_init_app(app: Flask) -> Celery:
    """Create the Celery app for ``app`` and keep it in app.extensions['celery']."""

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object("celeryconfig")
    redis_url = app.config.get("REDIS_URL")
    if redis_url:
        celery_app.conf.update(broker_url=redis_url, result_backend=None, **_redis_timeouts(app))
    else:
        celery_app.conf.update(
            broker_url="memory://localhost/", task_always_eager=True, task_eager_propagates=True
        )
    celery_app.conf.beat_schedule["expire-lapsed-holds"]["schedule"] = float(
        app.config["SWEEP_INTERVAL_SECONDS"]
    )
    celery_app.conf.beat_schedule["complete-arrived-trips"]["schedule"] = float(
        app.config["TRIPS_COMPLETE_INTERVAL_SECONDS"]
    )
    celery_app.conf.beat_schedule["retry-pending-emails"]["schedule"] = float(
        app.config["EMAIL_RETRY_AFTER_SECONDS"]
    )
    celery_app.set_default()
    app.extensions["celery"] = celery_app

    import booking.tasks  # noqa: F401  (registers the tasks)

    return celery_app


def _redis_timeouts(app: Flask) -> dict:
    """Celery settings that bound every wait on Redis by REDIS_SOCKET_TIMEOUT, with no retry."""
    timeout = float(app.config["REDIS_SOCKET_TIMEOUT"])
    transport = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry_on_timeout": False,
    }
    return {
        "broker_transport_options": transport,
        "broker_connection_timeout": timeout,
        # One try: kombu's default policy retries a failed publish three times.
        "task_publish_retry_policy": {"max_retries": 0},
        # The same bounds for a Redis result backend, should one be configured.
        "result_backend_transport_options": dict(transport),
        "redis_socket_timeout": timeout,
        "redis_socket_connect_timeout": timeout,
        "redis_retry_on_timeout": False,
    }
