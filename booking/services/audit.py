"""The audit trail and structured event logs, written inside the caller's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import structlog
from sqlalchemy import func, insert, select

from booking.errors import DomainError
from booking.extensions import db
from booking.formatting import EARLIEST_DAY, LATEST_DAY
from booking.models import ActivityLog, User

# Configured in booking._configure_logging: logfmt through the stdlib "booking.events" logger.
logger = structlog.get_logger("booking.events")

# Set by the web layer for each request so services can record where an action came from
# without ever touching the request object.
client_ip: ContextVar[str | None] = ContextVar("client_ip", default=None)
# The person on whose behalf the system is acting (the customer whose gateway payment a webhook
# applies): rows recorded without an actor name them. Unset, as in the sweep and beat tasks,
# such rows are the system's.
on_behalf: ContextVar[uuid.UUID | None] = ContextVar("on_behalf", default=None)


@contextmanager
def acting_for(user_id: uuid.UUID | None) -> Iterator[None]:
    """Within the block, rows recorded without an actor are recorded as ``user_id``'s."""
    token = on_behalf.set(user_id)
    try:
        yield
    finally:
        on_behalf.reset(token)


def record(
    entity_type: str,
    entity_id: uuid.UUID | str,
    action_type: str,
    *,
    actor_id: uuid.UUID | None,
    at: datetime,
    **details: Any,
) -> ActivityLog:
    """Add an activity_logs row to the current transaction (it commits or rolls back with it)."""
    row = ActivityLog(
        entity_type=entity_type,
        entity_id=str(entity_id),
        user_id=actor_id or on_behalf.get(),
        action_type=action_type,
        details=_jsonable(details),
        ip_address=client_ip.get(),
        timestamp=at,
    )
    db.session.add(row)
    return row


def record_many(rows: list[dict[str, Any]], *, actor_id: uuid.UUID | None, at: datetime) -> int:
    """Add many activity_logs rows to the current transaction in one INSERT (a bulk edit's one
    row per item); each dict has entity_type, entity_id, action_type and details."""
    if not rows:
        return 0
    ip = client_ip.get()
    db.session.execute(
        insert(ActivityLog),
        [
            {
                "id": uuid.uuid4(),
                "entity_type": row["entity_type"],
                "entity_id": str(row["entity_id"]),
                "user_id": actor_id or on_behalf.get(),
                "action_type": row["action_type"],
                "details": _jsonable(row.get("details") or {}),
                "ip_address": ip,
                "timestamp": at,
            }
            for row in rows
        ],
    )
    return len(rows)


def log_event(event: str, **fields: Any) -> None:
    """Write one logfmt line (``event=hold.created seats=3A,3B reason="no show"``) that a log
    search can filter on, the fields in the order given. Lists are joined with commas; a value
    with a space, quote or ``=`` is quoted."""
    logger.info(event, **fields)


def log_failure(event: str, **fields: Any) -> None:
    """Like ``log_event``, at WARNING: something meant to happen did not (it was rolled back)."""
    logger.warning(event, **fields)


