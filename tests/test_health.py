"""/healthz is liveness (the process and its database); /healthz/ready is readiness (the
database and Redis, each reported, 503 when one is down)."""

from __future__ import annotations

import pytest
import redis

from tests.support import REDIS_DOWN as DOWN

SHARED_REDIS = "redis://127.0.0.1:6379/0"


def test_without_redis_both_probes_are_ok_and_say_redis_is_not_configured(client):
    """The embedded default has no Redis to wait for."""
    live = client.get("/healthz")
    ready = client.get("/healthz/ready")
    assert live.status_code == ready.status_code == 200
    assert live.get_json() == {"status": "ok", "database": "ok"}
    assert ready.get_json() == {"status": "ok", "database": "ok", "redis": "not configured"}


def test_with_redis_up_readiness_is_ok(make_app):
    """A Redis that answers PING: ready."""
    try:
        redis.Redis.from_url(SHARED_REDIS, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis is not reachable at {SHARED_REDIS}: {error}")
    client = make_app(REDIS_URL=SHARED_REDIS).test_client()
    ready = client.get("/healthz/ready")
    assert ready.status_code == 200
    assert ready.get_json() == {"status": "ok", "database": "ok", "redis": "ok"}


@pytest.mark.parametrize("state", ["down", "hung"])
def test_with_redis_down_or_hung_readiness_is_503_and_liveness_stays_ok(make_app, request, state):
    """Redis down (refused) or hung (no answer within REDIS_SOCKET_TIMEOUT): not ready, with
    Redis named; the process is alive all the same (restarting it would not help)."""
    url = DOWN if state == "down" else request.getfixturevalue("hung_redis").url
    client = make_app(REDIS_URL=url).test_client()
    ready = client.get("/healthz/ready")
    assert ready.status_code == 503
    body = ready.get_json()
    assert body["status"] == "unavailable" and body["database"] == "ok"
    assert body["redis"].startswith("error: ")
    live = client.get("/healthz")
    assert live.status_code == 200 and live.get_json() == {"status": "ok", "database": "ok"}


def test_with_the_database_down_both_probes_are_503(make_app, tmp_path):
    """A database that cannot be opened: neither alive nor ready, the database named."""
    missing = tmp_path / "no-such-dir" / "booking.db"
    client = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{missing}").test_client()
    live = client.get("/healthz")
    ready = client.get("/healthz/ready")
    assert live.status_code == ready.status_code == 503
    assert live.get_json()["database"].startswith("error: ")
    assert ready.get_json()["status"] == "unavailable"
    assert ready.get_json()["database"].startswith("error: ")
    assert ready.get_json()["redis"] == "not configured"
