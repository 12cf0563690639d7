"""Wallets: the only module that changes a balance. Every change appends a ledger row with the
balance after it; a refund row names the debit it reverses and never exceeds what is left of it.

The functions that move money run inside the caller's transaction and expect the wallet row to be
locked first (lock_wallet); the balance can never go negative (a CHECK backs this up).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select

from booking.database import on_commit
from booking.extensions import db
from booking.formatting import money
from booking.models import Wallet, WalletTransaction
from booking.models.enums import LedgerKind
from booking.services import audit
from booking.services.errors import DomainError

ZERO = Decimal("0.00")

MESSAGES = {
    "no_wallet": "This account has no wallet.",
    "short": "Your wallet has {balance}, {short} short of {amount}.",
    "not_a_debit": "Only a debit of this wallet can be refunded to it.",
    "refund_left": "Only {left} of that payment is left to refund.",
    "amount": "The amount must be positive, in rupees and paise.",
}


class WalletError(DomainError):
    """A wallet operation was refused; nothing changed."""


@dataclass
class LedgerLine:
    """A ledger row for display, with the refunds that reverse it (for a debit)."""

    row: WalletTransaction
    refunds: list[WalletTransaction] = field(default_factory=list)


def wallet_of(user_id: uuid.UUID) -> Wallet:
    """A customer's wallet (read only).

    :raise WalletError: when the account has none (staff accounts made by hand, say).
    """
    wallet = db.session.scalar(select(Wallet).where(Wallet.user_id == user_id))
    if wallet is None:
        raise WalletError(MESSAGES["no_wallet"])
    return wallet


def balance(user_id: uuid.UUID) -> Decimal:
    """The current balance, 0.00 for an account without a wallet."""
    value = db.session.scalar(select(Wallet.balance).where(Wallet.user_id == user_id))
    return value if value is not None else ZERO


def lock_wallet(user_id: uuid.UUID) -> Wallet:
    """Lock a customer's wallet row for this transaction and return it fresh.

    :raise WalletError: when the account has no wallet.
    """
    wallet = db.session.scalar(
        select(Wallet)
        .where(Wallet.user_id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if wallet is None:
        raise WalletError(MESSAGES["no_wallet"])
    return wallet


def debit(
    wallet: Wallet,
    amount: Decimal,
    *,
    now: datetime,
    description: str,
    payment_id: uuid.UUID | None = None,
    booking_id: uuid.UUID | None = None,
) -> WalletTransaction:
    """Take ``amount`` from a locked wallet.

    :raise WalletError: when the balance is short (saying by how much).
    """
    _positive(amount)
    if wallet.balance < amount:
        raise WalletError(
            MESSAGES["short"].format(
                balance=money(wallet.balance),
                short=money(amount - wallet.balance),
                amount=money(amount),
            )
        )
    row = _append(wallet, LedgerKind.DEBIT, -amount, now, description, payment_id, booking_id)
    fields = {
        "customer": wallet.user_id,
        "amount": amount,
        "balance_after": row.balance_after,
        "payment": payment_id,
        "booking": booking_id,
        "description": description,
    }
    on_commit(lambda: audit.log_event("wallet.debited", **fields))
    return row


def credit(
    wallet: Wallet,
    amount: Decimal,
    *,
    now: datetime,
    description: str,
    payment_id: uuid.UUID | None = None,
    booking_id: uuid.UUID | None = None,
) -> WalletTransaction:
    """Add ``amount`` to a locked wallet (a top-up, or a refund of money paid another way)."""
    _positive(amount)
    return _append(wallet, LedgerKind.CREDIT, amount, now, description, payment_id, booking_id)


def refund(
    wallet: Wallet,
    parent: WalletTransaction,
    amount: Decimal,
    *,
    now: datetime,
    description: str,
    booking_id: uuid.UUID | None = None,
) -> WalletTransaction:
    """Give back (part of) a debit to the locked wallet it came from.

    :raise WalletError: when ``parent`` is not a debit of this wallet, or the refunds of it would
        exceed it.
    """
    _positive(amount)
    if parent.kind != LedgerKind.DEBIT or parent.wallet_id != wallet.id:
        raise WalletError(MESSAGES["not_a_debit"])
    left = parent.amount - refunded_of(parent.id)
    if amount > left:
        raise WalletError(MESSAGES["refund_left"].format(left=money(left)))
    row = _append(
        wallet,
        LedgerKind.REFUND,
        amount,
        now,
        description,
        parent.payment_id,
        booking_id or parent.booking_id,
    )
    row.parent_id = parent.id
    return row


def refunded_of(debit_id: uuid.UUID) -> Decimal:
    """How much of a debit has been refunded so far."""
    total = db.session.scalar(
        select(func.coalesce(func.sum(WalletTransaction.amount), 0)).where(
            WalletTransaction.parent_id == debit_id, WalletTransaction.kind == LedgerKind.REFUND
        )
    )
    return Decimal(total).quantize(Decimal("0.01"))


def debit_for_payment(payment_id: uuid.UUID) -> WalletTransaction | None:
    """The debit that a wallet payment took, if any."""
    return db.session.scalar(
        select(WalletTransaction).where(
            WalletTransaction.payment_id == payment_id,
            WalletTransaction.kind == LedgerKind.DEBIT,
        )
    )


def ledger(user_id: uuid.UUID) -> list[LedgerLine]:
    """A customer's ledger, newest first, each refund shown beside the debit it reverses."""
    wallet = db.session.scalar(select(Wallet).where(Wallet.user_id == user_id))
    if wallet is None:
        return []
    rows = list(
        db.session.scalars(
            select(WalletTransaction)
            .where(WalletTransaction.wallet_id == wallet.id)
            .order_by(WalletTransaction.created_at.desc(), WalletTransaction.id)
        )
    )
    lines = {row.id: LedgerLine(row) for row in rows if row.kind != LedgerKind.REFUND}
    for row in rows:
        if row.kind == LedgerKind.REFUND and row.parent_id in lines:
            lines[row.parent_id].refunds.append(row)
    return list(lines.values())


def _positive(amount: Decimal) -> None:
    """Money that moves is positive and whole paise.

    :raise WalletError: otherwise.
    """
    if amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise WalletError(MESSAGES["amount"])


def _append(wallet, kind, signed, now, description, payment_id, booking_id) -> WalletTransaction:
    """Move the balance and append the ledger row recording it."""
    wallet.balance = wallet.balance + signed
    wallet.updated_at = now
    row = WalletTransaction(
        wallet_id=wallet.id,
        kind=kind,
        amount=abs(signed),
        balance_after=wallet.balance,
        description=description[:200],
        payment_id=payment_id,
        booking_id=booking_id,
        created_at=now,
    )
    db.session.add(row)
    return row
