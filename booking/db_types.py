"""Column types that behave the same on SQLite and PostgreSQL: UTC times and exact money."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import BigInteger, DateTime, Enum, Numeric
from sqlalchemy.types import TypeDecorator

CENT = Decimal("0.01")


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime; refuses naive values so no local time sneaks in."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        """Store as UTC (naive on SQLite, whose text format sorts correctly)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a UTC time is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Money(TypeDecorator):
    """Decimal money, two places: NUMERIC(12, 2), or whole paise on SQLite so sums stay exact."""

    impl = Numeric(12, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        """Use an integer of minor units on SQLite, which has no exact decimal type."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(12, 2))

    def process_bind_param(self, value, dialect):
        """Refuse fractions of a paisa; they mean a rounding step was missed."""
        if value is None:
            return None
        value = Decimal(value)
        if value != value.quantize(CENT):
            raise ValueError(f"money with more than two decimal places: {value}")
        return int(value * 100) if dialect.name == "sqlite" else value.quantize(CENT)

    def process_result_value(self, value, dialect):
        """Return a Decimal with two places."""
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / 100).quantize(CENT)
        return Decimal(value).quantize(CENT)

    @property
    def python_type(self):
        """Money is a Decimal in Python."""
        return Decimal


def enum_type(enum_cls: type[StrEnum], name: str) -> Enum:
    """A VARCHAR limited to the enum's values by a CHECK constraint (same on both databases)."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        validate_strings=True,
        length=max(len(m.value) for m in enum_cls),
        values_callable=lambda cls: [m.value for m in cls],
    )
