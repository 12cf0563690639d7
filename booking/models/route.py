"""Routes between two cities."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from booking.extensions import db
from booking.orm import IdMixin, TimestampMixin


class Route(IdMixin, TimestampMixin, db.Model):
    """A road from one city to another; trips (schedules) run on it."""

    __tablename__ = "routes"
    __table_args__ = (
        UniqueConstraint("origin_city", "destination_city"),
        CheckConstraint("origin_city <> destination_city", name="distinct_cities"),
        CheckConstraint("distance_km > 0", name="distance_positive"),
        CheckConstraint("estimated_duration_minutes > 0", name="duration_positive"),
    )

    origin_city: Mapped[str] = mapped_column(String(80), index=True)
    destination_city: Mapped[str] = mapped_column(String(80), index=True)
    distance_km: Mapped[float]
    estimated_duration_minutes: Mapped[int]
    is_active: Mapped[bool] = mapped_column(default=True)

    @property
    def name(self) -> str:
        """'Origin to Destination'."""
        return f"{self.origin_city} to {self.destination_city}"