def _jsonable(value: Any) -> Any:
    """Turn UUIDs, Decimals, datetimes and enums into JSON-friendly values."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


# ---- reading the log -----------------------------------------------------------------------

MESSAGES = {
    "date": "Give dates as YYYY-MM-DD (for example 2026-12-01), from 2000 to 2999.",
    "order": "The first day must not be after the last day.",
    "page": "Pages are numbered from 1.",
}


class AuditError(DomainError):
    """A filter of the audit log that cannot be read; nothing is listed."""


@dataclass(frozen=True)
class LogFilter:
    """What the audit log is narrowed to; every part optional.

    ``actor`` is "system" (rows no person made) or part of a person's email; ``entity_id`` is
    an entity's id or its first characters (the short reference the log shows).
    """

    entity_type: str | None = None
    action: str | None = None
    actor: str | None = None
    entity_id: str | None = None
    first: date | None = None
    last: date | None = None

    def args(self) -> dict[str, str]:
        """The query arguments that name this filter again (for paging and the export)."""
        values = {
            "entity_type": self.entity_type,
            "action": self.action,
            "actor": self.actor,
            "id": self.entity_id,
            "from": self.first.isoformat() if self.first else None,
            "to": self.last.isoformat() if self.last else None,
        }
        return {key: value for key, value in values.items() if value}


@dataclass(frozen=True)
class LogRow:
    """An audit row with the person who acted (None for the system)."""

    log: ActivityLog
    actor_email: str | None
    actor_name: str | None
    actor_role: str | None


@dataclass(frozen=True)
class LogPage:
    rows: list[LogRow]
    page: int
    has_next: bool


def log_filter(
    *,
    entity_type: str | None = None,
    action: str | None = None,
    actor: str | None = None,
    entity_id: str | None = None,
    first: str | None = None,
    last: str | None = None,
) -> LogFilter:
    """A filter from plain strings (blank means any).

    :raise AuditError: for a malformed date or a reversed period.
    """

    def clean(value: str | None, limit: int) -> str | None:
        return (value or "").strip()[:limit] or None

    first_day, last_day = _day(first), _day(last)
    if first_day and last_day and first_day > last_day:
        raise AuditError(MESSAGES["order"])
    return LogFilter(
        clean(entity_type, 40),
        clean(action, 60),
        clean(actor, 254),
        clean(entity_id, 64),
        first_day,
        last_day,
    )


def _day(raw: str | None) -> date | None:
    """A YYYY-MM-DD date, or None for blank.

    :raise AuditError: when it is not one.
    """
    if not (raw or "").strip():
        return None
    try:
        day = date.fromisoformat(raw.strip())
    except ValueError:
        raise AuditError(MESSAGES["date"]) from None
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise AuditError(MESSAGES["date"])
    return day


def _log_query(wanted: LogFilter):
    """The rows matching the filter, newest first, with their actor."""
    from booking.services.catalog import local_day_bounds

    query = (
        select(ActivityLog, User.email, User.first_name, User.last_name, User.role)
        .outerjoin(User, User.id == ActivityLog.user_id)
        .order_by(ActivityLog.timestamp.desc(), ActivityLog.id)
    )
    if wanted.entity_type:
        query = query.where(ActivityLog.entity_type == wanted.entity_type)
    if wanted.action:
        query = query.where(ActivityLog.action_type.startswith(wanted.action, autoescape=True))
    if wanted.entity_id:
        query = query.where(ActivityLog.entity_id.startswith(wanted.entity_id, autoescape=True))
    if wanted.actor:
        if wanted.actor.lower() == "system":
            query = query.where(ActivityLog.user_id.is_(None))
        else:
            query = query.where(
                func.lower(User.email).contains(wanted.actor.lower(), autoescape=True)
            )
    if wanted.first:
        query = query.where(ActivityLog.timestamp >= local_day_bounds(wanted.first)[0])
    if wanted.last:
        query = query.where(ActivityLog.timestamp < local_day_bounds(wanted.last)[1])
    return query


def _rows(result) -> list[LogRow]:
    """LogRows from (log, email, first, last, role) tuples."""
    return [
        LogRow(
            log,
            email,
            f"{first} {last}".strip() if email else None,
            role.value if role is not None else None,
        )
        for log, email, first, last, role in result
    ]


def search(wanted: LogFilter, *, page: int = 1, per_page: int = 50) -> LogPage:
    """One page of the matching rows, newest first.

    :raise AuditError: for a page below 1.
    """
    if page < 1:
        raise AuditError(MESSAGES["page"])
    query = _log_query(wanted).offset((page - 1) * per_page).limit(per_page + 1)
    rows = _rows(db.session.execute(query))
    return LogPage(rows[:per_page], page, len(rows) > per_page)


def export(wanted: LogFilter, *, limit: int) -> list[LogRow]:
    """Up to ``limit`` matching rows, newest first, for the CSV export."""
    return _rows(db.session.execute(_log_query(wanted).limit(limit)))


def kinds() -> tuple[list[str], list[str]]:
    """The entity types and action types present, for the filter lists."""
    types = sorted(db.session.scalars(select(ActivityLog.entity_type).distinct()))
    actions = sorted(db.session.scalars(select(ActivityLog.action_type).distinct()))
    return types, actions
