"""A clerk's time at the counter (shifts) and its append-only cash record (shift_movements)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.db_types import enum_type
from booking.extensions import db
from booking.models.enums import MovementKind
from booking.models.user import User
from booking.orm import IdMixin, TimestampMixin, utcnow


class Shift(IdMixin, TimestampMixin, db.Model):
    """One clerk's shift at a counter: opened with a float, closed with the cash counted.

    At most one open shift per clerk (the partial unique index decides, even under a race).
    Closing writes expected_cash (the float plus the drawer's movements), counted_cash and
    variance = counted - expected, all at once (CHECKs below).
    """

    __tablename__ = "shifts"
    __table_args__ = (
        CheckConstraint("opening_float >= 0", name="opening_float_not_negative"),
        CheckConstraint("counted_cash IS NULL OR counted_cash >= 0", name="counted_not_negative"),
        CheckConstraint(
            "(closed_at IS NULL AND counted_cash IS NULL AND expected_cash IS NULL "
            "AND variance IS NULL AND closed_by_id IS NULL) OR "
            "(closed_at IS NOT NULL AND counted_cash IS NOT NULL AND expected_cash IS NOT NULL "
            "AND variance IS NOT NULL AND closed_by_id IS NOT NULL)",
            name="closed_all_at_once",
        ),
        CheckConstraint(
            "variance IS NULL OR variance = counted_cash - expected_cash",
            name="variance_is_counted_less_expected",
        ),
        CheckConstraint("closed_at IS NULL OR closed_at >= opened_at", name="closed_after_opened"),
        Index(
            "uq_shifts_one_open_per_clerk",
            "clerk_id",
            unique=True,
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),
    )

    clerk_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    station: Mapped[str | None] = mapped_column(String(80))
    opened_at: Mapped[datetime] = mapped_column(index=True)
    opening_float: Mapped[Decimal]
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    counted_cash: Mapped[Decimal | None]
    expected_cash: Mapped[Decimal | None]
    variance: Mapped[Decimal | None]
    closing_note: Mapped[str | None] = mapped_column(String(500))

    clerk: Mapped[User] = relationship(foreign_keys=[clerk_id])

    @property
    def is_open(self) -> bool:
        """Whether the shift is still open."""
        return self.closed_at is None


class ShiftMovement(IdMixin, db.Model):
    """One entry of a shift's record; rows are only ever added, never changed or deleted.

    ``amount`` is signed: what the entry changed in the drawer (+ cash in, - cash out). So a
    cash_refund is negative, a float_change either way, and the drawer holds the sum of the
    cash kinds (opening_float, cash_sale, cash_refund, float_change). card_sale and upi_sale
    are positive and recorded for the report only: that money is at the terminal, not in cash.
    """

    __tablename__ = "shift_movements"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'opening_float' AND amount >= 0) "
            "OR (kind IN ('cash_sale', 'card_sale', 'upi_sale') AND amount > 0) "
            "OR (kind = 'cash_refund' AND amount < 0) "
            "OR (kind = 'float_change' AND amount <> 0)",
            name="amount_sign_matches_kind",
        ),
        CheckConstraint(
            "kind NOT IN ('cash_sale', 'cash_refund', 'card_sale', 'upi_sale') "
            "OR payment_id IS NOT NULL",
            name="sale_or_refund_names_its_payment",
        ),
        # A payment is taken once: one sale movement per payment.
        Index(
            "uq_shift_movements_one_sale_per_payment",
            "payment_id",
            unique=True,
            sqlite_where=text("kind IN ('cash_sale', 'card_sale', 'upi_sale')"),
            postgresql_where=text("kind IN ('cash_sale', 'card_sale', 'upi_sale')"),
        ),
    )

    shift_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shifts.id"), index=True)
    kind: Mapped[MovementKind] = mapped_column(enum_type(MovementKind, "movement_kind"))
    amount: Mapped[Decimal]
    payment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payments.id"), index=True)
    booking_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("bookings.id"), index=True)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
