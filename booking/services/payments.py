"""Paying for a hold: from the wallet, through the gateway (with the wallet covering part), in
cash at the desk, or complimentary; and topping up the wallet.

Every way of paying starts the same way (``begin_payment``: the hold locked and live, its seats,
the details checked, older pending attempts given up, the wallet locked, the one quote) and ends
in the one finalization, ``bookings.confirm``. The gateway's word arrives through
``services.webhooks``; money going back is ``services.refunds``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from flask import current_app
from sqlalchemy import select

from booking.database import unit_of_work, with_retries
from booking.extensions import db
from booking.formatting import local_time, money
from booking.gateway import GatewayError, get_gateway
from booking.models import Booking, Payment, Reservation, Schedule, Wallet
from booking.models.enums import (
    GATEWAY_METHODS,
    HoldStatus,
    PaymentMethod,
    PaymentPurpose,
    PaymentStatus,
)
from booking.services import (
    audit,
    bookings,
    claims,
    holds,
    pricing,
    refunds,
    wallet,
)
from booking.services.bookings import Priced
from booking.services.details import MESSAGES as DETAIL_MESSAGES
from booking.services.details import (
    CheckoutDetails,
    Passenger,
    PaymentError,
    check_details,
    require_details,
)
from booking.services.errors import NotFound
from booking.services.pricing import PromoError

ZERO = Decimal("0.00")
TOPUP_LIMITS = (Decimal("100.00"), Decimal("50000.00"))

MESSAGES = {
    "hold_not_found": "We could not find that hold.",
    "payment_not_found": "We could not find that payment.",
    "choose_gateway_method": "Choose a card, UPI or net banking.",
    "choose_method": "Choose how to pay the rest.",
    "wallet_short": "Your wallet has {balance}; the total is {total}. "
    "Choose a payment method for the rest.",
    "wallet_covers": "Your wallet covers the whole fare; pay with your wallet.",
    "already_paid": "This hold has already been paid for.",
    "lapsed": "Your hold ran out before payment. You can revive it if the seats are still free.",
    "ended": "This hold has ended. Choose your seats again.",
    "topup_limits": "Top up between {low} and {high}.",
    "gateway_down": "The payment gateway could not be reached; nothing was charged. Try again.",
    "superseded": "superseded by a new payment attempt",
    "busy": "Your wallet or this booking is being updated by another request right now. "
    "Nothing was charged; try again in a moment.",
}


class HoldLapsed(PaymentError):
    """The hold ran out before payment; the customer may revive it."""

    status = 409


@dataclass
class GatewayStart:
    """A gateway payment that has started: send the customer to ``url``."""

    payment_id: uuid.UUID
    url: str
    amount: Decimal
    wallet_part: Decimal


@dataclass(frozen=True)
class Paid:
    """Where paying led: a confirmed booking, or a gateway payment to send the customer to."""

    booking: Booking | None = None
    gateway: GatewayStart | None = None


@dataclass(frozen=True)
class Begun:
    """A payment begun inside its transaction: the locked hold, its seats and quote, the
    locked wallet (None for a walk-in)."""

    hold: Reservation
    priced: Priced
    purse: Wallet | None


class ProgressState(StrEnum):
    """Where the payment for a hold stands."""

    BOOKED = "booked"
    NONE = "none"
    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"
    REFUNDED = "refunded"
    # Still pending after the hold (stretched for the gateway session) ran out: the gateway's
    # word never came, so waiting on is pointless; a late success still books or refunds.
    STALLED = "stalled"


@dataclass(frozen=True)
class PaymentProgress:
    """The state, with the booking (when booked) or the latest gateway payment and its reason."""

    state: ProgressState
    booking: Booking | None = None
    payment: Payment | None = None
    reason: str | None = None


# ---- paying for a hold ---------------------------------------------------------------------


def pay(
    *,
    hold_id: uuid.UUID,
    customer_id: uuid.UUID,
    details: CheckoutDetails,
    use_wallet: bool,
    method: str | None,
    now: datetime,
    return_url: str,
    idempotency_key: str | None = None,
) -> Paid:
    """The checkout's Pay: from the wallet when it covers everything (or nothing is due), else
    through the gateway with the wallet covering what it can (when asked).

    :raise PaymentError: bad details or promo code (``details['errors']`` says which field), no
        method chosen, wallet short; HoldLapsed when the hold has run out.
    """
    request = _Request(hold_id, customer_id, details, now, use_wallet, method, "auto")
    return _paying(request, return_url, idempotency_key)


def pay_with_wallet(
    *,
    hold_id: uuid.UUID,
    customer_id: uuid.UUID,
    details: CheckoutDetails,
    now: datetime,
    idempotency_key: str | None = None,
) -> Booking:
    """Pay a hold entirely from the wallet: the booking is confirmed at once.

    Pressing Pay twice returns the same booking and debits once.

    :raise PaymentError: bad details, or a wallet that does not cover the total; HoldLapsed.
    """
    request = _Request(hold_id, customer_id, details, now, True, None, "wallet")
    return _paying(request, "", idempotency_key).booking


def start_gateway_payment(
    *,
    hold_id: uuid.UUID,
    customer_id: uuid.UUID,
    details: CheckoutDetails,
    method: PaymentMethod,
    use_wallet: bool,
    now: datetime,
    return_url: str,
    idempotency_key: str | None = None,
) -> GatewayStart:
    """Start paying a hold through the gateway (with the wallet covering part, if asked).

    The wallet part is debited now and given back if the gateway payment fails, is abandoned
    or the hold lapses. The hold is stretched once to cover the gateway session. Submitting the
    same form twice (same idempotency key) returns the same payment.

    :raise PaymentError: bad details or method; HoldLapsed when the hold has run out.
    """
    request = _Request(hold_id, customer_id, details, now, use_wallet, method, "gateway")
    return _paying(request, return_url, idempotency_key).gateway


@dataclass(frozen=True)
class _Request:
    """What the customer asked: ``mode`` auto (the checkout), wallet only, or gateway only."""

    hold_id: uuid.UUID
    customer_id: uuid.UUID
    details: CheckoutDetails
    now: datetime
    use_wallet: bool
    method: str | None
    mode: Literal["auto", "wallet", "gateway"]


IDEMPOTENCY_KEY_LENGTH = 64


def _paying(request: _Request, return_url: str, idempotency_key: str | None) -> Paid:
    """Run one payment request (retried when the rows moved), promo refusals as field errors."""
    if request.mode == "gateway":
        _gateway_method(request.method)
    if idempotency_key and len(idempotency_key) > IDEMPOTENCY_KEY_LENGTH:
        idempotency_key = None  # not one of ours (payments.idempotency_key is 64 long)
    # Money an abandoned gateway payment still holds goes back first, beat or no beat.
    refunds.give_back_stranded(request.customer_id, request.now)
    try:
        return with_retries(
            lambda: _pay_once(request, return_url, idempotency_key),
            busy_message=MESSAGES["busy"],
        )
    except PromoError as refusal:
        if request.mode != "auto":
            raise
        raise PaymentError(
            DETAIL_MESSAGES["correct"], errors={"promo_code": refusal.message}
        ) from None


def _pay_once(request: _Request, return_url: str, idempotency_key: str | None) -> Paid:
    """One attempt: begin, then finish from the wallet or open the gateway session."""
    now = request.now
    with unit_of_work() as session:
        hold = _locked_own_hold(session, request.hold_id, request.customer_id)
        if idempotency_key and request.mode != "wallet":
            repeat = _repeat_of(session, hold, idempotency_key)
            if repeat is not None and repeat.status == PaymentStatus.PENDING:
                return Paid(gateway=_start_of(repeat))  # the same form sent twice
            if repeat is not None:
                idempotency_key = None  # an old form sent again after that payment ended
        if hold.status == HoldStatus.CONFIRMED:
            if request.mode == "gateway":
                raise PaymentError(MESSAGES["already_paid"])
            return Paid(booking=bookings.booking_of_hold(hold))
        begun = begin_payment(session, hold, request.details, now, use_wallet=request.use_wallet)
        quote = begun.priced.quote
        if request.mode == "wallet" and quote.gateway_payable > 0:
            raise PaymentError(
                MESSAGES["wallet_short"].format(
                    balance=money(begun.purse.balance), total=money(quote.total)
                )
            )
        if request.mode == "gateway" and quote.gateway_payable == 0:
            raise PaymentError(MESSAGES["wallet_covers"])
        hold.checkout = request.details.to_json()
        if quote.gateway_payable == 0:
            return Paid(
                booking=_finish_from_wallet(begun, request.customer_id, now, idempotency_key)
            )
        method = _gateway_method(request.method)
        return Paid(gateway=_open_gateway(begun, method, now, return_url, idempotency_key))


def begin_payment(
    session, hold: Reservation, details: CheckoutDetails, now: datetime, *, use_wallet: bool
) -> Begun:
    """The start every payment shares, inside its transaction with ``hold`` locked: the hold
    must be live, the details right for its seats; gateway attempts still pending are given up
    (their wallet part goes back first, so the quote sees it); the wallet is locked; the one
    quote is made.

    :raise HoldLapsed: or PaymentError for a hold that cannot be paid; PaymentError for bad
        details; PromoError for a promo code that does not apply.
    """
    _require_live(hold, now)
    seats = claims.held_seats(hold.id)
    require_details(seats, details)
    for earlier in pending_payments(hold):
        refunds.fail_payment(earlier, now, MESSAGES["superseded"])
    purse = wallet.lock_wallet(hold.user_id) if hold.user_id else None
    schedule = db.session.get(Schedule, hold.schedule_id)
    quote = pricing.quote(
        schedule,
        seats,
        now=now,
        promo_code=details.promo_code,
        customer_id=hold.user_id,
        wallet_balance=purse.balance if purse else ZERO,
        use_wallet=use_wallet,
    )
    return Begun(hold, Priced(seats, quote), purse)


def _finish_from_wallet(begun: Begun, customer_id, now, idempotency_key) -> Booking:
    """The wallet covers it all (or nothing is due): the booking, now."""
    hold, total = begun.hold, begun.priced.quote.total
    parts = []
    if total > 0:
        parts.append(new_payment(hold, PaymentMethod.WALLET, total, now, idempotency_key))
    return bookings.confirm(hold, parts, now=now, actor_id=customer_id, priced=begun.priced)


def _open_gateway(begun: Begun, method, now, return_url, idempotency_key) -> GatewayStart:
    """Take the wallet part, open the gateway session for the rest, stretch the hold once."""
    hold, quote = begun.hold, begun.priced.quote
    wallet_payment = None
    if quote.wallet_applied > 0:
        wallet_payment = new_payment(hold, PaymentMethod.WALLET, quote.wallet_applied, now)
        wallet.debit(
            begun.purse,
            quote.wallet_applied,
            now=now,
            payment_id=wallet_payment.id,
            description=f"Wallet part of payment for {_trip_name(hold)}",
        )
    payment = new_payment(hold, method, quote.gateway_payable, now, idempotency_key)
    payment.paired_payment_id = wallet_payment.id if wallet_payment else None
    _open_session(payment, return_url)
    hold.total_amount = quote.total
    holds.extend_for_gateway(hold, now)
    audit.record(
        "payment",
        payment.id,
        "payment.started",
        actor_id=hold.user_id,
        at=now,
        hold_id=hold.id,
        method=method,
        amount=payment.amount,
        wallet_part=quote.wallet_applied,
    )
    return _start_of(payment)


# ---- topping up the wallet -------------------------------------------------------------------


def start_topup(
    *,
    customer_id: uuid.UUID,
    amount: Decimal,
    method: PaymentMethod,
    now: datetime,
    return_url: str,
) -> GatewayStart:
    """Start adding money to the wallet through the gateway; credited when the webhook lands.

    :raise PaymentError: for an amount outside the limits or a non-gateway method.
    """
    low, high = TOPUP_LIMITS
    if not low <= amount <= high or amount != amount.quantize(Decimal("0.01")):
        raise PaymentError(MESSAGES["topup_limits"].format(low=money(low), high=money(high)))
    _gateway_method(method)
    with unit_of_work() as session:
        wallet.wallet_of(customer_id)
        payment = Payment(
            id=uuid.uuid4(),
            purpose=PaymentPurpose.TOPUP,
            user_id=customer_id,
            amount=amount,
            method=method,
            status=PaymentStatus.PENDING,
            created_at=now,
            updated_at=now,
        )
        session.add(payment)
        session.flush()
        _open_session(payment, return_url)
        audit.record(
            "payment",
            payment.id,
            "payment.topup_started",
            actor_id=customer_id,
            at=now,
            amount=amount,
        )
        return _start_of(payment)


# ---- reading ------------------------------------------------------------------------------------


def payment_progress(
    hold_id: uuid.UUID, customer_id: uuid.UUID, now: datetime | None = None
) -> PaymentProgress:
    """Where a customer's payment for a hold stands: booked, pending, failed or refunded; with
    ``now``, a payment still pending once the hold ran out is stalled.

    :raise NotFound: for someone else's or an unknown hold.
    """
    hold = holds.get_hold(hold_id, customer_id)
    booking = db.session.scalar(select(Booking).where(Booking.reservation_id == hold.id))
    if booking is not None:
        return PaymentProgress(ProgressState.BOOKED, booking=booking)
    latest = db.session.scalar(
        select(Payment)
        .where(Payment.reservation_id == hold.id, Payment.method != PaymentMethod.WALLET)
        .order_by(Payment.created_at.desc())
        .limit(1)
    )
    if latest is None:
        return PaymentProgress(ProgressState.NONE)
    state = ProgressState(latest.status.value)
    if state is ProgressState.PENDING and now is not None and hold.expires_at <= now:
        state = ProgressState.STALLED
    return PaymentProgress(state, payment=latest, reason=latest.failure_reason)


def topup_progress(payment_id: uuid.UUID, customer_id: uuid.UUID) -> Payment:
    """A customer's own top-up payment.

    :raise NotFound: for someone else's or an unknown payment.
    """
    payment = db.session.get(Payment, payment_id)
    if payment is None or payment.user_id != customer_id or payment.purpose != PaymentPurpose.TOPUP:
        raise NotFound(MESSAGES["payment_not_found"])
    return payment


def topup_stalled(payment: Payment, now: datetime) -> bool:
    """Whether a top-up is still pending after its gateway session ended: nothing to wait for
    (a late success still credits the wallet)."""
    session = timedelta(minutes=current_app.config["GATEWAY_SESSION_MINUTES"])
    return payment.status == PaymentStatus.PENDING and payment.created_at + session <= now


def gateway_payment(payment_id: uuid.UUID, customer_id: uuid.UUID) -> Payment:
    """A customer's own gateway payment (what the sandbox gateway page is about).

    :raise NotFound: for an unknown payment, someone else's, or one not made at the gateway.
    """
    payment = db.session.get(Payment, payment_id)
    if payment is None or payment.method not in GATEWAY_METHODS or payment.user_id != customer_id:
        raise NotFound(MESSAGES["payment_not_found"])
    return payment


# ---- helpers -------------------------------------------------------------------------------------


def new_payment(hold, method, amount, now, idempotency_key: str | None = None) -> Payment:
    """A pending payment for a hold (an idempotency key another payment already has is dropped:
    the callers have already answered a true repeat by then)."""
    if idempotency_key and db.session.scalar(
        select(Payment.id).where(Payment.idempotency_key == idempotency_key)
    ):
        idempotency_key = None
    payment = Payment(
        id=uuid.uuid4(),
        purpose=PaymentPurpose.BOOKING,
        reservation_id=hold.id,
        user_id=hold.user_id,
        amount=amount,
        method=method,
        status=PaymentStatus.PENDING,
        idempotency_key=idempotency_key,
        created_at=now,
        updated_at=now,
    )
    db.session.add(payment)
    db.session.flush()
    return payment


def pending_payments(hold: Reservation) -> list[Payment]:
    """The hold's gateway payments still waiting for the gateway."""
    return list(
        db.session.scalars(
            select(Payment).where(
                Payment.reservation_id == hold.id,
                Payment.status == PaymentStatus.PENDING,
                Payment.method != PaymentMethod.WALLET,
            )
        )
    )


