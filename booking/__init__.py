"""Bus seat booking: the application factory."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Create the app: config, extensions, blueprints, error handlers, CLI, Celery."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder="../templates",
        static_folder="../static",
    )

    from booking.config import load_config

    app.config.update(load_config(app.instance_path))
    if config:
        app.config.update(config)
    _refuse_sandbox_in_production(app.config)
    _configure_logging(app)

    from booking import database
    from booking.extensions import csrf, db, limiter, login_manager, migrate, sock

    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = database.engine_options(app.config)
    db.init_app(app)
    with app.app_context():
        database.configure_engine(db.engine, app.config)
    migrate.init_app(
        app, db, directory=str(_migrations_dir()), compare_type=True, render_as_batch=True
    )
    csrf.init_app(app)
    sock.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)

    from booking.web import register_web

    register_web(app)

    # Facts the services announce after commit reach the layers above them.
    from booking import realtime, tasks

    realtime.subscribe(app)
    tasks.subscribe(app)

    from booking import metrics

    metrics.init_app(app)

    from booking.cli import register_cli

    register_cli(app)

    from booking.celery_app import celery_init_app

    celery_init_app(app)
    return app


def _refuse_sandbox_in_production(config) -> None:
    """The sandbox gateway takes no money: production must not run it by mistake.

    :raise RuntimeError: in production with GATEWAY=sandbox, unless ALLOW_SANDBOX_IN_PRODUCTION;
        or with GATEWAY=razorpay without its keys.
    """
    if (
        config.get("PRODUCTION")
        and config.get("GATEWAY") == "sandbox"
        and not config.get("ALLOW_SANDBOX_IN_PRODUCTION")
    ):
        raise RuntimeError(
            "GATEWAY=sandbox takes no real payments and is refused in production "
            "(FLASK_ENV=production): configure a real GATEWAY, or set "
            "ALLOW_SANDBOX_IN_PRODUCTION=1 to run the sandbox there on purpose."
        )
    if config.get("PRODUCTION") and config.get("GATEWAY") == "razorpay":
        from booking.gateway.razorpay import REQUIRED_SETTINGS

        missing = [name for name in REQUIRED_SETTINGS if not config.get(name)]
        if missing:
            raise RuntimeError(
                f"GATEWAY=razorpay needs {', '.join(missing)} in production "
                "(the keys and webhook secret from the Razorpay dashboard)."
            )


def _migrations_dir():
    """The top-level migrations/ folder."""
    from pathlib import Path

    return Path(__file__).resolve().parent.parent / "migrations"


def _configure_logging(app: Flask) -> None:
    """Send the app's logs to stderr at INFO; structlog writes the event lines as logfmt
    (``event=hold.created hold=... seats=3A,3B``) through the stdlib ``booking.events`` logger."""
    import structlog

    from booking.metrics import count_event_line

    logger = logging.getLogger("booking")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(app.config.get("LOG_LEVEL", "INFO"))
    structlog.configure(
        processors=[
            count_event_line,
            structlog.stdlib.filter_by_level,
            _join_lists,
            structlog.processors.LogfmtRenderer(key_order=["event"], bool_as_flag=False),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: a logger used before this ran must still pick this configuration up.
        cache_logger_on_first_use=False,
    )


def _join_lists(_logger, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """Seat lists and the like as one value a log search can match: ``seats=3A,3B``."""
    for key, value in event_dict.items():
        if isinstance(value, list | tuple | set):
            event_dict[key] = ",".join(map(str, value))
    return event_dict
