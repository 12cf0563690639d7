"""Money going back: the one place that returns wallet parts, refunds captured gateway money,
and spreads a cancellation's refund over the payments of a booking.

Every refund is a row (``Refund``). Wallet money goes back at once, as ledger rows that point at
the debit they reverse. Gateway money goes back through the gateway after commit (a real gateway
is a network call): ``services.refund_queue`` asks it, retries with backoff, and lists them all.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import or_, select

from booking.database import unit_of_work, with_retries
from booking.errors import Busy, ConcurrentChange
from booking.extensions import db
from booking.models import Booking, Cancellation, Payment, Refund, Reservation, User
from booking.models.enums import (
    HoldStatus,
    MovementKind,
    PaymentMethod,
    PaymentStatus,
    RefundMethod,
    RefundMode,
    RefundStatus,
)
from booking.services import audit, events, notifications, shifts, wallet
from booking.services.pricing import split_by_fare

ZERO = Decimal("0.00")
TERMINAL_METHODS = (PaymentMethod.CREDIT_CARD, PaymentMethod.DEBIT_CARD, PaymentMethod.UPI)

MESSAGES = {
    "wallet_part_returned": "Payment {reason}: wallet part returned",
    "booking_refund": "Refund for booking {reference}",
    "open_shift": "Open a shift to pay the refund in cash.",
    "cash_owed": "cash owed at the counter",
    "at_terminal": "refund at the terminal",
}


def fail_payment(payment: Payment, now: datetime, reason: str) -> None:
    """Mark a pending payment failed; a wallet part already debited goes back to the wallet."""
    payment.status = PaymentStatus.FAILED
    payment.failure_reason = reason[:200]
    payment.updated_at = now
    for part in (payment, payment.paired_payment):
        if part is None or part.method != PaymentMethod.WALLET:
            continue
        part.status = PaymentStatus.FAILED
        part.failure_reason = reason[:200]
        _give_back_wallet_part(part, now, MESSAGES["wallet_part_returned"].format(reason=reason))
    audit.record("payment", payment.id, "payment.failed", actor_id=None, at=now, reason=reason)


def _give_back_wallet_part(part: Payment, now: datetime, description: str) -> None:
    """Refund to the wallet whatever of this wallet payment's debit is not refunded yet."""
    taken = wallet.debit_for_payment(part.id)
    if taken is None:
        return
    left = taken.amount - wallet.refunded_of(taken.id)
    if left > 0:
        wallet.refund(
            wallet.lock_wallet(part.user_id), taken, left, now=now, description=description
        )


def refund_captured(payment: Payment, now: datetime, reason: str) -> None:
    """Return in full money the gateway captured for a payment that will not be kept."""
    payment.status = PaymentStatus.REFUNDED
    payment.refunded_amount = payment.amount
    payment.failure_reason = reason[:200]
    record_refund(payment, payment.amount, RefundMethod.GATEWAY, reason, now)
    audit.record(
        "payment",
        payment.id,
        "payment.refunded",
        actor_id=None,
        at=now,
        amount=payment.amount,
        reason=reason,
    )


def refund_late(hold: Reservation, payment: Payment, now: datetime, why: str) -> None:
    """A gateway success that cannot become a booking: refund everything, tell the customer."""
    refund_captured(payment, now, f"late payment: {why}")
    if payment.paired_payment is not None:
        fail_payment(payment.paired_payment, now, "late payment refunded")
    audit.record(
        "reservation",
        hold.id,
        "payment.late_refunded",
        actor_id=None,
        at=now,
        payment_id=payment.id,
        reason=why,
    )
    total = payment.amount + (payment.paired_payment.amount if payment.paired_payment else ZERO)
    notifications.queue(
        kind="late_payment_refunded",
        to=contact_email(hold),
        now=now,
        context={"total": total, "why": why},
    )


def pay_back(
    booking: Booking,
    amount: Decimal,
    mode: RefundMode,
    now: datetime,
    actor_id: uuid.UUID | None = None,
    *,
    operator: bool = False,
    cancellation_id: uuid.UUID | None = None,
) -> list[Refund]:
    """Spread a cancellation's refund over the booking's payments and give it back by ``mode``:
    wallet payments to the wallet (linked to their debit), the rest to the wallet as a credit
    or to the original method: the gateway (a pending refund, asked of the gateway after
    commit); cash out of the acting clerk's open shift (a cash_refund movement, in this
    transaction); a card or UPI payment taken at the counter terminal is refunded at the
    terminal (no gateway call: it had no gateway session). Returns the refund rows, one per
    payment given back.

    An operator cancelling a whole trip may have no shift open: the cash is then owed over the
    counter, a pending cash refund, so the cancellation stays pending.

    :raise ShiftError: when cash is to be paid back and the actor has no open shift.
    """
    payments = list(
        db.session.scalars(
            select(Payment)
            .where(Payment.booking_id == booking.id, Payment.status == PaymentStatus.COMPLETED)
            .order_by(Payment.method != PaymentMethod.WALLET, Payment.created_at)
            .with_for_update()
        )
    )
    left = [p.amount - p.refunded_amount for p in payments]
    shares = split_by_fare(amount, left) if payments else []
    back = _PayingBack(booking, mode, now, actor_id, operator, cancellation_id)
    for payment, share in zip(payments, shares, strict=True):
        if share <= 0:
            continue
        how = back.give(payment, share)
        payment.refunded_amount += share
        if payment.refunded_amount == payment.amount:
            payment.status = PaymentStatus.REFUNDED
        audit.record(
            "payment",
            payment.id,
            "payment.refunded",
            actor_id=actor_id,
            at=now,
            amount=share,
            mode=mode,
            booking=booking.reference,
            **how,
        )
    return back.made


