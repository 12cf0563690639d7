"""Test harness: one database per test session (SQLite file, or a fresh PostgreSQL database when
DATABASE_URL names a PostgreSQL server), migrated once, emptied after every test."""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy.engine import make_url

from booking import create_app
from booking.extensions import db
from booking.gateway.sandbox import SandboxGateway
from booking.models import Schedule, User
from booking.models.enums import Role
from booking.orm import utcnow
from tests.support import NOW, HungRedis, empty_tables, make_trip, make_user

# Machines are shared and noisy: property tests never fail on how long an example took.
hypothesis_settings.register_profile("booking", deadline=None)
hypothesis_settings.load_profile("booking")

SERVER_URL = os.environ.get("DATABASE_URL", "")
ON_POSTGRES = SERVER_URL.startswith(("postgresql", "postgres"))


# TEST_CLOCK=2026-12-01T18:29:30Z starts every test's clock there, ticking (time-machine): how
# the suite proves that no test depends on the time of day, e.g. just before and just after
# midnight in the display zone (18:30 UTC is 00:00 Asia/Kolkata).
TEST_CLOCK = os.environ.get("TEST_CLOCK", "")


def pytest_report_header(config) -> list[str]:
    """Say which database this run uses, and where its clock starts when pinned."""
    lines = [f"database: {'PostgreSQL' if ON_POSTGRES else 'SQLite'}"]
    if TEST_CLOCK:
        lines.append(f"clock: starts at {TEST_CLOCK} (TEST_CLOCK), ticking")
    return lines


def _test_clock_start() -> datetime:
    """The instant TEST_CLOCK names."""
    return datetime.fromisoformat(TEST_CLOCK.replace("Z", "+00:00"))


@pytest.fixture(scope="session", autouse=True)
def _session_clock():
    """The wall clock moved to TEST_CLOCK for the whole session, when it is set."""
    if not TEST_CLOCK:
        yield None
        return
    import time_machine

    with time_machine.travel(_test_clock_start(), tick=True) as coordinates:
        yield coordinates


@pytest.fixture(autouse=True)
def _test_clock(_session_clock) -> None:
    """Each test starts at TEST_CLOCK again (the clock ticks on during the test)."""
    if _session_clock is not None:
        _session_clock.move_to(_test_clock_start())


def pytest_terminal_summary(terminalreporter) -> None:
    """Say how many requests the fuzz of every route sent, when it ran."""
    fuzz = sys.modules.get("tests.fuzz_support")
    if fuzz is not None and fuzz.SENT["requests"]:
        sent = fuzz.SENT
        terminalreporter.write_line(
            f"fuzz: {sent['requests']} requests sent, {sent['server_errors']} answered 5xx"
        )


def pytest_collection_modifyitems(config, items) -> None:
    """Skip PostgreSQL-only tests on SQLite, saying why."""
    if ON_POSTGRES:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgresql://...")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def _psycopg_url(url: str) -> str:
    """A SQLAlchemy URL that uses psycopg 3."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> Iterator[str]:
    """A database of this test session's own, created here and dropped at the end."""
    if not ON_POSTGRES:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    import psycopg

    server = make_url(_psycopg_url(SERVER_URL))
    name = f"booking_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin_dsn = server.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def make_config(database_url: str, **overrides) -> dict:
    """The configuration every test app starts from."""
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "GATEWAY_WEBHOOK_SECRET": "test-webhook-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "WTF_CSRF_ENABLED": False,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "REDIS_URL": None,
        "SERVER_NAME": None,
        "RATELIMIT_STORAGE_URI": "memory://",
    }
    config.update(overrides)
    return config


@pytest.fixture(scope="session")
def _migrated(database_url) -> str:
    """Build the schema once with the Alembic migrations (which proves they run)."""
    from flask_migrate import upgrade

    app = create_app(make_config(database_url))
    with app.app_context():
        upgrade()
        db.session.remove()
        db.engine.dispose()
    return database_url


