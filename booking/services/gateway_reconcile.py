"""One day's money at the gateway against the database (`flask payments reconcile --date D`):
every payment captured at the gateway belongs to one of our payments, of the same amount,
that made a booking (or a top-up, or was handed back); every refund at the gateway is one we
recorded, of the same amount and state; every payment we completed that day was captured."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from booking.extensions import db
from booking.gateway import GatewayError, get_gateway
from booking.gateway.razorpay import from_paise
from booking.models import Payment, Refund
from booking.models.enums import PaymentPurpose, PaymentStatus, RefundMethod, RefundStatus
from booking.services.catalog import local_day_bounds
from booking.services.errors import DomainError

MESSAGES = {
    "unsupported": "The {gateway} gateway cannot list its payments; nothing to reconcile.",
    "unreachable": "The gateway could not be asked: {why}",
}
# A payment captured on day D was started at most this long before D began.
LOOKBACK = timedelta(days=1)
GATEWAY_REFUND_STATES = {"processed": RefundStatus.PROCESSED, "failed": RefundStatus.FAILED}


class ReconcileError(DomainError):
    """The day cannot be reconciled (the gateway cannot be asked)."""

    status = 503


@dataclass(frozen=True)
class Difference:
    """One thing the gateway and the database disagree on, in words for the operator."""

    kind: str
    gateway_id: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.gateway_id}: {self.detail}"


def reconcile_day(day: date) -> list[Difference]:
    """Every difference between the gateway and the database on ``day`` (operator's time).

    :raise ReconcileError: when the gateway cannot list its payments or be reached.
    """
    gateway = get_gateway()
    if not hasattr(gateway, "captured_payments"):
        raise ReconcileError(MESSAGES["unsupported"].format(gateway=gateway.name))
    start, end = local_day_bounds(day)
    try:
        captured = gateway.captured_payments(start, end)
        refunded = gateway.refunds(start, end)
        ours = _our_payments_by_gateway_id(gateway, start - LOOKBACK, end)
    except GatewayError as error:
        raise ReconcileError(MESSAGES["unreachable"].format(why=error.message)) from error
    differences = _payment_differences(captured, ours)
    differences += _unseen_completions(ours, start, end)
    differences += _refund_differences(refunded)
    return differences


def _our_payments_by_gateway_id(gateway, since, end) -> dict[str, Payment]:
    """Our gateway payments started in [since, end), by the id of the payment captured for
    them at the gateway (asked of the gateway, link by link)."""
    rows = db.session.scalars(
        select(Payment)
        .where(
            Payment.gateway_reference.is_not(None),
            Payment.gateway_url.is_not(None),
            Payment.created_at >= since,
            Payment.created_at < end,
        )
        .order_by(Payment.created_at)
    ).all()
    found = {}
    for payment in rows:
        captured_id = gateway.payment_of_link(payment.gateway_reference)
        if captured_id:
            found[captured_id] = payment
    return found


def _payment_differences(captured: list[dict], ours: dict[str, Payment]) -> list[Difference]:
    """Each captured payment at the gateway against ours."""
    differences = []
    for item in captured:
        gateway_id = str(item.get("id"))
        amount = _amount(item.get("amount"))
        payment = ours.get(gateway_id)
        if payment is None:
            differences.append(
                Difference("missing booking", gateway_id, f"Rs {amount} captured, no payment here")
            )
            continue
        if amount != payment.amount:
            differences.append(
                Difference(
                    "amount mismatch",
                    gateway_id,
                    f"Rs {amount} captured, Rs {payment.amount} expected (payment {payment.id})",
                )
            )
        if payment.status == PaymentStatus.REFUNDED:
            continue  # handed back (a late payment whose seats were gone): its refund is listed
        settled = payment.status == PaymentStatus.COMPLETED and (
            payment.booking_id is not None or payment.purpose == PaymentPurpose.TOPUP
        )
        if not settled:
            differences.append(
                Difference(
                    "missing booking",
                    gateway_id,
                    f"captured, but payment {payment.id} is {payment.status.value} with no booking",
                )
            )
    return differences


def _unseen_completions(ours, start, end) -> list[Difference]:
    """Payments we completed in the day that have no payment captured at the gateway."""
    mapped = {payment.id for payment in ours.values()}
    completed = db.session.scalars(
        select(Payment).where(
            Payment.gateway_reference.is_not(None),
            Payment.gateway_url.is_not(None),
            Payment.completed_at >= start,
            Payment.completed_at < end,
        )
    ).all()
    differences = []
    for payment in completed:
        if payment.id not in mapped:
            differences.append(
                Difference(
                    "not captured at gateway",
                    payment.gateway_reference,
                    f"payment {payment.id} of Rs {payment.amount} is completed here",
                )
            )
    return differences


def _refund_differences(refunded: list[dict]) -> list[Difference]:
    """Each refund at the gateway against our refund rows."""
    differences = []
    for item in refunded:
        gateway_id = str(item.get("id"))
        amount = _amount(item.get("amount"))
        refund = db.session.scalar(
            select(Refund).where(
                Refund.method == RefundMethod.GATEWAY,
                Refund.gateway_refund_reference == gateway_id,
            )
        ) or _by_receipt(item.get("receipt"))
        if refund is None:
            differences.append(
                Difference("refund not recorded", gateway_id, f"Rs {amount} refunded at gateway")
            )
            continue
        if amount != refund.amount:
            differences.append(
                Difference(
                    "refund amount mismatch",
                    gateway_id,
                    f"Rs {amount} at gateway, Rs {refund.amount} here (refund {refund.id})",
                )
            )
        wanted = GATEWAY_REFUND_STATES.get(item.get("status"))
        if wanted is not None and refund.status != wanted:
            differences.append(
                Difference(
                    "refund state differs",
                    gateway_id,
                    f"{item.get('status')} at gateway, {refund.status.value} here "
                    f"(refund {refund.id})",
                )
            )
    return differences


def _by_receipt(receipt) -> Refund | None:
    """Our refund whose id was sent as the gateway refund's receipt."""
    try:
        refund_id = uuid.UUID(str(receipt))
    except ValueError:
        return None
    return db.session.get(Refund, refund_id)


def _amount(paise) -> Decimal:
    """A gateway amount in rupees (zero when it is not a positive number of paise)."""
    try:
        return from_paise(paise)
    except ValueError:
        return Decimal("0.00")