class _PayingBack:
    """One cancellation's refund, payment by payment: where each share goes."""

    def __init__(self, booking: Booking, mode: RefundMode, now, actor_id, operator, cancellation):
        self.booking, self.mode, self.now = booking, mode, now
        self.actor_id, self.operator = actor_id, operator
        self.cancellation_id = cancellation
        self.purse = wallet.lock_wallet(booking.user_id) if booking.user_id else None
        self.label = MESSAGES["booking_refund"].format(reference=booking.reference)
        self.drawer = None
        self.made: list[Refund] = []

    def give(self, payment: Payment, share: Decimal) -> dict:
        """Give ``share`` of ``payment`` back; returns what the audit row says about how."""
        booking, now = self.booking, self.now
        if payment.method == PaymentMethod.WALLET:
            debit = wallet.debit_for_payment(payment.id)
            wallet.refund(
                self.purse, debit, share, now=now, description=self.label, booking_id=booking.id
            )
            self._record(payment, share, RefundMethod.WALLET)
        elif self.mode == RefundMode.WALLET:
            wallet.credit(
                self.purse,
                share,
                now=now,
                description=self.label,
                payment_id=payment.id,
                booking_id=booking.id,
            )
            self._record(payment, share, RefundMethod.WALLET)
        elif payment.method == PaymentMethod.CASH:
            return self._cash(payment, share)
        elif is_terminal_payment(payment):
            self._record(payment, share, RefundMethod.TERMINAL)
            return {"via": MESSAGES["at_terminal"], "terminal_reference": payment.gateway_reference}
        else:
            self._record(payment, share, RefundMethod.GATEWAY)
        return {}

    def _record(self, payment: Payment, share: Decimal, method: RefundMethod, **kw) -> None:
        """The refund row of this share."""
        self.made.append(
            record_refund(
                payment,
                share,
                method,
                self.label,
                self.now,
                booking_id=self.booking.id,
                cancellation_id=self.cancellation_id,
                **kw,
            )
        )

    def _cash(self, payment: Payment, share: Decimal) -> dict:
        """Cash out of the acting clerk's open shift (or owed, for an operator's trip cancel).

        :raise ShiftError: when the actor has no open shift.
        """
        if self.drawer is None and self.actor_id:
            self.drawer = shifts.lock_open_shift(self.actor_id)
        if self.drawer is not None:
            shifts.record_cash(
                self.drawer,
                MovementKind.CASH_REFUND,
                share,
                self.now,
                payment_id=payment.id,
                booking_id=self.booking.id,
                actor_id=self.actor_id,
            )
            self._record(payment, share, RefundMethod.CASH)
            return {"via": "cash from the shift", "shift": self.drawer.id}
        if self.operator:
            self._record(payment, share, RefundMethod.CASH, owed=True)
            return {"via": MESSAGES["cash_owed"]}
        raise shifts.ShiftError(MESSAGES["open_shift"])


def is_terminal_payment(payment: Payment) -> bool:
    """A card or UPI payment taken on the counter's terminal: it never had a gateway session."""
    return payment.method in TERMINAL_METHODS and payment.gateway_url is None


def record_refund(
    payment: Payment,
    amount: Decimal,
    method: RefundMethod,
    reason: str,
    now: datetime,
    *,
    booking_id: uuid.UUID | None = None,
    cancellation_id: uuid.UUID | None = None,
    owed: bool = False,
) -> Refund:
    """The refund row of money going back for ``payment``, in the current transaction.

    Wallet, shift cash and terminal refunds are done by the time this transaction commits
    (processed now); cash ``owed`` at the counter waits for the clerk. A gateway refund is
    pending: after commit it is announced (``events.refund_requested``) so a worker asks the
    gateway; if nobody hears (the broker down), the beat finds it due in the database.
    """
    done = method != RefundMethod.GATEWAY and not owed
    refund = Refund(
        id=uuid.uuid4(),
        payment_id=payment.id,
        booking_id=booking_id or payment.booking_id,
        cancellation_id=cancellation_id,
        amount=amount,
        method=method,
        reason=reason[:200],
        status=RefundStatus.PROCESSED if done else RefundStatus.PENDING,
        processed_at=now if done else None,
        attempts=0,
        created_at=now,
        updated_at=now,
    )
    db.session.add(refund)
    if method == RefundMethod.GATEWAY:
        events.announce(events.refund_requested, refund.id)
    return refund


