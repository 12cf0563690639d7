"""Entry point for gunicorn (wsgi:app) and Celery (wsgi:celery_app)."""

from booking import create_app

app = create_app()
celery_app = app.extensions["celery"]
