"""Desk sales: a walk-in's desk hold paid in cash into the clerk's open shift, by card or UPI
at the counter terminal, or (admins only) complimentary, through the one start of a payment
(``payments.begin_payment``) and the one finalization (``bookings.confirm``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from booking.database import unit_of_work, with_retries
from booking.extensions import db
from booking.formatting import money
from booking.models import Booking, Payment, User
from booking.models.enums import HoldStatus, MovementKind, PaymentMethod, Role
from booking.services import bookings, shifts
from booking.services.details import CheckoutDetails, PaymentError
from booking.services.payments import begin_payment, locked_hold, new_payment

ZERO = Decimal("0.00")

MESSAGES = {
    "staff_only": "Only counter staff can sell at the desk.",
    "complimentary": "Only an admin can issue a complimentary ticket, with a reason.",
    "open_shift": "Open a shift before taking cash.",
    "tendered_short": "The customer gave {tendered}, less than the total of {total}.",
    "tendered_field": "Take at least {total}.",
    "desk_method": "At the desk take cash, a card or UPI.",
    "terminal_reference": "Enter the reference the card or UPI terminal printed for this payment.",
    "terminal_reference_used": "That terminal reference is already on another payment; "
    "check the slip.",
}


DESK_METHODS = (
    PaymentMethod.CASH,
    PaymentMethod.CREDIT_CARD,
    PaymentMethod.DEBIT_CARD,
    PaymentMethod.UPI,
)
TERMINAL_MOVEMENTS = {
    PaymentMethod.CREDIT_CARD: MovementKind.CARD_SALE,
    PaymentMethod.DEBIT_CARD: MovementKind.CARD_SALE,
    PaymentMethod.UPI: MovementKind.UPI_SALE,
}


def change_due(total: Decimal, tendered: Decimal | None) -> Decimal:
    """The change to hand back for cash ``tendered`` against ``total`` (0 when nothing was
    said about what was tendered).

    :raise PaymentError: when the cash tendered is less than the total, naming both.
    """
    if tendered is None:
        return ZERO
    if tendered < total:
        raise PaymentError(
            MESSAGES["tendered_short"].format(tendered=money(tendered), total=money(total)),
            errors={"tendered": MESSAGES["tendered_field"].format(total=money(total))},
        )
    return (tendered - total).quantize(Decimal("0.01"))


def sell_at_desk(
    *,
    hold_id: uuid.UUID,
    clerk_id: uuid.UUID,
    details: CheckoutDetails,
    now: datetime,
    method: PaymentMethod = PaymentMethod.CASH,
    tendered: Decimal | None = None,
    terminal_reference: str | None = None,
    complimentary: bool = False,
    reason: str | None = None,
) -> Booking:
    """Finish a desk sale: cash into the clerk's open shift, a card or UPI payment taken at the
    counter terminal, or (admins only) a complimentary ticket.

    Cash needs the clerk's open shift and goes into its drawer as a cash_sale movement of the
    total, in the same transaction as the booking. A terminal payment keeps the terminal's
    reference (as the payment's gateway_reference) and is recorded on the shift by method when
    one is open.

    :raise PaymentError: bad details; no open shift for cash; cash tendered below the total; a
        terminal payment without its reference; a method the desk does not take; a
        complimentary ticket asked by a non-admin or without a reason. HoldLapsed when the hold
        ran out.
    """
    sale = _DeskSale(
        hold_id,
        clerk_id,
        details,
        now,
        _desk_method(method),
        tendered,
        _terminal_reference(method, terminal_reference, complimentary),
        complimentary,
        reason,
    )
    return with_retries(lambda: _sell_at_desk_once(sale))


@dataclass(frozen=True)
class _DeskSale:
    """What the clerk asked for at the desk."""

    hold_id: uuid.UUID
    clerk_id: uuid.UUID
    details: CheckoutDetails
    now: datetime
    method: PaymentMethod
    tendered: Decimal | None
    terminal_reference: str | None
    complimentary: bool
    reason: str | None


def _sell_at_desk_once(sale: _DeskSale) -> Booking:
    """One attempt at sell_at_desk."""
    now, clerk_id, complimentary = sale.now, sale.clerk_id, sale.complimentary
    with unit_of_work() as session:
        clerk = session.get(User, clerk_id)
        if clerk is None or clerk.role not in (Role.STAFF, Role.ADMIN):
            raise PaymentError(MESSAGES["staff_only"])
        if complimentary and (clerk.role != Role.ADMIN or not (sale.reason or "").strip()):
            raise PaymentError(MESSAGES["complimentary"])
        hold = locked_hold(session, sale.hold_id)
        if hold.status == HoldStatus.CONFIRMED:
            return bookings.booking_of_hold(hold)
        shift = None if complimentary else shifts.lock_open_shift(clerk_id)
        if shift is None and sale.method == PaymentMethod.CASH and not complimentary:
            raise PaymentError(MESSAGES["open_shift"])
        begun = begin_payment(session, hold, sale.details, now, use_wallet=False)
        hold.checkout = sale.details.to_json()
        total = begun.priced.quote.total
        parts = []
        if not complimentary and total > 0:
            if sale.method == PaymentMethod.CASH:
                change_due(total, sale.tendered)
            payment = new_payment(hold, sale.method, total, now)
            payment.gateway_reference = sale.terminal_reference
            parts.append(payment)
        booking = bookings.confirm(
            hold,
            parts,
            now=now,
            actor_id=clerk_id,
            priced=begun.priced,
            complimentary_reason=sale.reason if complimentary else None,
        )
        if parts and shift is not None:
            kind = TERMINAL_MOVEMENTS.get(sale.method, MovementKind.CASH_SALE)
            shifts.record_cash(
                shift, kind, total, now, payment_id=parts[0].id, booking_id=booking.id
            )
        return booking


def _desk_method(method) -> PaymentMethod:
    """:raise PaymentError: unless the desk takes ``method`` (cash, a card or UPI)."""
    try:
        chosen = PaymentMethod(method or "")
    except ValueError:
        chosen = None
    if chosen not in DESK_METHODS:
        raise PaymentError(MESSAGES["desk_method"], errors={"method": MESSAGES["desk_method"]})
    return chosen


def _terminal_reference(method, reference: str | None, complimentary: bool) -> str | None:
    """The counter terminal's reference of a card or UPI payment, tidied.

    :raise PaymentError: when a terminal payment has none (or one too long to be real).
    """
    if complimentary or PaymentMethod(method) == PaymentMethod.CASH:
        return None
    cleaned = (reference or "").strip()
    if not cleaned or len(cleaned) > 64:
        raise PaymentError(
            MESSAGES["terminal_reference"],
            errors={"terminal_reference": MESSAGES["terminal_reference"]},
        )
    if db.session.scalar(select(Payment.id).where(Payment.gateway_reference == cleaned)):
        raise PaymentError(
            MESSAGES["terminal_reference_used"],
            errors={"terminal_reference": MESSAGES["terminal_reference_used"]},
        )
    return cleaned
