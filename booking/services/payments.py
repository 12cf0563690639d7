"""Payments: one finalization for every way of paying (wallet, wallet + gateway, gateway, cash at
the desk, complimentary), signed and idempotent gateway webhooks, and the late-payment rule.

Payment first: a booking row is only ever created by finalize_booking_payment, in the same
transaction that completes its payments, debits the wallet, books the seats, confirms the hold,
issues the ticket and writes the audit rows. Lock order: payment, hold, wallet, seats, schedule.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from booking.database import on_commit, unit_of_work
from booking.extensions import db
from booking.formatting import local_time, money
from booking.gateway import WebhookEvent, get_gateway
from booking.models import (
    Booking,
    BookingSeat,
    Payment,
    PaymentEvent,
    Reservation,
    Schedule,
    Seat,
    User,
)
from booking.models.booking import REFERENCE_ALPHABET
from booking.models.enums import (
    GATEWAY_METHODS,
    BookingPaymentStatus,
    Gender,
    HoldStatus,
    PaymentMethod,
    PaymentPurpose,
    PaymentStatus,
    SeatStatus,
)
from booking.services import audit, holds, notifications, pricing, tickets, wallet
from booking.services.errors import Conflict, DomainError, NotFound
from booking.services.holds import HoldError
from booking.services.pricing import PricingError

ZERO = Decimal("0.00")
TOPUP_LIMITS = (Decimal("100.00"), Decimal("50000.00"))


class PaymentError(DomainError):
    """A payment was refused; nothing was charged. ``details['errors']`` maps fields to messages."""


class HoldLapsed(PaymentError):
    """The hold ran out before payment; the customer may revive it."""

    status = 409


# ---- what the customer filled in at checkout ---------------------------------------------------


@dataclass(frozen=True)
class Passenger:
    """The traveller in one seat."""

    seat_number: str
    name: str
    age: int
    gender: str


@dataclass(frozen=True)
class CheckoutDetails:
    """Passengers, contact and promo code, kept on the hold until the booking is made."""

    passengers: tuple[Passenger, ...]
    contact_name: str
    contact_phone: str
    contact_email: str | None = None
    promo_code: str | None = None

    def to_json(self) -> dict:
        """The form kept in reservations.checkout."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> CheckoutDetails:
        """Read it back from reservations.checkout."""
        return cls(
            passengers=tuple(Passenger(**p) for p in data["passengers"]),
            contact_name=data["contact_name"],
            contact_phone=data["contact_phone"],
            contact_email=data.get("contact_email"),
            promo_code=data.get("promo_code"),
        )


def check_details(seats: list[Seat], details: CheckoutDetails) -> dict[str, str]:
    """Problems with the checkout details, keyed by seat number or field (empty when fine)."""
    errors: dict[str, str] = {}
    given = {p.seat_number: p for p in details.passengers}
    for seat in seats:
        passenger = given.get(seat.seat_number)
        if passenger is None or not passenger.name.strip():
            errors[seat.seat_number] = (
                f"Enter the name of the passenger in seat {seat.seat_number}."
            )
        elif not 0 <= passenger.age <= 120:
            errors[seat.seat_number] = f"Enter an age from 0 to 120 for seat {seat.seat_number}."
        elif passenger.gender not in {g.value for g in Gender}:
            errors[seat.seat_number] = f"Choose the gender of the passenger in {seat.seat_number}."
        elif seat.ladies_only and passenger.gender != Gender.FEMALE:
            errors[seat.seat_number] = (
                f"Seat {seat.seat_number} is for women only; choose another seat or a female "
                "passenger."
            )
    extra = set(given) - {seat.seat_number for seat in seats}
    if extra:
        errors["passengers"] = f"Seats {', '.join(sorted(extra))} are not part of this hold."
    if not details.contact_name.strip():
        errors["contact_name"] = "Enter a contact name."
    if not re.fullmatch(r"\d{10,15}", re.sub(r"[\s\-()+]", "", details.contact_phone or "")):
        errors["contact_phone"] = "Enter a contact phone number of 10 to 15 digits."
    if details.contact_email and not re.fullmatch(
        r"[^@\s]+@[^@\s]+\.[^@\s]+", details.contact_email
    ):
        errors["contact_email"] = "Enter a valid email address, or leave it empty."
    return errors


