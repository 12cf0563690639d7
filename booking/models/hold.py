"""Holds (reservations) and the seats they claim.

A reservation_seats row with is_live = true is a claim on a seat: by an active hold, or by the
booking its confirmed hold became. The partial unique index on (seat_id) WHERE is_live makes a
second live claim on a seat impossible, whatever the application code does.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.db_types import enum_type
from booking.extensions import db
from booking.models.enums import Channel, HoldStatus
from booking.models.schedule import Schedule, Seat
from booking.models.user import User
from booking.orm import IdMixin, TimestampMixin


class Reservation(IdMixin, TimestampMixin, db.Model):
    """A hold on up to MAX_SEATS_PER_HOLD seats of one trip until expires_at."""

    __tablename__ = "reservations"
    __table_args__ = (
        CheckConstraint("expires_at > reserved_at", name="expires_after_reserved"),
        CheckConstraint("total_amount >= 0", name="total_not_negative"),
        CheckConstraint(
            "(channel = 'desk') = (sold_by_id IS NOT NULL)", name="desk_sales_name_the_clerk"
        ),
        CheckConstraint("channel = 'desk' OR user_id IS NOT NULL", name="online_holds_have_user"),
        Index(
            "uq_reservations_one_active_per_customer",
            "user_id",
            "schedule_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        Index("ix_reservations_status_expires_at", "status", "expires_at"),
    )

    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), index=True)
    sold_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    channel: Mapped[Channel] = mapped_column(enum_type(Channel, "channel"), default=Channel.ONLINE)
    schedule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schedules.id"), index=True)
    reserved_at: Mapped[datetime] = mapped_column(index=True)  # the hold funnel's period
    expires_at: Mapped[datetime]
    gateway_extended: Mapped[bool] = mapped_column(default=False)
    status: Mapped[HoldStatus] = mapped_column(
        enum_type(HoldStatus, "hold_status"), default=HoldStatus.ACTIVE
    )
    total_amount: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(200))
    # Passengers, contact and promo code given at checkout; the booking is built from them once
    # payment succeeds (payment-first), possibly in a webhook long after the customer left.
    checkout: Mapped[dict[str, Any] | None]

    schedule: Mapped[Schedule] = relationship()
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    seat_links: Mapped[list[ReservationSeat]] = relationship(
        back_populates="reservation", order_by="ReservationSeat.created_at"
    )

    def is_live_at(self, now: datetime) -> bool:
        """Whether the hold still holds its seats at ``now`` (active and not past expires_at)."""
        return self.status == HoldStatus.ACTIVE and self.expires_at > now


class ReservationSeat(IdMixin, TimestampMixin, db.Model):
    """One seat of a hold. is_live marks the claim that still stands."""

    __tablename__ = "reservation_seats"
    __table_args__ = (
        Index(
            "uq_reservation_seats_one_live_claim",
            "seat_id",
            unique=True,
            sqlite_where=text("is_live"),
            postgresql_where=text("is_live"),
        ),
        CheckConstraint("is_live OR released_at IS NOT NULL", name="released_has_time"),
    )

    reservation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("reservations.id"), index=True)
    seat_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("seats.id"), index=True)
    is_live: Mapped[bool] = mapped_column(default=True)
    released_at: Mapped[datetime | None]

    reservation: Mapped[Reservation] = relationship(back_populates="seat_links")
    seat: Mapped[Seat] = relationship()
