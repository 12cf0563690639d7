"""Payments (wallet, gateway, cash), the gateway events already applied, and the refunds of
payments."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.db_types import enum_type
from booking.extensions import db
from booking.models.enums import (
    PaymentMethod,
    PaymentPurpose,
    PaymentStatus,
    RefundMethod,
    RefundStatus,
)
from booking.orm import IdMixin, TimestampMixin


class Payment(IdMixin, TimestampMixin, db.Model):
    """Money asked for or taken: for a hold (booking) or a wallet top-up.

    A completed booking payment belongs to exactly one booking (CHECK below); a payment whose
    booking could not be made ends refunded, never completed without a booking.
    """

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("refunded_amount >= 0", name="refunded_not_negative"),
        CheckConstraint("refunded_amount <= amount", name="refund_within_amount"),
        CheckConstraint(
            "purpose <> 'booking' OR status <> 'completed' OR booking_id IS NOT NULL",
            name="completed_booking_payment_has_booking",
        ),
        CheckConstraint(
            "purpose <> 'booking' OR reservation_id IS NOT NULL", name="booking_payment_has_hold"
        ),
        CheckConstraint("purpose <> 'topup' OR user_id IS NOT NULL", name="topup_has_user"),
        Index("ix_payments_created_at", "created_at"),  # payment attempts in a period
    )

    purpose: Mapped[PaymentPurpose] = mapped_column(
        enum_type(PaymentPurpose, "payment_purpose"), default=PaymentPurpose.BOOKING
    )
    reservation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("reservations.id"), index=True
    )
    booking_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("bookings.id"), index=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), index=True)
    amount: Mapped[Decimal]
    refunded_amount: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    method: Mapped[PaymentMethod] = mapped_column(enum_type(PaymentMethod, "payment_method"))
    gateway_reference: Mapped[str | None] = mapped_column(String(64), unique=True)
    gateway_url: Mapped[str | None] = mapped_column(String(500))
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[PaymentStatus] = mapped_column(
        enum_type(PaymentStatus, "payment_status"), default=PaymentStatus.PENDING
    )
    completed_at: Mapped[datetime | None]
    failure_reason: Mapped[str | None] = mapped_column(String(200))
    # For a gateway payment paired with a wallet part: the wallet payment it completes.
    paired_payment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payments.id"))

    paired_payment: Mapped[Payment | None] = relationship(remote_side="Payment.id")


class PaymentEvent(IdMixin, TimestampMixin, db.Model):
    """A gateway event that has been applied; its unique event_id makes replays no-ops."""

    __tablename__ = "payment_events"

    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    payment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payments.id"), index=True)
    event_type: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]]
    received_at: Mapped[datetime]


class Refund(IdMixin, TimestampMixin, db.Model):
    """Money going back for one payment: a share of a cancellation's refund, or a whole payment
    handed back (a late or unexpected gateway success).

    Wallet, cash-from-the-shift and terminal refunds are processed in the transaction that
    decides them. A gateway refund starts pending and is asked of the gateway after commit;
    a failed attempt is tried again at ``next_attempt_at`` (backing off), and after
    REFUND_MAX_ATTEMPTS it is failed until someone retries it by hand.
    """

    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        CheckConstraint(
            "status <> 'processed' OR processed_at IS NOT NULL", name="processed_has_time"
        ),
        Index("ix_refunds_status_next_attempt_at", "status", "next_attempt_at"),
    )

    payment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payments.id"), index=True)
    cancellation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("cancellations.id"), index=True
    )
    booking_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("bookings.id"), index=True)
    amount: Mapped[Decimal]
    method: Mapped[RefundMethod] = mapped_column(enum_type(RefundMethod, "refund_method"))
    reason: Mapped[str] = mapped_column(String(200))
    status: Mapped[RefundStatus] = mapped_column(
        enum_type(RefundStatus, "refund_status"), default=RefundStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    # Set while an attempt is under way (a worker asked the gateway), cleared with its outcome.
    attempt_started_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    gateway_refund_reference: Mapped[str | None] = mapped_column(String(64))
    processed_at: Mapped[datetime | None]

    payment: Mapped[Payment] = relationship()