def _require_details(seats: list[Seat], details: CheckoutDetails) -> None:
    """:raise PaymentError: listing every problem with the details."""
    errors = check_details(seats, details)
    if errors:
        raise PaymentError("Please correct the details below.", errors=errors)


# ---- results ----------------------------------------------------------------------------------


@dataclass
class GatewayStart:
    """A gateway payment that has started: send the customer to ``url``."""

    payment_id: uuid.UUID
    url: str
    amount: Decimal
    wallet_part: Decimal


@dataclass
class WebhookOutcome:
    """What a webhook did: applied, duplicate, ignored, refunded..."""

    outcome: str
    payment_id: uuid.UUID | None = None
    booking_id: uuid.UUID | None = None
    notes: dict = field(default_factory=dict)


# ---- paying ------------------------------------------------------------------------------------


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
    return holds.with_retries(
        lambda: _pay_with_wallet_once(hold_id, customer_id, details, now, idempotency_key)
    )


def _pay_with_wallet_once(hold_id, customer_id, details, now, idempotency_key) -> Booking:
    """One attempt at pay_with_wallet."""
    with unit_of_work() as session:
        hold = _locked_own_hold(session, hold_id, customer_id)
        if hold.status == HoldStatus.CONFIRMED:
            return _booking_of(hold)
        _require_live(hold, now)
        seats = holds.held_seats(hold.id)
        _require_details(seats, details)
        # A gateway attempt left pending can never book this hold now: give its wallet part back
        # first (undone with everything else if this payment is refused).
        for earlier in _pending_payments(hold):
            _fail(earlier, now, "superseded by a wallet payment")
        purse = wallet.lock_wallet(customer_id)
        quote = _quote(hold, seats, details, now, purse.balance, use_wallet=True)
        if quote.gateway_payable > 0:
            raise PaymentError(
                f"Your wallet has {money(purse.balance)}; the total is {money(quote.total)}. "
                "Choose a payment method for the rest."
            )
        payments = []
        if quote.total > 0:
            payments.append(
                _new_payment(
                    hold, PaymentMethod.WALLET, quote.total, now, idempotency_key=idempotency_key
                )
            )
        hold.checkout = details.to_json()
        return finalize_booking_payment(hold, payments, now=now, actor_id=customer_id)


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
    if method not in GATEWAY_METHODS:
        raise PaymentError("Choose a card, UPI or net banking.")
    return holds.with_retries(
        lambda: _start_gateway_once(
            hold_id, customer_id, details, method, use_wallet, now, return_url, idempotency_key
        )
    )