def settle_cancellation(cancellation: Cancellation, refunds: list[Refund], now: datetime) -> None:
    """A cancellation's refund state from its refund rows: processed once every one is (at
    once, for wallet, shift cash and terminal refunds), failed when one failed, else pending."""
    states = {refund.status for refund in refunds}
    if RefundStatus.FAILED in states:
        cancellation.refund_status = RefundStatus.FAILED
    elif states <= {RefundStatus.PROCESSED}:
        cancellation.refund_status = RefundStatus.PROCESSED
    else:
        cancellation.refund_status = RefundStatus.PENDING
    done = cancellation.refund_status == RefundStatus.PROCESSED
    cancellation.processed_at = now if done else None
    cancellation.updated_at = now


def release_stranded_wallet_parts(now: datetime, customer_id: uuid.UUID | None = None) -> int:
    """Give back wallet parts still taken for gateway payments whose hold has lapsed or ended
    (only ``customer_id``'s, when given).

    Run by the sweep after it retires holds, and before a customer's money is needed or shown
    (``give_back_stranded``), so nothing depends on the beat; each part in its own small
    transaction. The gateway payment itself stays pending: if it succeeds late, the
    late-payment rule takes the wallet part again (or refunds everything). Returns how many
    wallet parts were given back.
    """
    query = (
        select(Payment.id)
        .join(Reservation, Reservation.id == Payment.reservation_id)
        .where(
            Payment.method == PaymentMethod.WALLET,
            Payment.status == PaymentStatus.PENDING,
            or_(Reservation.status != HoldStatus.ACTIVE, Reservation.expires_at <= now),
        )
    )
    if customer_id is not None:
        query = query.where(Payment.user_id == customer_id)
    stranded = db.session.scalars(query).all()
    released = 0
    for payment_id in stranded:
        with unit_of_work() as session:
            part = session.scalar(
                select(Payment)
                .where(Payment.id == payment_id, Payment.status == PaymentStatus.PENDING)
                .with_for_update(skip_locked=True)
                .execution_options(populate_existing=True)
            )
            if part is None:
                continue  # settled meanwhile, or a webhook is settling it right now
            fail_payment(part, now, "hold lapsed before the payment finished")
            released += 1
    return released


def give_back_stranded(customer_id: uuid.UUID, now: datetime) -> int:
    """Before a customer's wallet is used or shown: give back their stranded wallet parts.

    A repair on the way, never a reason to refuse the request: when a row is locked right now
    (a webhook settling that payment, say) it is left for the next read or the sweep.
    """
    try:
        return with_retries(lambda: release_stranded_wallet_parts(now, customer_id))
    except (Busy, ConcurrentChange):
        audit.log_event("wallet.stranded_parts_left", customer=customer_id)
        return 0


@dataclass(frozen=True)
class WalletStatement:
    """What the wallet page shows: the balance and the ledger, stranded parts given back."""

    balance: Decimal
    ledger: list[wallet.LedgerLine]


def wallet_statement(customer_id: uuid.UUID, now: datetime) -> WalletStatement:
    """A customer's balance and ledger as of ``now``, with stranded wallet parts given back."""
    give_back_stranded(customer_id, now)
    return WalletStatement(wallet.balance(customer_id), wallet.ledger(customer_id))


def lock_open_payments(session, hold_id: uuid.UUID) -> list[Payment]:
    """Lock a hold's gateway payments still waiting for the gateway (payments come before the
    hold in the lock order, so lock these before the hold)."""
    return list(
        session.scalars(
            select(Payment)
            .where(
                Payment.reservation_id == hold_id,
                Payment.status == PaymentStatus.PENDING,
                Payment.method != PaymentMethod.WALLET,
            )
            .order_by(Payment.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def void_open_payments(payments: list[Payment], now: datetime, reason: str) -> None:
    """A hold ended by a person (dropped, released): its open gateway payments can no longer be
    paid (failed, with the reason) and their wallet parts go back. A success that still
    arrives for one is handed back in full by the webhook (``webhooks._hand_back``)."""
    for payment in payments:
        if payment.status == PaymentStatus.PENDING:
            fail_payment(payment, now, reason)


def contact_email(hold: Reservation) -> str | None:
    """Where to write about a hold: the checkout email, else the account's."""
    given = (hold.checkout or {}).get("contact_email")
    return given or account_email(hold.user_id)


def account_email(user_id: uuid.UUID | None) -> str | None:
    """A customer's account email (None for a walk-in)."""
    return db.session.scalar(select(User.email).where(User.id == user_id)) if user_id else None
