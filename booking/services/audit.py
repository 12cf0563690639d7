"""The audit trail and structured event logs, written inside the caller's transaction."""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import insert

from booking.extensions import db
from booking.models import ActivityLog

# Configured in booking._configure_logging: logfmt through the stdlib "booking.events" logger.
logger = structlog.get_logger("booking.events")

# Set by the web layer for each request so services can record where an action came from
# without ever touching the request object.
client_ip: ContextVar[str | None] = ContextVar("client_ip", default=None)


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
        user_id=actor_id,
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
                "user_id": actor_id,
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
