"""Engine setup for SQLite and PostgreSQL, and the unit of work every service runs in."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from booking.errors import Busy, ConcurrentChange
from booking.extensions import db

T = TypeVar("T")
ATTEMPTS = 4

MESSAGES = {
    "busy": "Those seats are being booked by someone else right now. Try again in a moment.",
    "changed": "The seats changed while we were working. Try again.",
}

# True inside a unit of work: on SQLite its transaction takes the write lock at BEGIN, while
# plain reads elsewhere begin deferred and never block writers (WAL lets them run side by side).
_writing: ContextVar[bool] = ContextVar("writing", default=False)


def engine_options(config: dict[str, Any]) -> dict[str, Any]:
    """Engine options: on PostgreSQL a lock timeout so nobody waits long for a row lock."""
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        connect_args = dict(options.get("connect_args") or {})
        connect_args.setdefault("options", f"-c lock_timeout={int(config['LOCK_TIMEOUT_MS'])}")
        options["connect_args"] = connect_args
    return options


def configure_engine(engine: Engine, config: dict[str, Any]) -> None:
    """Make SQLite behave: foreign keys on, WAL, and BEGIN IMMEDIATE so writers queue up."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA busy_timeout = 15000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        # SQLite has no row locks: a unit of work takes the write lock up front, which serialises
        # writers and gives the guarantees SELECT ... FOR UPDATE gives on PostgreSQL.
        connection.exec_driver_sql("BEGIN IMMEDIATE" if _writing.get() else "BEGIN")


def on_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` after the current unit of work commits; dropped if it rolls back."""
    db.session.info.setdefault("on_commit", []).append(callback)


def transaction_state() -> dict[str, Any]:
    """A dict that lives as long as the current unit of work (fresh at BEGIN, gone at the end)."""
    return db.session.info.setdefault("transaction_state", {})


@contextmanager
def unit_of_work() -> Iterator[Any]:
    """One transaction: commit on success, roll back on any error, then run on_commit callbacks."""
    session = db.session
    if session().in_transaction():
        session.commit()  # end the reads before this: the work below starts a fresh transaction
    session.info["on_commit"] = []
    session.info["transaction_state"] = {}
    token = _writing.set(True)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        session.info["on_commit"] = []
        session.info["transaction_state"] = {}
        raise
    finally:
        _writing.reset(token)
    session.info.pop("transaction_state", None)
    callbacks = session.info.pop("on_commit", [])
    for callback in callbacks:
        callback()


class StaleRead(Exception):
    """What was read before taking the locks changed meanwhile; with_retries runs it again."""


# The one-live-claim indexes and constraints whose refusal means "someone claimed it first":
# running the transaction again reads the new state and answers properly.
_RETRY_ON_CONSTRAINTS = ("reservation",)


def with_retries(
    attempt: Callable[[], T], taken_message: str | None = None, busy_message: str | None = None
) -> T:
    """Run a unit of work, again when a read went stale, a deadlock was broken, or a
    one-live-claim index refused a claim; a lock wait past the timeout becomes Busy (with
    ``busy_message``, when the caller knows better than "seats" what was locked).

    :raise Busy: when rows stayed locked; ConcurrentChange when the retries ran out.
    """
    for _ in range(ATTEMPTS):
        try:
            return attempt()
        except StaleRead:
            continue
        except IntegrityError as error:
            if not any(name in str(error.orig) for name in _RETRY_ON_CONSTRAINTS):
                raise
            continue
        except OperationalError as error:
            code = getattr(error.orig, "sqlstate", None)
            if code == "40P01":  # deadlock detected: PostgreSQL aborted us; try again
                continue
            # 55P03 lock_not_available (lock_timeout), 57014 query_canceled (statement_timeout)
            if code in ("55P03", "57014") or "locked" in str(error.orig):
                raise Busy(busy_message or MESSAGES["busy"]) from error
            raise
    raise ConcurrentChange(taken_message or MESSAGES["changed"])