def _gateway_method(method) -> PaymentMethod:
    """:raise PaymentError: unless ``method`` is a card, UPI or net banking."""
    try:
        chosen = PaymentMethod(method or "")
    except ValueError:
        raise PaymentError(
            MESSAGES["choose_method"], errors={"method": "Choose how to pay."}
        ) from None
    if chosen not in GATEWAY_METHODS:
        raise PaymentError(MESSAGES["choose_gateway_method"])
    return chosen


def _open_session(payment: Payment, return_url: str) -> None:
    """Open the gateway's checkout session for a payment.

    :raise PaymentError: when the gateway refuses (the transaction rolls back: nothing charged).
    """
    try:
        session = get_gateway().create_session(payment.id, payment.amount, return_url)
    except GatewayError as error:
        audit.log_event("gateway.session_failed", payment=payment.id, error=error.message)
        raise PaymentError(MESSAGES["gateway_down"]) from error
    payment.gateway_reference = session.reference
    payment.gateway_url = session.url


def _repeat_of(session, hold: Reservation, idempotency_key: str) -> Payment | None:
    """The payment of this hold already made with this idempotency key, if any."""
    again = session.scalar(select(Payment).where(Payment.idempotency_key == idempotency_key))
    return again if again is not None and again.reservation_id == hold.id else None


