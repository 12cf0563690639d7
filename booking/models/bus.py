"""Buses and their seat layouts (the layout format is documented in booking/layouts)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from booking.db_types import enum_type
from booking.extensions import db
from booking.models.enums import BusType
from booking.orm import IdMixin, TimestampMixin


class Bus(IdMixin, TimestampMixin, db.Model):
    """A vehicle. total_seats must equal the seats in seat_layout_config (checked on save)."""

    __tablename__ = "buses"
    __table_args__ = (CheckConstraint("total_seats BETWEEN 1 AND 100", name="seat_count_range"),)

    bus_number: Mapped[str] = mapped_column(String(20), unique=True)
    bus_type: Mapped[BusType] = mapped_column(enum_type(BusType, "bus_type"))
    total_seats: Mapped[int]
    seat_layout_config: Mapped[dict[str, Any]]
    amenities: Mapped[list[Any]] = mapped_column(default=list)
    is_active: Mapped[bool] = mapped_column(default=True)

    @property
    def type_label(self) -> str:
        """Bus type for people: 'Semi sleeper'."""
        return self.bus_type.value.replace("_", " ").capitalize()
