"""Asking the gateway instead of waiting for it: the customer's signed return from the gateway
(believed only once verified, and then only as "look again"), and settling a payment whose
webhook never came by the gateway's own answer (a task after the return, `flask payments
settle`), through the same one entry point as a webhook."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from booking.extensions import db
from booking.gateway import GatewayError, get_gateway
from booking.models import Payment
from booking.models.enums import GATEWAY_METHODS, PaymentStatus
from booking.services import audit, webhooks
from booking.services.errors import DomainError, NotFound

MESSAGES = {
    "bad_return": "We could not confirm this return from the payment gateway. If you paid, "
    "your booking appears under My bookings once the gateway confirms it.",
    "not_found": "We could not find that payment.",
    "no_lookup": "The {gateway} gateway cannot be asked about a payment.",
}


class ReturnRefused(DomainError):
    """The customer's return from the gateway is not signed by it, or names no payment of ours."""

    status = 400


@dataclass(frozen=True)
class Settled:
    """What asking the gateway about one payment gave: its outcome, or why nothing changed."""

    payment_id: uuid.UUID
    outcome: str


def verified_return(params: Mapping[str, str]) -> Payment:
    """The payment a customer's return from the gateway is about, once its signature checks
    out. It changes nothing: the booking is made by the webhook or by settling.

    :raise ReturnRefused: for an unsigned or forged return, or one about no payment of ours.
    """
    gateway = get_gateway()
    verify = getattr(gateway, "verify_callback", None)
    if verify is None:
        raise ReturnRefused(MESSAGES["bad_return"])
    try:
        returned = verify(params)
    except GatewayError as error:
        audit.log_event("payment.return_refused", reason=error.message)
        raise ReturnRefused(MESSAGES["bad_return"]) from error
    payment = db.session.get(Payment, returned.payment_id)
    if payment is None or payment.gateway_reference != returned.link_id:
        audit.log_event("payment.return_refused", reason="no such payment", link=returned.link_id)
        raise ReturnRefused(MESSAGES["bad_return"])
    audit.log_event("payment.returned", payment=payment.id, status=returned.link_status)
    return payment


def settle_payment(payment_id: uuid.UUID, now: datetime) -> Settled:
    """Ask the gateway where a pending payment stands and apply its answer once, as its webhook
    would have been (a later webhook is then a no-op, and the other way round).

    :raise NotFound: for an unknown payment; GatewayError when the gateway cannot be asked.
    """
    payment = db.session.get(Payment, payment_id)
    if payment is None:
        raise NotFound(MESSAGES["not_found"])
    reference, status = payment.gateway_reference, payment.status
    db.session.commit()  # end the read: the network call holds no transaction open
    if status != PaymentStatus.PENDING or not reference:
        return Settled(payment_id, f"already {status.value}")
    gateway = get_gateway()
    lookup = getattr(gateway, "settlement", None)
    if lookup is None:
        raise GatewayError(MESSAGES["no_lookup"].format(gateway=gateway.name))
    event = lookup(reference)
    if event is None:
        return Settled(payment_id, "still open at the gateway")
    outcome = webhooks.apply_verified(event, now)
    audit.log_event("payment.settled", payment=payment_id, outcome=outcome.outcome)
    return Settled(payment_id, outcome.outcome)


def settle_pending(now: datetime, older_than: timedelta) -> list[Settled]:
    """Settle every gateway payment still pending that was started before ``now - older_than``
    (`flask payments settle`); one the gateway cannot be asked about is reported, not fatal."""
    due = db.session.scalars(
        select(Payment.id)
        .where(
            Payment.status == PaymentStatus.PENDING,
            Payment.method.in_(GATEWAY_METHODS),
            Payment.gateway_reference.is_not(None),
            Payment.gateway_url.is_not(None),
            Payment.created_at <= now - older_than,
        )
        .order_by(Payment.created_at, Payment.id)
    ).all()
    db.session.commit()
    settled = []
    for payment_id in due:
        try:
            settled.append(settle_payment(payment_id, now))
        except (GatewayError, DomainError) as error:
            settled.append(Settled(payment_id, f"not settled: {error.message}"))
    return settled
