"""Health probes: liveness (the process answers and reaches its database) and readiness (every
dependency a request needs answers: the database and, when REDIS_URL is set, Redis)."""

from __future__ import annotations

import redis
from flask import current_app
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import text

from booking.extensions import db

OK = "ok"
NOT_CONFIGURED = "not configured"


def database_state() -> str:
    """``ok``, or ``error: <kind>`` when the database does not answer ``SELECT 1``."""
    try:
        db.session.execute(text("SELECT 1"))
        return OK
    except Exception as exc:  # the point is to report any failure, not to raise it
        return f"error: {type(exc).__name__}"
    finally:
        db.session.rollback()


def redis_state() -> str:
    """``ok``, ``not configured`` (no REDIS_URL: tasks and seat updates stay in-process), or
    ``error: <kind>`` when Redis does not answer a PING within REDIS_SOCKET_TIMEOUT (one try)."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        return NOT_CONFIGURED
    timeout = float(current_app.config["REDIS_SOCKET_TIMEOUT"])
    client = redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        client.ping()
        return OK
    except Exception as exc:  # down, hung, refused, wrong password: all "not ready"
        return f"error: {type(exc).__name__}"
    finally:
        client.close()


def readiness() -> tuple[bool, dict[str, str]]:
    """Whether every dependency answers, and each one's state."""
    states = {"database": database_state(), "redis": redis_state()}
    return all(state in (OK, NOT_CONFIGURED) for state in states.values()), states
