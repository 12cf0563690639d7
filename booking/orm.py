"""The declarative base: naming convention for constraints, UUID keys and UTC timestamps."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, MetaData, String, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, registry

from booking.db_types import Money, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time in UTC (services take ``now`` as an argument; this is the default)."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Base of every model: UTC datetimes, Decimal money, JSON dicts, UUID keys."""

    # Given as a registry (not class attributes) so Flask-SQLAlchemy's subclass keeps it.
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={
            datetime: UTCDateTime(),
            Decimal: Money(),
            dict[str, Any]: JSON(),
            list[Any]: JSON(),
            uuid.UUID: Uuid(),
            str: String(255),
        },
    )


class IdMixin:
    """A random UUID primary key."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class TimestampMixin:
    """created_at and updated_at, kept by the ORM."""

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
