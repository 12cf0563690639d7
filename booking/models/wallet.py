"""Wallets and their append-only ledger."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from booking.db_types import enum_type
from booking.extensions import db
from booking.models.enums import LedgerKind
from booking.orm import IdMixin, TimestampMixin, utcnow


class Wallet(IdMixin, TimestampMixin, db.Model):
    """One per customer. balance equals the signed sum of the ledger and is never negative."""

    __tablename__ = "wallets"
    __table_args__ = (CheckConstraint("balance >= 0", name="balance_not_negative"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), unique=True)
    balance: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))


class WalletTransaction(IdMixin, db.Model):
    """A ledger entry. A refund reverses (part of) a debit and names it in parent_id."""

    __tablename__ = "wallet_transactions"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("balance_after >= 0", name="balance_after_not_negative"),
        CheckConstraint(
            "(kind = 'refund') = (parent_id IS NOT NULL)", name="refund_names_its_debit"
        ),
    )

    wallet_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("wallets.id"), index=True)
    kind: Mapped[LedgerKind] = mapped_column(enum_type(LedgerKind, "ledger_kind"))
    amount: Mapped[Decimal]
    balance_after: Mapped[Decimal]
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("wallet_transactions.id"), index=True
    )
    payment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payments.id"), index=True)
    booking_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("bookings.id"), index=True)
    description: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
