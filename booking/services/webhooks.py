"""The gateway's word: signed webhooks, verified, applied once however often they are
delivered, safe out of order. A success books the hold through the one finalization (late
payments too, when the seats are still free) or is refunded in full; a failure gives the wallet
part back; a top-up credits the wallet."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from booking.database import unit_of_work, with_retries
from booking.gateway import (
    REFUND_EVENT_TYPES,
    WebhookError,
    WebhookEvent,
    WebhookIgnored,
    get_gateway,
)
from booking.models import Payment, PaymentEvent, Refund
from booking.models.enums import PaymentMethod, PaymentPurpose, PaymentStatus
from booking.services import audit, bookings, claims, refund_queue, refunds, wallet
from booking.services.claims import HoldError
from booking.services.details import PaymentError
from booking.services.errors import DomainError, NotFound
from booking.services.payments import new_payment
from booking.services.pricing import PricingError

MESSAGES = {
    "unknown_payment": "Unknown payment.",
    "unknown_refund": "Unknown refund.",
}


class WebhookRejected(DomainError):
    """A webhook call was refused: unsigned, badly signed, stale or not understood."""

    status = 400


@dataclass
class WebhookOutcome:
    """What a webhook did: applied, duplicate, ignored, refunded..."""

    outcome: str
    payment_id: uuid.UUID | None = None
    booking_id: uuid.UUID | None = None
    notes: dict = field(default_factory=dict)


def receive_webhook(headers, body: bytes, now: datetime) -> WebhookOutcome:
    """Verify a gateway webhook and apply it once, however often it is delivered.

    :raise WebhookRejected: (400) for a bad signature, stale timestamp or malformed body;
        NotFound (404) for an unknown payment.
    """
    try:
        event = get_gateway().verify_webhook(headers, body, now)
    except WebhookError as error:
        raise WebhookRejected(error.message) from error
    except WebhookIgnored as ignored:  # well signed, about nothing we act on: acknowledged
        audit.log_event("payment.webhook_ignored", reason=ignored.message)
        return WebhookOutcome("ignored", notes={"reason": ignored.message})
    return apply_verified(event, now)


def apply_verified(event: WebhookEvent, now: datetime) -> WebhookOutcome:
    """Apply a verified gateway event once (a webhook, or the gateway's answer when asked).

    :raise NotFound: for an event about no payment or refund of ours.
    """
    try:
        if event.event_type in REFUND_EVENT_TYPES:
            return with_retries(lambda: _apply_refund_event(event, now))
        return with_retries(lambda: _apply_event(event, now))
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
            raise NotFound(MESSAGES["unknown_payment"])
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
        # The gateway speaks for the customer who paid: what follows is recorded as theirs.
        with audit.acting_for(payment.user_id):
            if payment.purpose == PaymentPurpose.TOPUP:
                outcome = _apply_topup_event(payment, event, now)
            else:
                outcome = _apply_booking_event(session, payment, event, now)
            record.outcome = outcome.outcome
            audit.record(
                "payment",
                payment.id,
                f"webhook.{outcome.outcome}",
                actor_id=payment.user_id,
                at=now,
                event_id=event.event_id,
                event_type=event.event_type,
                **outcome.notes,
            )
    audit.log_event(
        "payment.webhook", payment=payment.id, type=event.event_type, outcome=outcome.outcome
    )
    return outcome


def _apply_refund_event(event: WebhookEvent, now: datetime) -> WebhookOutcome:
    """The gateway's word on one of our refunds (found by its reference, or by the receipt we
    sent, our refund id, should the webhook beat our record of the reference)."""
    with unit_of_work() as session:
        refund = _locked_refund(session, event)
        if refund is None:
            raise NotFound(MESSAGES["unknown_refund"])
        if session.scalar(select(PaymentEvent.id).where(PaymentEvent.event_id == event.event_id)):
            return WebhookOutcome("duplicate", refund.payment_id)
        record = PaymentEvent(
            event_id=event.event_id,
            payment_id=refund.payment_id,
            event_type=event.event_type,
            outcome="pending",
            payload=event.payload,
            received_at=now,
            created_at=now,
            updated_at=now,
        )
        session.add(record)
        session.flush()
        if event.amount != refund.amount:
            outcome = WebhookOutcome(
                "amount_mismatch", refund.payment_id, notes={"refund": str(refund.id)}
            )
        else:
            refund.gateway_refund_reference = event.gateway_reference
            processed = event.event_type == "refund.processed"
            said = "the gateway reported the refund failed"
            state = refund_queue.apply_gateway_answer(session, refund, processed, said, now)
            outcome = WebhookOutcome(
                f"refund_{state.value}", refund.payment_id, notes={"refund": str(refund.id)}
            )
        record.outcome = outcome.outcome
    audit.log_event(
        "payment.webhook", payment=refund.payment_id, type=event.event_type, outcome=outcome.outcome
    )
    return outcome


def _locked_refund(session, event: WebhookEvent) -> Refund | None:
    """The refund an event is about, locked and read fresh."""
    query = select(Refund).with_for_update().execution_options(populate_existing=True)
    refund = session.scalar(query.where(Refund.gateway_refund_reference == event.gateway_reference))
    if refund is not None:
        return refund
    receipt = ((event.payload.get("payload") or {}).get("refund") or {}).get("entity", {})
    try:
        refund_id = uuid.UUID(str(receipt.get("receipt")))
    except ValueError:
        return None
    return session.scalar(query.where(Refund.id == refund_id))


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
        refunds.fail_payment(payment, now, reason)
        return WebhookOutcome("failed", payment.id, notes={"reason": reason})
    # payment.succeeded
    if payment.status == PaymentStatus.COMPLETED:
        return WebhookOutcome("already_completed", payment.id, payment.booking_id)
    if payment.status == PaymentStatus.REFUNDED:
        return WebhookOutcome("already_refunded", payment.id)
    if payment.status != PaymentStatus.PENDING or event.amount != payment.amount:
        return _hand_back(session, payment, event, now)
    return _book(session, payment, now)


def _hand_back(session, payment: Payment, event: WebhookEvent, now) -> WebhookOutcome:
    """Money arrived for a payment we no longer expect (it was given up, or the amount is
    wrong): hand it straight back. A payment voided because its hold ended (dropped, released)
    goes back by the late-payment path: refunded in full, the customer told why."""
    if event.amount == payment.amount and payment.status == PaymentStatus.FAILED:
        hold = claims.lock_hold(session, payment.reservation_id)
        why = payment.failure_reason or "payment given up"
        refunds.refund_late(hold, payment, now, why)
        return WebhookOutcome("refunded", payment.id, notes={"reason": why})
    why = "amount mismatch" if event.amount != payment.amount else "payment given up"
    refunds.refund_captured(payment, now, why)
    if payment.paired_payment and payment.paired_payment.status == PaymentStatus.PENDING:
        refunds.fail_payment(payment.paired_payment, now, why)
    return WebhookOutcome("refunded", payment.id, notes={"reason": why})


def _book(session, payment: Payment, now) -> WebhookOutcome:
    """A success for a pending payment: the booking, or (a late payment whose seats are gone)
    a full refund."""
    hold = claims.lock_hold(session, payment.reservation_id)
    try:
        with session.begin_nested():
            parts = [payment]
            wallet_part = payment.paired_payment
            if wallet_part is not None and wallet_part.status == PaymentStatus.PENDING:
                parts.insert(0, wallet_part)
            elif wallet_part is not None:
                # The wallet part went back when the hold lapsed: take it again, if it is there.
                parts.insert(0, new_payment(hold, PaymentMethod.WALLET, wallet_part.amount, now))
            booking = bookings.confirm(hold, parts, now=now, actor_id=payment.user_id)
    except (HoldError, PricingError, PaymentError, wallet.WalletError) as refusal:
        refunds.refund_late(hold, payment, now, refusal.message)
        return WebhookOutcome("refunded", payment.id, notes={"reason": refusal.message})
    late = hold.end_reason == "paid late"
    return WebhookOutcome("confirmed_late" if late else "confirmed", payment.id, booking.id)


def _apply_topup_event(payment: Payment, event: WebhookEvent, now) -> WebhookOutcome:
    """A gateway event about a wallet top-up."""
    if event.event_type == "refund.succeeded":
        return WebhookOutcome("noted", payment.id)
    if payment.status == PaymentStatus.FAILED and event.event_type == "payment.succeeded":
        # Money captured for a top-up that had already failed: hand it straight back.
        refunds.refund_captured(payment, now, "top-up had already failed")
        return WebhookOutcome("refunded", payment.id, notes={"reason": "top-up had failed"})
    if payment.status != PaymentStatus.PENDING:
        return WebhookOutcome("ignored", payment.id, notes={"status": payment.status.value})
    if event.event_type != "payment.succeeded":
        payment.status = PaymentStatus.FAILED
        payment.failure_reason = event.event_type.split(".")[1]
        return WebhookOutcome("failed", payment.id)
    if event.amount != payment.amount:
        refunds.refund_captured(payment, now, "amount mismatch")
        return WebhookOutcome("refunded", payment.id, notes={"reason": "amount mismatch"})
    purse = wallet.lock_wallet(payment.user_id)
    wallet.credit(
        purse, payment.amount, now=now, payment_id=payment.id, description="Wallet top-up"
    )
    payment.status = PaymentStatus.COMPLETED
    payment.completed_at = now
    return WebhookOutcome("credited", payment.id)
