"""Routes between two cities."""

from __future__ import annotations

import uuid

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.db_types import enum_type
from booking.extensions import db
from booking.models.enums import StopKind
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

    stops: Mapped[list[RouteStop]] = relationship(
        back_populates="route",
        order_by="(RouteStop.kind, RouteStop.position)",
        cascade="all, delete-orphan",
    )

    @property
    def name(self) -> str:
        """'Origin to Destination'."""
        return f"{self.origin_city} to {self.destination_city}"


class RouteStop(IdMixin, TimestampMixin, db.Model):
    """A boarding or dropping point of a route, reached a fixed time after departure."""

    __tablename__ = "route_stops"
    __table_args__ = (
        UniqueConstraint("route_id", "kind", "position"),
        CheckConstraint("minutes_from_departure >= 0", name="minutes_not_negative"),
        CheckConstraint("position >= 0", name="position_not_negative"),
    )

    route_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("routes.id"), index=True)
    kind: Mapped[StopKind] = mapped_column(enum_type(StopKind, "stop_kind"))
    name: Mapped[str] = mapped_column(String(80))
    minutes_from_departure: Mapped[int]
    position: Mapped[int]

    route: Mapped[Route] = relationship(back_populates="stops")
