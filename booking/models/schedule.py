"""Trips (schedules) and the seats generated for each trip from its bus layout."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.db_types import enum_type
from booking.extensions import db
from booking.models.bus import Bus
from booking.models.enums import ScheduleStatus, SeatStatus, SeatType
from booking.models.route import Route
from booking.orm import IdMixin, TimestampMixin


class Schedule(IdMixin, TimestampMixin, db.Model):
    """One departure of a bus on a route.

    available_seats counts the seats whose row is not claimed (seat.status = available); a hold
    that lapsed but was not yet retired still counts as claimed here, and readers add its seats
    back (see services.inventory), so the counter only ever moves inside claim transactions.
    seat_version increases with every change to any seat of the trip; live updates carry it.
    """

    __tablename__ = "schedules"
    __table_args__ = (
        UniqueConstraint("bus_id", "departure_at"),
        CheckConstraint("arrival_at > departure_at", name="arrival_after_departure"),
        CheckConstraint("base_price > 0", name="base_price_positive"),
        CheckConstraint("available_seats >= 0", name="available_seats_not_negative"),
        CheckConstraint("seat_version >= 0", name="seat_version_not_negative"),
        Index("ix_schedules_route_departure", "route_id", "departure_at"),
    )

    bus_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("buses.id"), index=True)
    route_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("routes.id"))
    departure_at: Mapped[datetime] = mapped_column(index=True)
    arrival_at: Mapped[datetime]
    base_price: Mapped[Decimal]
    available_seats: Mapped[int] = mapped_column(default=0)
    seat_version: Mapped[int] = mapped_column(default=0)
    status: Mapped[ScheduleStatus] = mapped_column(
        enum_type(ScheduleStatus, "schedule_status"), default=ScheduleStatus.SCHEDULED
    )

    bus: Mapped[Bus] = relationship(lazy="joined", innerjoin=True)
    route: Mapped[Route] = relationship(lazy="joined", innerjoin=True)

    @property
    def duration_minutes(self) -> int:
        """Minutes from departure to arrival."""
        return int((self.arrival_at - self.departure_at).total_seconds() // 60)


class Seat(IdMixin, TimestampMixin, db.Model):
    """A seat or berth of one trip. status mirrors its claim (reservation_seats.is_live)."""

    __tablename__ = "seats"
    __table_args__ = (
        UniqueConstraint("schedule_id", "seat_number"),
        CheckConstraint("price_modifier >= 0", name="price_modifier_not_negative"),
        CheckConstraint("deck >= 0 AND row_index >= 0 AND column_index >= 0", name="position"),
    )

    schedule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schedules.id"))
    seat_number: Mapped[str] = mapped_column(String(8))
    deck: Mapped[int]
    row_index: Mapped[int]
    column_index: Mapped[int]
    seat_type: Mapped[SeatType] = mapped_column(enum_type(SeatType, "seat_type"))
    price_modifier: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    ladies_only: Mapped[bool] = mapped_column(default=False)
    is_window: Mapped[bool] = mapped_column(default=False)
    status: Mapped[SeatStatus] = mapped_column(
        enum_type(SeatStatus, "seat_status"), default=SeatStatus.AVAILABLE
    )
