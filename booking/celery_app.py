"""Celery bound to the Flask app: every task runs inside an app context.

Without REDIS_URL tasks run eagerly in the calling process (the embedded default).
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
        celery_app.conf.update(broker_url=redis_url, result_backend=None)
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
    celery_app.set_default()
    app.extensions["celery"] = celery_app

    import booking.tasks  # noqa: F401  (registers the tasks)

    return celery_app
