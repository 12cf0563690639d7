"""Bookings (created only once payment has succeeded), their seats, tickets and cancellations."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.db_types import enum_type
from booking.extensions import db
from booking.models.enums import (
    BookingPaymentStatus,
    BookingSeatStatus,
    BookingStatus,
    Channel,
    Gender,
    PaymentStatus,
    RefundMode,
    RefundStatus,
    TicketValidity,
)
from booking.models.hold import Reservation
from booking.models.schedule import Schedule, Seat
from booking.orm import IdMixin, TimestampMixin

if TYPE_CHECKING:
    from booking.models.payment import Payment

SETTLED = (PaymentStatus.COMPLETED, PaymentStatus.REFUNDED)

# Upper-case letters and digits without look-alikes (no 0/O, 1/I/L, 2/Z, 5/S, 8/B).
REFERENCE_ALPHABET = "34679ACDEFGHJKMNPQRTUVWXY"


class Booking(IdMixin, TimestampMixin, db.Model):
    """A paid booking of one or more seats on one trip. One booking per hold, at most."""

    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint("length(reference) BETWEEN 8 AND 12", name="reference_length"),
        # Together these also keep total_amount >= 0.
        CheckConstraint("refunded_amount >= 0", name="refunded_not_negative"),
        CheckConstraint("refunded_amount <= total_amount", name="refund_within_total"),
        CheckConstraint("discount_amount >= 0 AND tax_amount >= 0", name="breakdown_not_negative"),
        CheckConstraint(
            "total_amount = base_amount - discount_amount + tax_amount", name="breakdown_adds_up"
        ),
        CheckConstraint("(channel = 'desk') = (sold_by_id IS NOT NULL)", name="desk_names_clerk"),
        CheckConstraint("channel = 'desk' OR user_id IS NOT NULL", name="online_has_user"),
    )

    reference: Mapped[str] = mapped_column(String(12), unique=True)
    reservation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("reservations.id"), unique=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), index=True)
    sold_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    channel: Mapped[Channel] = mapped_column(enum_type(Channel, "channel"))
    schedule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schedules.id"), index=True)
    contact_name: Mapped[str] = mapped_column(String(160))
    contact_phone: Mapped[str] = mapped_column(String(15), index=True)
    contact_email: Mapped[str | None] = mapped_column(String(254))
    base_amount: Mapped[Decimal]  # fares: base prices plus seat extras, before any discount
    discount_amount: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    tax_amount: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    total_amount: Mapped[Decimal]
    refunded_amount: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    promo_code_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("promo_codes.id"))
    payment_status: Mapped[BookingPaymentStatus] = mapped_column(
        enum_type(BookingPaymentStatus, "booking_payment_status"),
        default=BookingPaymentStatus.COMPLETED,
    )
    status: Mapped[BookingStatus] = mapped_column(
        enum_type(BookingStatus, "booking_status"), default=BookingStatus.CONFIRMED
    )
    # Indexed for the admin's figures and reports, which all count sales by when they were made.
    confirmed_at: Mapped[datetime] = mapped_column(index=True)

    reservation: Mapped[Reservation] = relationship()
    schedule: Mapped[Schedule] = relationship()
    seats: Mapped[list[BookingSeat]] = relationship(
        back_populates="booking", order_by="BookingSeat.seat_number"
    )
    ticket: Mapped[Ticket | None] = relationship(back_populates="booking", uselist=False)
    cancellations: Mapped[list[Cancellation]] = relationship(
        back_populates="booking", order_by="Cancellation.created_at"
    )
    payments: Mapped[list[Payment]] = relationship(
        primaryjoin="Payment.booking_id == Booking.id", viewonly=True, order_by="Payment.created_at"
    )

    @property
    def booked_seats(self) -> list[BookingSeat]:
        """The seats still booked (not cancelled), in seat-number order."""
        return [seat for seat in self.seats if seat.status == BookingSeatStatus.BOOKED]

    @property
    def booked_numbers(self) -> list[str]:
        """The seat numbers still booked."""
        return [seat.seat_number for seat in self.booked_seats]

    @property
    def settled_payments(self) -> list[Payment]:
        """The payments that paid for the booking (refunded ones included), oldest first."""
        return [p for p in self.payments if p.status in SETTLED]


class BookingSeat(IdMixin, TimestampMixin, db.Model):
    """A booked seat with its fare snapshot and passenger.

    fare is base price plus seat modifier; charged is this seat's share of what the booking cost
    (after discount and tax), so a partial cancellation refunds exactly what that seat cost.
    """

    __tablename__ = "booking_seats"
    __table_args__ = (
        Index(
            "uq_booking_seats_one_booked_seat",
            "seat_id",
            unique=True,
            sqlite_where=text("status = 'booked'"),
            postgresql_where=text("status = 'booked'"),
        ),
        CheckConstraint("fare > 0 AND charged >= 0", name="amounts"),
        CheckConstraint("passenger_age BETWEEN 0 AND 120", name="passenger_age_range"),
        CheckConstraint(
            "(status = 'cancelled') = (cancellation_id IS NOT NULL)", name="cancelled_has_record"
        ),
    )

    booking_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bookings.id"), index=True)
    seat_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("seats.id"), index=True)
    seat_number: Mapped[str] = mapped_column(String(8))
    fare: Mapped[Decimal]
    charged: Mapped[Decimal]
    passenger_name: Mapped[str] = mapped_column(String(120))
    passenger_age: Mapped[int]
    passenger_gender: Mapped[Gender] = mapped_column(enum_type(Gender, "gender"))
    status: Mapped[BookingSeatStatus] = mapped_column(
        enum_type(BookingSeatStatus, "booking_seat_status"), default=BookingSeatStatus.BOOKED
    )
    cancellation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("cancellations.id"), index=True
    )

    booking: Mapped[Booking] = relationship(back_populates="seats")
    seat: Mapped[Seat] = relationship()


class Ticket(IdMixin, TimestampMixin, db.Model):
    """The ticket of a booking. version rises when the booking changes; older QR codes fail."""

    __tablename__ = "tickets"
    __table_args__ = (CheckConstraint("version >= 1", name="version_positive"),)

    booking_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bookings.id"), unique=True)
    ticket_number: Mapped[str] = mapped_column(String(20), unique=True)
    version: Mapped[int] = mapped_column(default=1)
    qr_payload: Mapped[str] = mapped_column(Text)
    validity: Mapped[TicketValidity] = mapped_column(
        enum_type(TicketValidity, "ticket_validity"), default=TicketValidity.VALID
    )
    issued_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    booking: Mapped[Booking] = relationship(back_populates="ticket")


class Cancellation(IdMixin, TimestampMixin, db.Model):
    """One act of cancelling some or all seats of a booking, with its refund."""

    __tablename__ = "cancellations"
    __table_args__ = (
        CheckConstraint("refund_amount >= 0", name="refund_not_negative"),
        CheckConstraint("refund_percent BETWEEN 0 AND 100", name="refund_percent_range"),
        Index("ix_cancellations_created_at", "created_at"),
    )

    booking_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bookings.id"), index=True)
    cancelled_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(String(500))
    refund_percent: Mapped[int]
    refund_amount: Mapped[Decimal]
    refund_mode: Mapped[RefundMode] = mapped_column(enum_type(RefundMode, "refund_mode"))
    refund_status: Mapped[RefundStatus] = mapped_column(
        enum_type(RefundStatus, "refund_status"), default=RefundStatus.PENDING
    )
    processed_at: Mapped[datetime | None]

    booking: Mapped[Booking] = relationship(back_populates="cancellations")
    seats: Mapped[list[BookingSeat]] = relationship()