@pytest.fixture(scope="session")
def app(_migrated):
    """The application, shared by the session (tests must not change its config)."""
    app = create_app(make_config(_migrated))
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def make_app(_migrated, app):
    """Build an extra app with changed settings on the same database; closed afterwards."""
    from booking import realtime

    made = []

    def build(**overrides):
        made.append(create_app(make_config(_migrated, **overrides)))
        return made[-1]

    yield build
    for extra in made:
        realtime.shutdown(extra)
        with extra.app_context():
            db.session.remove()
            db.engine.dispose()
    # Each create_app makes its Celery app the current one: give that back to the session's app
    # so later tests do not send tasks to a broker of this test's own.
    app.extensions["celery"].set_current()
    app.extensions["celery"].set_default()
    # The sign-in limiter is one object that the last create_app configured: give it back to the
    # session's app too, with fresh storage, or later tests count in this test's (perhaps broken,
    # falling-back-to-memory) Redis and inherit its failures.
    if made:
        from booking.extensions import limiter

        limiter.init_app(app)
        # init_app keeps the "storage is dead, count in the memory fallback" flag of a broken
        # Redis; Flask-Limiter has no public way to clear it (it re-checks the storage later).
        limiter._storage_dead = False


@pytest.fixture(autouse=True)
def _clean_database(request) -> Iterator[None]:
    """Empty every table after each test that used the database."""
    uses_database = "_migrated" in request.fixturenames
    app = request.getfixturevalue("app") if uses_database else None
    yield
    if app is None:
        return
    with app.app_context():
        empty_tables()


@pytest.fixture(autouse=True)
def _fresh_sign_in_limits() -> Iterator[None]:
    """Every test starts with no failed sign-ins counted (the limiter's memory is per process)."""
    yield
    from booking.extensions import limiter

    with contextlib.suppress(Exception):  # a test that never built an app has nothing to reset
        limiter.reset()


@pytest.fixture
def app_ctx(app):
    """An app context for service tests; the session is removed afterwards."""
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def midmorning(time_machine) -> datetime:
    """The wall clock moved to NOW (11:30 in the operator's zone) and ticking, for a request
    test that reads the operator's "today" around rows it made a moment before: near local
    midnight the two would fall on different days. Name it before the fixtures that make rows."""
    time_machine.move_to(NOW, tick=True)
    return NOW


@pytest.fixture
def client(app):
    """A test client."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner."""
    return app.test_cli_runner()


class AuthActions:
    """Sign in and out through the real forms."""

    def __init__(self, client):
        self._client = client

    def login(self, email: str, password: str, follow_redirects: bool = False):
        """POST the login form."""
        return self._client.post(
            "/login",
            data={"email": email, "password": password},
            follow_redirects=follow_redirects,
        )

    def logout(self):
        """POST the logout form."""
        return self._client.post("/logout")


@pytest.fixture
def auth(client) -> AuthActions:
    """Sign-in helper for request tests."""
    return AuthActions(client)


# ---- the people and the trip most tests share ----------------------------------------------------


@pytest.fixture
def trip(app_ctx) -> Schedule:
    """A 40-seat deluxe (5% GST) 2+2 trip two days after NOW at Rs 500: a standard seat costs
    525.00 with GST; row 1 seats are premium (+Rs 50)."""
    return make_trip()


@pytest.fixture
def trip_id(app):
    """The id of a trip like ``trip``, two days after the real clock's now (for request tests)."""
    with app.app_context():
        return make_trip(now=utcnow()).id


@pytest.fixture
def asha_wallet() -> str:
    """What Asha has in her wallet: nothing, unless a module overrides this fixture."""
    return "0"


@pytest.fixture
def asha(app_ctx, asha_wallet) -> User:
    """A customer, with ``asha_wallet`` rupees in her wallet."""
    return make_user(first_name="Asha", wallet=asha_wallet)


@pytest.fixture
def ravi(app_ctx) -> User:
    """A customer with an empty wallet."""
    return make_user(first_name="Ravi")


@pytest.fixture
def admin(app_ctx) -> User:
    """An admin."""
    return make_user(Role.ADMIN, first_name="Admin")


@pytest.fixture
def gateway_refunds(monkeypatch) -> list:
    """The refunds asked of the gateway (after commit), as (reference, amount)."""
    asked: list = []
    original = SandboxGateway.refund

    def record(self, reference, amount, reason, key=None):
        asked.append((reference, amount))
        return original(self, reference, amount, reason, key)

    monkeypatch.setattr(SandboxGateway, "refund", record)
    return asked


@pytest.fixture
def hung_redis() -> Iterator[HungRedis]:
    """A Redis that accepts connections and never answers (its url is ``.url``)."""
    hung = HungRedis()
    yield hung
    hung.close()