def _start_gateway_once(
    hold_id, customer_id, details, method, use_wallet, now, return_url, idempotency_key
) -> GatewayStart:
    """One attempt at start_gateway_payment."""
    with unit_of_work() as session:
        hold = _locked_own_hold(session, hold_id, customer_id)
        if idempotency_key:
            again = session.scalar(
                select(Payment).where(Payment.idempotency_key == idempotency_key)
            )
            if again is not None and again.reservation_id == hold.id:
                if again.status == PaymentStatus.PENDING:
                    return _start_of(again)  # the same form sent twice: the same payment
                idempotency_key = None  # an old form sent again after that payment ended
        if hold.status == HoldStatus.CONFIRMED:
            raise PaymentError("This hold has already been paid for.")
        _require_live(hold, now)
        seats = holds.held_seats(hold.id)
        _require_details(seats, details)
        for earlier in _pending_payments(hold):
            _fail(earlier, now, "superseded by a new payment attempt")
        purse = wallet.lock_wallet(customer_id)
        quote = _quote(hold, seats, details, now, purse.balance, use_wallet=use_wallet)
        if quote.gateway_payable == 0:
            raise PaymentError("Your wallet covers the whole fare; pay with your wallet.")
        wallet_payment = None
        if quote.wallet_applied > 0:
            wallet_payment = _new_payment(hold, PaymentMethod.WALLET, quote.wallet_applied, now)
            wallet.debit(
                purse,
                quote.wallet_applied,
                now=now,
                payment_id=wallet_payment.id,
                description=f"Wallet part of payment for {_trip_name(hold)}",
            )
        payment = _new_payment(
            hold, method, quote.gateway_payable, now, idempotency_key=idempotency_key
        )
        payment.paired_payment_id = wallet_payment.id if wallet_payment else None
        gateway_session = get_gateway().create_session(payment.id, payment.amount, return_url)
        payment.gateway_reference = gateway_session.reference
        payment.gateway_url = gateway_session.url
        hold.checkout = details.to_json()
        hold.total_amount = quote.total
        holds.extend_for_gateway(hold, now)
        audit.record(
            "payment",
            payment.id,
            "payment.started",
            actor_id=customer_id,
            at=now,
            hold_id=hold.id,
            method=method,
            amount=payment.amount,
            wallet_part=quote.wallet_applied,
        )
        return _start_of(payment)


def sell_at_desk(
    *,
    hold_id: uuid.UUID,
    clerk_id: uuid.UUID,
    details: CheckoutDetails,
    now: datetime,
    complimentary: bool = False,
    reason: str | None = None,
) -> Booking:
    """Finish a desk sale: cash taken by the clerk, or (admins only) a complimentary ticket.

    :raise PaymentError: bad details, a complimentary ticket asked by non-admin or without a
        reason; HoldLapsed when the hold ran out.
    """
    return holds.with_retries(
        lambda: _sell_at_desk_once(hold_id, clerk_id, details, now, complimentary, reason)
    )


def _sell_at_desk_once(hold_id, clerk_id, details, now, complimentary, reason) -> Booking:
    """One attempt at sell_at_desk."""
    from booking.models.enums import Role

    with unit_of_work() as session:
        clerk = session.get(User, clerk_id)
        if clerk is None or clerk.role not in (Role.STAFF, Role.ADMIN):
            raise PaymentError("Only counter staff can sell at the desk.")
        if complimentary and (clerk.role != Role.ADMIN or not (reason or "").strip()):
            raise PaymentError("Only an admin can issue a complimentary ticket, with a reason.")
        hold = holds.get_hold(hold_id, None)
        hold = _lock(session, hold.id)
        if hold.status == HoldStatus.CONFIRMED:
            return _booking_of(hold)
        _require_live(hold, now)
        seats = holds.held_seats(hold.id)
        _require_details(seats, details)
        hold.checkout = details.to_json()
        payments = []
        if not complimentary:
            quote = _quote(hold, seats, details, now, ZERO, use_wallet=False)
            payments.append(_new_payment(hold, PaymentMethod.CASH, quote.total, now))
        return finalize_booking_payment(
            hold,
            payments,
            now=now,
            actor_id=clerk_id,
            complimentary_reason=reason if complimentary else None,
        )


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
        raise PaymentError(f"Top up between {money(low)} and {money(high)}.")
    if method not in GATEWAY_METHODS:
        raise PaymentError("Choose a card, UPI or net banking.")
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
        gateway_session = get_gateway().create_session(payment.id, amount, return_url)
        payment.gateway_reference = gateway_session.reference
        payment.gateway_url = gateway_session.url
        audit.record(
            "payment",
            payment.id,
            "payment.topup_started",
            actor_id=customer_id,
            at=now,
            amount=amount,
        )
        return _start_of(payment)


# ---- the one finalization ----------------------------------------------------------------------