def locked_hold(session, hold_id: uuid.UUID) -> Reservation:
    """Lock a hold row and return it fresh.

    :raise NotFound: for an unknown hold.
    """
    hold = claims.lock_hold(session, hold_id)
    if hold is None:
        raise NotFound(MESSAGES["hold_not_found"])
    return hold


def _locked_own_hold(session, hold_id: uuid.UUID, customer_id: uuid.UUID) -> Reservation:
    """Lock the customer's own hold.

    :raise NotFound: for an unknown hold or someone else's.
    """
    hold = locked_hold(session, hold_id)
    if hold.user_id != customer_id:
        raise NotFound(MESSAGES["hold_not_found"])
    return hold


def _require_live(hold: Reservation, now: datetime) -> None:
    """:raise HoldLapsed: or PaymentError when the hold cannot be paid for any more."""
    if hold.is_live_at(now):
        return
    if hold.status in (HoldStatus.ACTIVE, HoldStatus.EXPIRED):
        raise HoldLapsed(MESSAGES["lapsed"])
    raise PaymentError(MESSAGES["ended"])


def _start_of(payment: Payment) -> GatewayStart:
    """The redirect for a started gateway payment."""
    wallet_part = payment.paired_payment.amount if payment.paired_payment else ZERO
    return GatewayStart(payment.id, payment.gateway_url, payment.amount, wallet_part)


def _trip_name(hold: Reservation) -> str:
    """'Bengaluru to Chennai, 12 Dec 21:30'."""
    schedule = db.session.get(Schedule, hold.schedule_id)
    return f"{schedule.route.name}, {local_time(schedule.departure_at, '%d %b %H:%M')}"


__all__ = [
    "CheckoutDetails",
    "GatewayStart",
    "HoldLapsed",
    "Paid",
    "Passenger",
    "PaymentError",
    "PaymentProgress",
    "ProgressState",
    "begin_payment",
    "check_details",
    "gateway_payment",
    "new_payment",
    "pay",
    "pay_with_wallet",
    "payment_progress",
    "pending_payments",
    "start_gateway_payment",
    "start_topup",
    "topup_progress",
]