def finalize_booking_payment(
    hold: Reservation,
    payments: list[Payment],
    *,
    now: datetime,
    actor_id: uuid.UUID | None,
    complimentary_reason: str | None = None,
) -> Booking:
    """Turn a paid hold into a booking, inside the caller's transaction (the hold is locked).

    Re-checks the hold (live, or its seats still free for a late payment), re-prices, checks the
    amounts, redeems the promo, creates the booking with its seats and passenger snapshots,
    completes the payments (debiting the wallet for a wallet payment not debited yet), books the
    seats, confirms the hold, issues the ticket, and writes the audit rows and the email. The
    seat broadcast runs after commit.

    :raise PaymentError: when the amounts do not match the price; HoldError when a late
        payment's seats were taken; PricingError when the promo code no longer applies.
    """
    details = CheckoutDetails.from_json(hold.checkout)
    late = not hold.is_live_at(now)
    seats = holds.reclaim_seats(hold, now) if late else holds.held_seats(hold.id)
    _require_details(seats, details)
    if hold.user_id is not None:
        wallet.lock_wallet(hold.user_id)  # serialises this customer's promo uses and debits
    quote = _quote(hold, seats, details, now, ZERO, use_wallet=False)
    if complimentary_reason:
        discount, tax, total = quote.fare_total, ZERO, ZERO
    else:
        discount, tax, total = quote.discount, quote.tax, quote.total
    paid = sum((p.amount for p in payments), ZERO)
    if paid != total:
        raise PaymentError(
            f"The payments ({money(paid)}) do not match the price ({money(total)}).",
            paid=paid,
            total=total,
        )
    if quote.promo_id and not complimentary_reason:
        pricing.redeem_promo(quote.promo_id)

    booking = Booking(
        id=uuid.uuid4(),
        reference=_new_reference(),
        reservation_id=hold.id,
        user_id=hold.user_id,
        sold_by_id=hold.sold_by_id,
        channel=hold.channel,
        schedule_id=hold.schedule_id,
        contact_name=details.contact_name.strip(),
        contact_phone=re.sub(r"[\s\-()+]", "", details.contact_phone),
        contact_email=(details.contact_email or None),
        base_amount=quote.fare_total,
        discount_amount=discount,
        tax_amount=tax,
        total_amount=total,
        promo_code_id=None if complimentary_reason else quote.promo_id,
        payment_status=BookingPaymentStatus.COMPLETED,
        confirmed_at=now,
        created_at=now,
        updated_at=now,
    )
    db.session.add(booking)
    db.session.flush()
    charges = quote.charge_by_seat() if total else {seat.id: ZERO for seat in seats}
    fares = {fare.seat_id: fare.fare for fare in quote.seats}
    passengers = {p.seat_number: p for p in details.passengers}
    for seat in seats:
        passenger = passengers[seat.seat_number]
        db.session.add(
            BookingSeat(
                booking_id=booking.id,
                seat_id=seat.id,
                seat_number=seat.seat_number,
                fare=fares[seat.id],
                charged=charges[seat.id],
                passenger_name=passenger.name.strip(),
                passenger_age=passenger.age,
                passenger_gender=passenger.gender,
                created_at=now,
                updated_at=now,
            )
        )
    for payment in payments:
        if payment.method == PaymentMethod.WALLET and wallet.debit_for_payment(payment.id) is None:
            wallet.debit(
                wallet.lock_wallet(hold.user_id),
                payment.amount,
                now=now,
                payment_id=payment.id,
                booking_id=booking.id,
                description=f"Booking {booking.reference}",
            )
        payment.status = PaymentStatus.COMPLETED
        payment.booking_id = booking.id
        payment.completed_at = now
        audit.record(
            "payment",
            payment.id,
            "payment.completed",
            actor_id=actor_id,
            at=now,
            booking=booking.reference,
            method=payment.method,
            amount=payment.amount,
        )
    seat_ids = [seat.id for seat in seats]
    booked = db.session.execute(
        update(Seat)
        .where(Seat.id.in_(seat_ids), Seat.status == SeatStatus.RESERVED)
        .values(status=SeatStatus.BOOKED, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if booked.rowcount != len(seat_ids):
        raise holds.StaleRead
    db.session.execute(
        update(Schedule)
        .where(Schedule.id == hold.schedule_id)
        .values(seat_version=Schedule.seat_version + 1)
        .execution_options(synchronize_session=False)
    )
    hold.status = HoldStatus.CONFIRMED
    hold.ended_at = now
    hold.end_reason = "paid late" if late else "paid"
    hold.total_amount = total
    tickets.issue_ticket(booking, now)
    audit.record(
        "booking",
        booking.id,
        "booking.confirmed",
        actor_id=actor_id,
        at=now,
        reference=booking.reference,
        hold_id=hold.id,
        seats=[s.seat_number for s in seats],
        total=total,
        late=late,
        complimentary=complimentary_reason,
    )
    schedule = db.session.get(Schedule, hold.schedule_id)
    notifications.queue(
        kind="booking_confirmed",
        to=booking.contact_email or _email_of(hold.user_id),
        context={"booking": booking, "schedule": schedule, "seats": seats},
        now=now,
        booking_id=booking.id,
        attach_ticket=True,
    )
    schedule_id, reference = hold.schedule_id, booking.reference
    on_commit(lambda: _after_booking(schedule_id, seat_ids, reference))
    return booking


def _after_booking(schedule_id, seat_ids, reference) -> None:
    """Broadcast the booked seats and log the booking (after commit)."""
    from booking import realtime

    realtime.seats_changed(schedule_id, seat_ids)
    audit.log_event(
        "booking.confirmed", booking=reference, schedule=schedule_id, seats=len(seat_ids)
    )


# ---- webhooks ------------------------------------------------------------------------------------


def receive_webhook(headers, body: bytes, now: datetime) -> WebhookOutcome:
    """Verify a gateway webhook and apply it once, however often it is delivered.

    :raise WebhookError: (400) for a bad signature, stale timestamp or malformed body;
        NotFound (404) for an unknown payment.
    """
    event = get_gateway().verify_webhook(headers, body, now)
    try:
        return holds.with_retries(lambda: _apply_event(event, now))
    except IntegrityError as error:
        if "event_id" not in str(error.orig):
            raise
        return WebhookOutcome("duplicate")  # the same event, applied a moment ago elsewhere


def _apply_event(event: WebhookEvent, now: datetime) -> WebhookOutcome:
    """Apply one verified event in one transaction, recording its id in the same transaction."""
    with unit_of_work() as session:
        payment = session.scalar(
            select(Payment)
            .where(Payment.gateway_reference == event.gateway_reference)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if payment is None:
            raise NotFound("Unknown payment.")
        if session.scalar(select(PaymentEvent.id).where(PaymentEvent.event_id == event.event_id)):
            return WebhookOutcome("duplicate", payment.id, payment.booking_id)
        record = PaymentEvent(
            event_id=event.event_id,
            payment_id=payment.id,
            event_type=event.event_type,
            outcome="pending",
            payload=event.payload,
            received_at=now,
            created_at=now,
            updated_at=now,
        )
        session.add(record)
        session.flush()
        if payment.purpose == PaymentPurpose.TOPUP:
            outcome = _apply_topup_event(payment, event, now)
        else:
            outcome = _apply_booking_event(session, payment, event, now)
        record.outcome = outcome.outcome
        audit.record(
            "payment",
            payment.id,
            f"webhook.{outcome.outcome}",
            actor_id=None,
            at=now,
            event_id=event.event_id,
            event_type=event.event_type,
            **outcome.notes,
        )
    audit.log_event(
        "payment.webhook", payment=payment.id, type=event.event_type, outcome=outcome.outcome
    )
    return outcome


def _apply_booking_event(session, payment: Payment, event: WebhookEvent, now) -> WebhookOutcome:
    """A gateway event about a payment for a hold."""
    if event.event_type == "refund.succeeded":
        return WebhookOutcome("noted", payment.id)
    if event.event_type in ("payment.failed", "payment.abandoned"):
        if payment.status != PaymentStatus.PENDING:
            return WebhookOutcome(
                "ignored", payment.id, payment.booking_id, {"status": payment.status.value}
            )
        reason = "declined" if event.event_type == "payment.failed" else "abandoned"
        _fail(payment, now, reason)
        return WebhookOutcome("failed", payment.id, notes={"reason": reason})
    # payment.succeeded
    if payment.status == PaymentStatus.COMPLETED:
        return WebhookOutcome("already_completed", payment.id, payment.booking_id)
    if payment.status == PaymentStatus.REFUNDED:
        return WebhookOutcome("already_refunded", payment.id)
    if payment.status != PaymentStatus.PENDING or event.amount != payment.amount:
        # Money arrived for a payment we no longer expect (it was given up, or the amount is
        # wrong): hand it straight back.
        why = "amount mismatch" if event.amount != payment.amount else "payment given up"
        _refund_captured(payment, now, why)
        if payment.paired_payment and payment.paired_payment.status == PaymentStatus.PENDING:
            _fail(payment.paired_payment, now, why)
        return WebhookOutcome("refunded", payment.id, notes={"reason": why})
    hold = _lock(session, payment.reservation_id)
    try:
        with session.begin_nested():
            parts = [payment]
            wallet_part = payment.paired_payment
            if wallet_part is not None and wallet_part.status == PaymentStatus.PENDING:
                parts.insert(0, wallet_part)
            elif wallet_part is not None:
                # The wallet part went back when the hold lapsed: take it again, if it is there.
                parts.insert(0, _new_payment(hold, PaymentMethod.WALLET, wallet_part.amount, now))
            booking = finalize_booking_payment(hold, parts, now=now, actor_id=None)
    except (HoldError, PricingError, PaymentError, wallet.WalletError) as refusal:
        _refund_late(hold, payment, now, refusal.message)
        return WebhookOutcome("refunded", payment.id, notes={"reason": refusal.message})
    late = hold.end_reason == "paid late"
    return WebhookOutcome("confirmed_late" if late else "confirmed", payment.id, booking.id)


def _apply_topup_event(payment: Payment, event: WebhookEvent, now) -> WebhookOutcome:
    """A gateway event about a wallet top-up."""
    if event.event_type == "refund.succeeded":
        return WebhookOutcome("noted", payment.id)
    if payment.status == PaymentStatus.FAILED and event.event_type == "payment.succeeded":
        # Money captured for a top-up that had already failed: hand it straight back.
        _refund_captured(payment, now, "top-up had already failed")
        return WebhookOutcome("refunded", payment.id, notes={"reason": "top-up had failed"})
    if payment.status != PaymentStatus.PENDING:
        return WebhookOutcome("ignored", payment.id, notes={"status": payment.status.value})
    if event.event_type != "payment.succeeded":
        payment.status = PaymentStatus.FAILED
        payment.failure_reason = event.event_type.split(".")[1]
        return WebhookOutcome("failed", payment.id)
    if event.amount != payment.amount:
        _refund_captured(payment, now, "amount mismatch")
        return WebhookOutcome("refunded", payment.id, notes={"reason": "amount mismatch"})
    purse = wallet.lock_wallet(payment.user_id)
    wallet.credit(
        purse, payment.amount, now=now, payment_id=payment.id, description="Wallet top-up"
    )
    payment.status = PaymentStatus.COMPLETED
    payment.completed_at = now
    return WebhookOutcome("credited", payment.id)


# ---- failures and refunds ------------------------------------------------------------------------


def release_stranded_wallet_parts(now: datetime) -> int:
    """Give back wallet parts still taken for gateway payments whose hold has lapsed or ended.

    Run by the sweep after it retires holds; each in its own small transaction. The gateway
    payment itself stays pending: if it succeeds late, the late-payment rule takes the wallet
    part again (or refunds everything). Returns how many wallet parts were given back.
    """
    stranded = db.session.scalars(
        select(Payment.id)
        .join(Reservation, Reservation.id == Payment.reservation_id)
        .where(
            Payment.method == PaymentMethod.WALLET,
            Payment.status == PaymentStatus.PENDING,
            or_(Reservation.status != HoldStatus.ACTIVE, Reservation.expires_at <= now),
        )
    ).all()
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
            _fail(part, now, "hold lapsed before the payment finished")
            released += 1
    return released


def _fail(payment: Payment, now: datetime, reason: str) -> None:
    """Mark a pending payment failed; a wallet part already debited goes back to the wallet."""
    payment.status = PaymentStatus.FAILED
    payment.failure_reason = reason[:200]
    payment.updated_at = now
    for part in (payment, payment.paired_payment):
        if part is None or part.method != PaymentMethod.WALLET:
            continue
        part.status = PaymentStatus.FAILED
        part.failure_reason = reason[:200]
        taken = wallet.debit_for_payment(part.id)
        if taken is not None and wallet.refunded_of(taken.id) < taken.amount:
            wallet.refund(
                wallet.lock_wallet(part.user_id),
                taken,
                taken.amount - wallet.refunded_of(taken.id),
                now=now,
                description=f"Payment {reason}: wallet part returned",
            )
    audit.record("payment", payment.id, "payment.failed", actor_id=None, at=now, reason=reason)


def _refund_captured(payment: Payment, now: datetime, reason: str) -> None:
    """Return in full money the gateway captured for a payment that will not be kept."""
    payment.status = PaymentStatus.REFUNDED
    payment.refunded_amount = payment.amount
    payment.failure_reason = reason[:200]
    reference, amount = payment.gateway_reference, payment.amount
    on_commit(lambda: _gateway_refund(reference, amount, reason))
    audit.record(
        "payment",
        payment.id,
        "payment.refunded",
        actor_id=None,
        at=now,
        amount=payment.amount,
        reason=reason,
    )


def _refund_late(hold: Reservation, payment: Payment, now: datetime, why: str) -> None:
    """A gateway success that cannot become a booking: refund everything, tell the customer."""
    _refund_captured(payment, now, f"late payment: {why}")
    if payment.paired_payment is not None:
        _fail(payment.paired_payment, now, "late payment refunded")
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
        to=_contact_email(hold),
        now=now,
        context={"total": total, "why": why},
    )


def _gateway_refund(reference: str | None, amount: Decimal, reason: str) -> None:
    """Ask the gateway to return money (after commit: a real gateway is a network call)."""
    if not reference:
        return
    try:
        refund_reference = get_gateway().refund(reference, amount, reason)
    except Exception:  # logged loudly for ops; the payment row already says refunded
        audit.log_event("gateway.refund_failed", reference=reference, amount=amount)
        return
    audit.log_event("gateway.refunded", reference=reference, refund=refund_reference, amount=amount)


# ---- reading ------------------------------------------------------------------------------------


def payment_progress(hold_id: uuid.UUID, customer_id: uuid.UUID) -> dict:
    """Where a customer's payment for a hold stands: booked, pending, failed or refunded."""
    hold = holds.get_hold(hold_id, customer_id)
    booking = db.session.scalar(select(Booking).where(Booking.reservation_id == hold.id))
    if booking is not None:
        return {"state": "booked", "booking": booking}
    latest = db.session.scalar(
        select(Payment)
        .where(Payment.reservation_id == hold.id, Payment.method != PaymentMethod.WALLET)
        .order_by(Payment.created_at.desc())
        .limit(1)
    )
    if latest is None:
        return {"state": "none"}
    return {"state": latest.status.value, "payment": latest, "reason": latest.failure_reason}


def topup_progress(payment_id: uuid.UUID, customer_id: uuid.UUID) -> Payment:
    """A customer's own top-up payment.

    :raise NotFound: for someone else's or an unknown payment.
    """
    payment = db.session.get(Payment, payment_id)
    if payment is None or payment.user_id != customer_id or payment.purpose != "topup":
        raise NotFound("We could not find that payment.")
    return payment


def gateway_payment(payment_id: uuid.UUID) -> Payment:
    """A payment the sandbox gateway page is about.

    :raise NotFound: for an unknown payment or one that is not a gateway payment.
    """
    payment = db.session.get(Payment, payment_id)
    if payment is None or payment.method not in GATEWAY_METHODS:
        raise NotFound("We could not find that payment.")
    return payment


# ---- helpers -------------------------------------------------------------------------------------


def _lock(session, hold_id: uuid.UUID) -> Reservation:
    """Lock a hold row and return it fresh."""
    hold = session.scalar(
        select(Reservation)
        .where(Reservation.id == hold_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if hold is None:
        raise NotFound("We could not find that hold.")
    return hold


def _locked_own_hold(session, hold_id: uuid.UUID, customer_id: uuid.UUID) -> Reservation:
    """Lock the customer's own hold.

    :raise NotFound: for an unknown hold or someone else's.
    """
    hold = _lock(session, hold_id)
    if hold.user_id != customer_id:
        raise NotFound("We could not find that hold.")
    return hold


def _require_live(hold: Reservation, now: datetime) -> None:
    """:raise HoldLapsed: or PaymentError when the hold cannot be paid for any more."""
    if hold.is_live_at(now):
        return
    if hold.status in (HoldStatus.ACTIVE, HoldStatus.EXPIRED):
        raise HoldLapsed(
            "Your hold ran out before payment. You can revive it if the seats are still free."
        )
    raise PaymentError("This hold has ended. Choose your seats again.")


def _quote(hold, seats, details: CheckoutDetails, now, balance: Decimal, use_wallet: bool):
    """The price of the hold's seats (one pricing function for every path)."""
    schedule = db.session.get(Schedule, hold.schedule_id)
    return pricing.quote(
        schedule,
        seats,
        now=now,
        promo_code=details.promo_code,
        customer_id=hold.user_id,
        wallet_balance=balance,
        use_wallet=use_wallet,
    )


def _new_payment(hold, method, amount, now, idempotency_key: str | None = None) -> Payment:
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


def _pending_payments(hold: Reservation) -> list[Payment]:
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


def _start_of(payment: Payment) -> GatewayStart:
    """The redirect for a started gateway payment."""
    wallet_part = payment.paired_payment.amount if payment.paired_payment else ZERO
    return GatewayStart(payment.id, payment.gateway_url, payment.amount, wallet_part)


def _booking_of(hold: Reservation) -> Booking:
    """The booking a confirmed hold became."""
    booking = db.session.scalar(select(Booking).where(Booking.reservation_id == hold.id))
    if booking is None:
        raise Conflict("This hold is confirmed but has no booking; please contact support.")
    return booking


def _new_reference() -> str:
    """A fresh booking reference: 10 upper-case letters and digits without look-alikes."""
    while True:
        reference = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(10))
        if db.session.scalar(select(Booking.id).where(Booking.reference == reference)) is None:
            return reference


def _trip_name(hold: Reservation) -> str:
    """'Bengaluru to Chennai, 12 Dec 21:30'."""
    schedule = db.session.get(Schedule, hold.schedule_id)
    return f"{schedule.route.name}, {local_time(schedule.departure_at, '%d %b %H:%M')}"


def _email_of(user_id: uuid.UUID | None) -> str | None:
    """A customer's account email."""
    return db.session.scalar(select(User.email).where(User.id == user_id)) if user_id else None


def _contact_email(hold: Reservation) -> str | None:
    """Where to write about a hold: the checkout email, else the account's."""
    given = (hold.checkout or {}).get("contact_email")
    return given or _email_of(hold.user_id)
